"""Tagging with no LLM, and the choice of which tagger answers.

:class:`EmbeddingTagger` is the offline tagger: a zero-shot head built from
each tag's name and instructions exactly as ``llmclf train`` builds classes
from descriptions, plus any feedback examples the tag set has collected. It
is cached per tag set *version*: a fingerprint of the embedder, the tags and
the feedback examples, so a changed tag or new feedback builds a new head.
Where only the feedback changed, the service answers from the set's previous
head while the new one is built (:meth:`EmbeddingTagger.previous`): with
20,000 feedback examples every ``/tag`` after a feedback waited 13-20 s
for its rebuild, and past the request budget got 503. Heads are kept in
memory (the 16 used last) and saved in the user cache dir (one per tag set
and embedder, the newest; at most MAX_STORED_HEADS), so a restarted service
answers from the head it saved (:meth:`EmbeddingTagger.stored`).

:func:`atag_texts` routes a batch: with no LLM every text goes to the
embedding tagger; with an LLM every text goes to it, unless ``cascade_below``
is set, in which case only the texts the embedding tagger is unsure of do.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .embedding import Embedder, get_embedder
from .errors import BundleError, BundleUnreadable, LLMError
from .examples import Example, Source
from .paths import mtime_ns, user_cache_dir
from .store import Tag
from .sync import run_sync
from .tagging import Tagger, TagResult, check_tags, check_texts

__all__ = ["BuildsBusy", "EmbeddingTagger", "atag_texts", "examples_digest", "tag_texts"]

_FORMAT = 2  # bump when the way the head is built changes: old cache entries are then ignored
_CACHE: OrderedDict[str, Any] = OrderedDict()
_CACHE_SIZE = 16
_LOCK = threading.Lock()
_BUILDS: dict[str, threading.Lock] = {}  # one build of a version at a time: a retry waits for the one under way
# Heads that async callers (the service) wait for are built here, one at a time and apart from every other thread
# pool: 40 new tag sets queued in the shared pool held up a set whose head was already built, and a build uses the
# cores it has. At most MAX_WAITING_BUILDS more wait their turn; past that a new set is told to come back.
MAX_WAITING_BUILDS = 4
_BUILD_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llmclf-tag-head")
_QUEUED: dict[str, Future] = {}  # by version: the build under way or waiting
_QUEUED_LINEAGES: dict[str, str] = {}  # the lineage of each version in _QUEUED
_NEWEST: dict[str, str] = {}  # by lineage (embedder and tags, not feedback): the version built last
_STORED_LOCK = threading.Lock()  # requests after a restart load a set's stored head once
# Heads kept in the user cache dir (tag-heads/<lineage>-<version>.model): a new version's head replaces its
# lineage's older one (a service taking feedback saved one more each time, without end), and past this many the heads
# used longest ago go.
MAX_STORED_HEADS = 32


def examples_digest(examples: Iterable[Example]) -> str:
    """What a head learns from ``examples``, as a hash: their (text, label) pairs, in no order, each once."""
    blob = json.dumps(sorted({(e.text, e.label) for e in examples}), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


class BuildsBusy(TimeoutError):
    """Too many tag sets' heads are being built already: ask again later."""


