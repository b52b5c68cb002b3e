"""Feedback datasets kept in memory between requests, read again only when their feedback changed.

The service used to read a tag set's whole feedback dataset from SQLite on every ``/tag`` request, hash it to
name the set's head, and (with an LLM and few-shot on) read every example's vector back too: with 100,000
feedback examples that was about 2 s of work a request, half of it holding the one database connection that
logging and ``/feedback`` wait for. :class:`FeedbackCache` keeps each target's dataset, its digest and its
few-shot lookup, and asks the database only for the target's feedback version
(:meth:`~llmclf.feedback.RunLog.dataset_version`, kept by triggers, so feedback another process writes counts too).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from .embedding import Embedder
from .embedding_tagger import examples_digest
from .examples import Example
from .feedback import FewShot, RunLog, few_shot_for

__all__ = ["MAX_EXAMPLES", "MAX_TARGETS", "FeedbackCache", "FeedbackDataset"]


@dataclass
class FeedbackDataset:
    """One target's feedback examples at one version, with their :func:`~llmclf.embedding_tagger.examples_digest`."""

    version: int
    examples: tuple[Example, ...]
    digest: str
    few_shots: dict[tuple[str, int], FewShot | None] = field(default_factory=dict)  # by (embedder id, k)
    earlier: dict[tuple[str, int], FewShot] = field(default_factory=dict)  # an older version's, for its vectors


MAX_TARGETS = 16
# ~2 KB an example with its few-shot vector: about 0.8 GB at most; the newest target stays whatever its size
MAX_EXAMPLES = 400_000


class FeedbackCache:
    """The feedback dataset and few-shot lookup of the ``size`` targets used last (fewer where together they hold
    more than ``max_examples`` examples), each as of its latest feedback.

    Safe to share between threads; requests for one target wait for one read of it rather than each reading.
    """

    def __init__(self, runs: RunLog, size: int = MAX_TARGETS, max_examples: int = MAX_EXAMPLES) -> None:
        self.runs, self.size, self.max_examples = runs, size, max_examples
        self._entries: OrderedDict[str, FeedbackDataset] = OrderedDict()
        self._locks: dict[tuple, threading.Lock] = {}  # (target,) for its reads, (target, key) for a few-shot
        self._lock = threading.Lock()

    def _one_at_a_time(self, *key: object) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(key, threading.Lock())

    def dataset(self, target: str) -> FeedbackDataset:
        """The target's feedback dataset, read from the database only if its feedback changed since last time."""
        with self._one_at_a_time(target):
            version = self.runs.dataset_version(target)  # first: a change made during the read is a new version
            with self._lock:
                entry = self._entries.get(target)
            if entry is not None and entry.version == version:
                fresh = entry
            else:
                examples = tuple(self.runs.dataset(target))
                fresh = FeedbackDataset(version, examples, examples_digest(examples))
                if entry is not None:  # the vectors of texts an older version had serve again
                    fresh.earlier = {**entry.earlier, **{k: v for k, v in entry.few_shots.items() if v is not None}}
            with self._lock:
                self._entries[target] = fresh
                self._entries.move_to_end(target)
                while len(self._entries) > 1 and (len(self._entries) > self.size or self._held() > self.max_examples):
                    dropped, _ = self._entries.popitem(last=False)
                    for key in [key for key in self._locks if key[0] == dropped]:
                        del self._locks[key]
        return fresh

    def _held(self) -> int:
        return sum(len(entry.examples) for entry in self._entries.values())

    def few_shot(
        self, target: str, embedder: Embedder, k: int, dataset: FeedbackDataset | None = None
    ) -> FewShot | None:
        """The k-most-similar lookup over the target's feedback examples (None without any); only texts that no
        earlier version had are looked up in the database or embedded. ``dataset``: the one :meth:`dataset` just
        gave, so its version is not asked for twice."""
        entry = dataset if dataset is not None else self.dataset(target)
        key = (embedder.id, k)
        with self._one_at_a_time(target, key):  # not the reads' lock: embedding new texts takes a while
            if key not in entry.few_shots:
                known = entry.earlier.pop(key, None)
                entry.few_shots[key] = few_shot_for(self.runs.store, target, embedder, k, list(entry.examples), known)
            return entry.few_shots[key]