class EmbeddingTagger:
    """Zero-shot tags from the local embedder: every text gets a tag from the set, and a confidence.

    With ``multi``, a text gets its best tag and every other tag at least half as
    likely as the best one.
    """

    def __init__(
        self,
        tags: Sequence[Tag],
        *,
        embedder: Embedder | None = None,
        examples: Sequence[Example] = (),
        multi: bool = False,
        confidence: bool = True,
        digest: str | None = None,
    ) -> None:
        """``digest``: :func:`examples_digest` of ``examples``, where the caller keeps it (the service does, per
        feedback version); else it is computed here, which takes a quarter second at 100,000 examples."""
        self.tags = check_tags(tags)
        self.embedder = embedder or get_embedder()
        examples = list(examples)
        names = {t.name for t in self.tags}
        self.examples = [e for e in examples if e.label in names]
        self.multi, self.confidence = multi, confidence
        self.lineage = self._fingerprint(None)  # the same for every version of these tags' feedback
        self.version = self._fingerprint(digest or examples_digest(examples))

    def _fingerprint(self, digest: str | None) -> str:
        # the examples as given: those kept are the ones whose label is a tag's name, and the tags are here too
        blob = json.dumps(
            [_FORMAT, self.embedder.id, [(t.tag_id, t.name, t.instructions) for t in self.tags], digest],
            ensure_ascii=False,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def cached(self):
        """The head for this tag set version if it is in memory, else None; never builds."""
        with _LOCK:
            if self.version in _CACHE:
                _CACHE.move_to_end(self.version)
                return _CACHE[self.version]
        return None

    def previous(self):
        """The head built last for these same tags and embedder from other feedback, if it is in memory, else None:
        what to answer with while this version's head is built."""
        with _LOCK:
            version = _NEWEST.get(self.lineage)
            return _CACHE.get(version) if version != self.version else None

    def stored(self):
        """The head saved in the user cache dir for this version, or else the one saved last for these tags and
        embedder (a restarted service has neither in memory), loaded and kept in memory; None if there is none.
        Reads files: call it off the event loop."""
        with _STORED_LOCK:
            if (clf := self.cached() or self.previous()) is not None:  # another request loaded it meanwhile
                return clf
            mine = self._path()
            try:
                saved = list(mine.parent.glob(f"{self.lineage}-*.model"))
            except OSError:  # an unreadable cache dir: the head is built, as with none
                return None
            # its own first, then the newest
            for path in sorted(saved, key=lambda p: (p == mine, mtime_ns(p)), reverse=True):
                if (clf := _load_stored(path, self.embedder)) is not None:
                    _remember(self.lineage, path.stem.split("-", 1)[1], clf, newest=path == mine)
                    return clf
        return None

    def refresh(self) -> None:
        """Queue this version's build in the background, unless a build of these tags is queued or under way
        already (feedback that keeps coming builds one head at a time, each with all the feedback so far)."""
        with _LOCK:
            if any(lineage == self.lineage for lineage in _QUEUED_LINEAGES.values()):
                return
        with contextlib.suppress(BuildsBusy):  # other sets' builds fill the queue: a later request asks again
            self.queue_build()

    def queue_build(self) -> Future:
        """:meth:`classifier` on the builders' own thread; the one future of this version if it is queued already."""
        with _LOCK:
            queued = _QUEUED.get(self.version)
            if queued is not None:
                return queued
            if len(_QUEUED) > MAX_WAITING_BUILDS:
                raise BuildsBusy(f"{len(_QUEUED)} tag sets' heads are being built; retry later")
            queued = _QUEUED[self.version] = _BUILD_POOL.submit(self.classifier)
            _QUEUED_LINEAGES[self.version] = self.lineage
        queued.add_done_callback(lambda _: self._unqueue(queued))
        return queued

    def _unqueue(self, done: Future) -> None:
        with _LOCK:
            if _QUEUED.get(self.version) is done:
                del _QUEUED[self.version]
                _QUEUED_LINEAGES.pop(self.version, None)

    def classifier(self):
        """The head for this tag set version: from memory, the user cache dir, or built now."""
        clf = self.cached()
        if clf is not None:
            return clf
        with _LOCK:
            building = _BUILDS.setdefault(self.version, threading.Lock())
        with building:  # a client that gave up and asked again started a second build of hundreds of tags
            try:
                with _LOCK:
                    if self.version in _CACHE:  # built while this one waited
                        return _CACHE[self.version]
                clf = self._load_or_build()
                _remember(self.lineage, self.version, clf, newest=True)
                return clf
            finally:
                with _LOCK:
                    if _BUILDS.get(self.version) is building:
                        del _BUILDS[self.version]

    def _path(self) -> Path:
        return user_cache_dir() / "tag-heads" / f"{self.lineage}-{self.version}.model"

    def _load_or_build(self):
        from .classifier import Classifier

        path = self._path()
        clf = _load_stored(path, self.embedder) if path.is_file() else None
        if clf is None:
            clf = Classifier(self.embedder)
            clf.add_examples(Example(e.text, e.label, Source.FEEDBACK, dict(e.meta)) for e in self.examples)
            clf.prompt_train({t.name: t.instructions or None for t in self.tags})
            if os.path.lexists(path) and not path.is_file():  # a FIFO there would take the save as a stream
                with contextlib.suppress(OSError):
                    path.unlink()
            try:
                clf.save(path)
            except BundleError:  # an unwritable cache costs time, never the answer
                return clf
            _prune(path, self.lineage)
        return clf

    def tag(self, texts: Sequence[str]) -> list[TagResult]:
        texts = check_texts(texts)
        if len(self.tags) == 1:
            return self.results(texts, [])
        return self.results(texts, self.classifier().classify(texts))

    def results(self, texts: Sequence[str], predictions: Sequence[Any]) -> list[TagResult]:
        """TagResults from the head's predictions (``Classifier.classify`` output, in text order)."""
        if len(self.tags) == 1:
            only = self.tags[0]
            return [TagResult(t, tags=[self._entry(only, 1.0)], source="embedding") for t in texts]
        by_name = {t.name: t for t in self.tags}
        out = []
        for text, p in zip(texts, predictions, strict=True):
            ranked = list(p.probabilities.items())  # highest first
            best = ranked[0][1]
            keep = [ranked[0]] + [(n, q) for n, q in ranked[1:] if self.multi and q >= best / 2]
            out.append(TagResult(text, tags=[self._entry(by_name[n], q) for n, q in keep], source="embedding"))
        return out

    def _entry(self, tag: Tag, p: float) -> dict[str, Any]:
        entry: dict[str, Any] = {"tag_id": tag.tag_id, "name": tag.name}
        if self.confidence:
            entry["confidence"] = round(p, 6)
        return entry


async def atag_texts(
    texts: Sequence[str],
    tags: Sequence[Tag],
    *,
    llm=None,
    cascade_below: float | None = None,
    multi: bool = False,
    confidence: bool = False,
    embedder: Embedder | None = None,
    examples: Sequence[Example] = (),
    digest: str | None = None,
    few_shot: Any = None,
    max_retries: int = 2,
    concurrency: int = 8,
    infer: Any = None,
    on_result: Any = None,
    build_timeout: float | None = None,
    llm_down: LLMError | None = None,
) -> list[TagResult]:
    """Tag ``texts`` with the tagger the settings call for; results in input order.

    ``llm`` None: the embedding tagger answers every text. ``llm`` set: the LLM
    answers every text, or with ``cascade_below`` only those whose best
    embedding tag is below that probability; where the LLM then fails, the
    embedding tag stands and the record carries ``llm_error``. ``infer``, an async
    ``(classifier, texts) -> predictions``, runs the embedding head (the service passes its
    fair batcher); without it the head runs in a worker thread. ``build_timeout`` bounds the wait
    for a tag set's head to be built (hundreds of tags take a minute): past it ``TimeoutError`` is
    raised, and the build goes on, so that asking again finds the head ready; with that many builds under way or
    waiting already, :class:`BuildsBusy` (a ``TimeoutError``) is raised at once. ``llm_down``: the
    endpoint stopped answering earlier in this run, so no text is sent to it; each gets this error. ``digest``:
    :func:`examples_digest` of ``examples``, if the caller keeps it.
    """
    import asyncio

    texts = check_texts(texts)
    given = _given_ids(tags)
    tags = check_tags(tags)

    def llm_tagger() -> Tagger:
        return Tagger(
            llm, tags, multi=multi, confidence=confidence, max_retries=max_retries, concurrency=concurrency,
            few_shot=few_shot, on_result=on_result, down=llm_down,
        )  # fmt: skip

    if llm is not None and cascade_below is None:
        return _as_given(await llm_tagger().atag(texts), given)
    # off the event loop: naming the head hashes every feedback example of the set (100,000: half a second)
    offline = await asyncio.to_thread(
        EmbeddingTagger, tags, embedder=embedder, examples=examples, multi=multi, confidence=True, digest=digest
    )
    pending = False  # the answer comes from a head without the newest feedback
    if infer is not None and len(tags) > 1:
        clf = offline.cached()
        if clf is None:  # a head saved before (a restart), or one with older feedback: answer now, build behind
            clf = offline.previous() or await asyncio.to_thread(offline.stored)
            if clf is not None and offline.cached() is None:
                offline.refresh()
                pending = True
        if clf is None:
            building = asyncio.wrap_future(offline.queue_build())  # BuildsBusy when too many wait already
            try:
                clf = await asyncio.wait_for(asyncio.shield(building), build_timeout)
            except asyncio.TimeoutError:  # before Python 3.11 not the builtin one, which the service answers with 503
                raise TimeoutError(f"the tag set's head is still being built after {build_timeout:g} s") from None
        results = offline.results(texts, await infer(clf, list(texts)))
        for r in results:
            r.feedback_pending = pending
    else:
        results = await asyncio.to_thread(offline.tag, texts)
    if llm is not None:
        unsure = [i for i, r in enumerate(results) if r.best["confidence"] < cascade_below]
        if unsure:
            answers = await llm_tagger().atag([texts[i] for i in unsure])
            for i, answer in zip(unsure, answers, strict=True):
                if answer.ok:
                    results[i] = answer
                else:
                    results[i].llm_error = answer.error
                    results[i].public_error = answer.public_error
    if not confidence:
        for r in results:
            if r.source == "embedding":
                for t in r.tags:
                    t.pop("confidence", None)
    return _as_given(results, given)


def _remember(lineage: str, version: str, clf: Any, *, newest: bool) -> None:
    """Keep ``clf`` in memory as ``version``'s head, the ``newest`` of its lineage (else only if none is)."""
    with _LOCK:
        _CACHE[version] = clf
        if newest or lineage not in _NEWEST:
            _NEWEST[lineage] = version
        while len(_CACHE) > _CACHE_SIZE:
            gone, _ = _CACHE.popitem(last=False)
            for old in [k for k, v in _NEWEST.items() if v == gone]:
                del _NEWEST[old]


def _load_stored(path: Path, embedder: Embedder):
    """The head saved at ``path``, else None: a damaged one is removed (save will not replace what is no bundle),
    and one that another process removed meanwhile is simply not there."""
    from .classifier import Classifier

    try:
        clf = Classifier.load(path, embedder=embedder)
    except (BundleUnreadable, OSError):  # it may be sound: no file descriptor was free (a service at its limit)
        return None
    except BundleError:
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    with contextlib.suppress(OSError):
        path.touch()  # used now: among the last to be pruned
    return clf


def _prune(kept: Path, lineage: str) -> None:
    """Remove the stored heads of ``lineage``'s other versions, then those used longest ago past MAX_STORED_HEADS."""
    try:
        others = sorted((p for p in kept.parent.glob("*.model") if p != kept), key=mtime_ns, reverse=True)
    except OSError:
        return
    gone = [p for p in others if p.name.startswith(f"{lineage}-")]
    rest = [p for p in others if p not in gone]
    for path in gone + rest[MAX_STORED_HEADS - 1 :]:
        with contextlib.suppress(OSError):
            path.unlink()


def _given_ids(tags: Sequence[Any]) -> dict[str, Any]:
    """The ids that are not text (the tutorial's ``{"id": 1, ...}``), by their text form: answers carry them back
    in the type they came in, as the service's do (the library answered "1" to tags given as 1)."""
    ids = (t.get("tag_id", t.get("id")) if isinstance(t, Mapping) else getattr(t, "tag_id", None) for t in tags or ())
    return {str(i): i for i in ids if i is not None and not isinstance(i, str)}


def _as_given(results: list[TagResult], given: dict[str, Any]) -> list[TagResult]:
    for r in results if given else ():
        for t in r.tags or ():
            t["tag_id"] = given.get(t["tag_id"], t["tag_id"])
    return results


def tag_texts(texts: Sequence[str], tags: Sequence[Tag], *, llm_config=None, **options: Any) -> list[TagResult]:
    """:func:`atag_texts` from synchronous code; ``llm_config`` (an LLMConfig) opens and closes the client."""

    async def run() -> list[TagResult]:
        if llm_config is None:
            return await atag_texts(texts, tags, **options)
        from .llm.client import OpenAICompatibleLLM

        client = OpenAICompatibleLLM(llm_config)
        try:
            return await atag_texts(texts, tags, llm=client, **options)
        finally:
            await client.aclose()

    return run_sync(run)
