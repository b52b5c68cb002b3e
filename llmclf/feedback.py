"""Learning from feedback: run ids, feedback, the dataset it makes, and similar-example few-shot.

Every logged prediction gets a UUIDv7 run id. Feedback on a run is a score
(1 right, 0 wrong) and/or a correction. The dataset follows two rules:

* a run with a correction becomes an example with the corrected label;
* otherwise, a run with score 1 becomes an example with its predicted label.

A correction always wins over a score. Sending feedback again replaces the
earlier value of the same kind (score or correction), and says so.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from .blank import is_blank
from .embedding import Embedder
from .errors import DataWarning, InputError, StoreError
from .examples import Example, Source
from .inputs import name_form, whole_number
from .store import Store

__all__ = [
    "FeedbackOutcome",
    "FewShot",
    "RunLog",
    "logging_enabled",
    "model_target",
    "set_logging",
    "set_target",
    "uuid7",
]


def _logs_off_flag():
    from .paths import user_data_dir

    return user_data_dir() / "logs-off"


def logging_enabled() -> bool:
    """Whether predictions are logged by default (``llmclf logs off`` turns it off, as in ``llm``)."""
    return not _logs_off_flag().exists()


def set_logging(on: bool) -> None:
    flag = _logs_off_flag()
    try:
        if on:
            flag.unlink(missing_ok=True)
        else:
            flag.parent.mkdir(parents=True, exist_ok=True)
            flag.touch()
    except OSError as exc:
        raise StoreError(f"cannot turn logging {'on' if on else 'off'}: {flag}: {exc.strerror or exc}") from None


RUN_ID_CHARS = 36  # a UUID's text form, as every run id is written


_clock = threading.Lock()
_last = (0, 0)  # (milliseconds, counter) of the newest id this process made


def uuid7() -> str:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, a 12-bit counter, then random bits; sorts by time.

    The counter (RFC 9562's method 1) keeps the ids of one process in the order they were made, within a
    millisecond too: with random bits there, the runs of one `classify a b c` sorted at random, so `logs list`
    and the feedback dataset ("oldest run first") shuffled them. It starts at a random value below 2,048 each
    millisecond; past 4,095 the millisecond moves on, as the RFC allows.
    """
    global _last
    with _clock:
        ms = max(time.time_ns() // 1_000_000, _last[0])
        if ms == _last[0]:
            counter = _last[1] + 1
            if counter > 0xFFF:
                ms, counter = ms + 1, secrets.randbits(11)
        else:
            counter = secrets.randbits(11)
        _last = (ms, counter)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0x2 << 62 | secrets.randbits(62)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def model_target(model_id: str) -> str:
    return f"model:{model_id}"


def set_target(name: str) -> str:
    return f"set:{name}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class FeedbackOutcome:
    run_id: str
    replaced: list[str]  # which earlier values this feedback replaced: "score", "correction"
    label: str | list[str] | None  # the label (the labels, for a multi-label tag run) the run now adds, if any


class RunLog:
    """Runs and feedback in the :class:`~llmclf.store.Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def log(
        self,
        kind: str,
        target: str,
        source: str,
        labels: Sequence[str],
        records: Sequence[tuple[str, Any, dict[str, float] | None]],
    ) -> list[str]:
        """Log (text, prediction, probabilities) records in one transaction; returns their run ids.

        A row keeps what feedback needs: the text, the prediction and the top
        :data:`KEPT_PROBABILITIES` probabilities; the label list is stored once
        per distinct set of labels and referenced.
        """
        ids = [uuid7() for _ in records]
        now = _now()
        allowed = json.dumps(list(labels), ensure_ascii=False)
        with self.store.transaction() as db:
            db.execute("INSERT OR IGNORE INTO label_sets (labels) VALUES (?)", (allowed,))
            (label_set,) = db.execute("SELECT id FROM label_sets WHERE labels = ?", (allowed,)).fetchone()
            db.executemany(
                "INSERT INTO runs (run_id, created_at, kind, target, source, text, prediction, probabilities, labels,"
                " label_set) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?)",
                [
                    (rid, now, kind, target, source, text, json.dumps(pred, ensure_ascii=False), _top(probs), label_set)
                    for rid, (text, pred, probs) in zip(ids, records, strict=True)
                ],
            )
        return ids

    def log_tags(self, set_name: str, names: Sequence[str], results: Sequence[Any], multi: bool) -> None:
        """Give every :class:`~llmclf.tagging.TagResult`, error records too, a logged run id."""
        records = []
        for r in results:
            chosen = [t["name"] for t in r.tags] if r.ok else []
            # an error record of a multi-label run is [], not None: it still takes a list of corrections
            prediction = chosen if multi else (chosen[0] if chosen else None)
            confidences = {t["name"]: t["confidence"] for t in r.tags if "confidence" in t} if r.ok else None
            records.append((r.text, prediction, confidences or None))
        for r, run_id in zip(results, self.log("tag", set_target(set_name), set_name, names, records), strict=True):
            r.run_id = run_id

    def run(self, run_id: str) -> dict[str, Any]:
        run_id = _as_written(run_id)
        rows = self.store.read(
            "SELECT r.run_id, r.created_at, r.kind, r.target, r.source, r.text, r.prediction, r.probabilities,"
            " COALESCE(l.labels, r.labels) FROM runs r LEFT JOIN label_sets l ON l.id = r.label_set"
            " WHERE r.run_id = ?",
            (run_id,),
        )
        if not rows:
            whole = (
                "" if len(run_id) >= RUN_ID_CHARS else f" (a run id has {RUN_ID_CHARS} characters: `llmclf logs list`)"
            )
            raise InputError(f"unknown run id {run_id!r}{whole}")
        keys = ("run_id", "created_at", "kind", "target", "source", "text", "prediction", "probabilities", "labels")
        run = dict(zip(keys, rows[0], strict=True))
        try:
            for key in ("prediction", "probabilities", "labels"):
                run[key] = _json_column(run[key])
            if not isinstance(run["labels"], list) or not all(isinstance(x, str) for x in run["labels"]):
                raise ValueError("labels")
        except (ValueError, RecursionError):
            raise StoreError(f"database {self.store.path}: run {run_id} is malformed ({key} column)") from None
        return run

    def record(
        self, run_id: str, score: int | None = None, correction: str | Sequence[str] | None = None
    ) -> FeedbackOutcome:
        """Store a score (1 right, 0 wrong) and/or a correction for a run. A multi-label tag run takes a list of
        labels as its correction (every tag that applies); any other run takes one."""
        if score is None and correction is None:
            raise InputError("give a score (1 or 0) or a correction")
        if score is not None and score not in (0, 1):
            raise InputError(f"score must be 1 or 0, not {score!r}")
        run = self.run(run_id)
        run_id = run["run_id"]
        if score == 1 and correction is None and run["prediction"] in (None, []):
            raise InputError(
                f"run {run_id} has no prediction to call right (an error record, or one below the threshold): "
                "give a correction"
            )
        if correction is not None:
            correction = _check_correction(self._names_of_ids(correction, run), run)
        if score == 1 and correction is not None and not _agrees(run["prediction"], correction):
            raise InputError(
                f"a score of 1 says run {run_id} predicted right ({_shown(run['prediction'])}), and the correction "
                f"says it should have been {_shown(_corrections(correction))}: give one of them"
            )
        with self.store.transaction() as db:  # read-modify-write on the one writer path
            old = db.execute("SELECT score, correction FROM feedback WHERE run_id = ?", (run_id,)).fetchone()
            replaced = []
            if old is not None:
                replaced = [
                    k
                    for k, new, was in (("score", score, old[0]), ("correction", correction, old[1]))
                    if new is not None and was is not None
                ]
                score = score if score is not None else old[0]
                correction = correction if correction is not None else old[1]
            db.execute(
                "INSERT INTO feedback (run_id, score, correction, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (run_id) DO UPDATE SET score = excluded.score, correction = excluded.correction,"
                " updated_at = excluded.updated_at",
                (run_id, score, correction, _now()),
            )
        return FeedbackOutcome(run_id, replaced, _label(run["prediction"], score, correction))

    def _names_of_ids(self, correction: Any, run: dict[str, Any]) -> Any:
        """A tag run's correction given by tag id ("1" for phone: `tag` and the service answer with ids) as the
        tag's name, which runs store; a label that is a name of the run stays itself."""
        if run["kind"] != "tag":
            return correction
        names = {t.tag_id: t.name for t in self.store.tags(run["source"]) if t.name in run["labels"]}

        def name(label: Any) -> Any:
            known = isinstance(label, str) and label.strip() not in run["labels"]
            return names.get(label.strip(), label) if known else label

        return [name(c) for c in correction] if isinstance(correction, list | tuple) else name(correction)

    def dataset(self, target: str) -> list[Example]:
        """The examples feedback has made for a model or tag set, oldest run first."""
        rows = self.store.read(
            "SELECT r.run_id, r.text, r.prediction, f.score, f.correction, f.updated_at"
            " FROM runs r JOIN feedback f USING (run_id) WHERE r.target = ? ORDER BY r.run_id",
            (target,),
        )
        out, malformed = [], []
        for run_id, text, prediction, score, correction, updated in rows:
            try:
                label = _label(_json_column(prediction), score, correction)
            except (ValueError, RecursionError):
                label = _label(_MALFORMED, score, correction)  # a correction needs no prediction
            labels = label if isinstance(label, list) else [label] if label else []
            if not isinstance(text, str) or not all(isinstance(lab, str) for lab in labels):
                malformed.append(run_id)
                continue
            out.extend(
                Example(text, lab, Source.FEEDBACK, {"run_id": run_id, "feedback_at": updated}) for lab in labels
            )
        if malformed:
            warnings.warn(
                f"database {self.store.path}: {len(malformed)} malformed run(s) with feedback skipped"
                f" (first: {malformed[0]})",
                DataWarning,
                stacklevel=2,
            )
        return out

    def dataset_version(self, target: str) -> int:
        """A number that changes whenever the feedback of a model or tag set does (0: none yet); any process's
        change counts, through the database's own triggers."""
        rows = self.store.read("SELECT version FROM feedback_versions WHERE target = ?", (target,))
        return rows[0][0] if rows else 0

    def texts(self, target: str, limit: int = 100_000) -> list[str]:
        """The distinct texts logged for a model or tag set, newest first, at most ``limit``."""
        rows = self.store.read(
            "SELECT text FROM runs WHERE target = ? GROUP BY text ORDER BY MAX(run_id) DESC LIMIT ?",
            (target, _sql_limit(limit, "limit")),
        )
        return [text for (text,) in rows if isinstance(text, str)]

    def count(self) -> int:
        return self.store.read("SELECT COUNT(*) FROM feedback")[0][0]

    def recent(self, n: int = 20, target: str | None = None) -> list[dict[str, Any]]:
        """The ``n`` newest runs, newest first, with their feedback if any."""
        where, params = ("WHERE r.target = ?", (target,)) if target else ("", ())
        rows = self.store.read(
            "SELECT r.run_id, r.created_at, r.kind, r.target, r.source, r.text, r.prediction, r.probabilities,"
            f" f.score, f.correction FROM runs r LEFT JOIN feedback f USING (run_id) {where}"
            " ORDER BY r.run_id DESC LIMIT ?",
            (*params, _sql_limit(n, "n")),
        )
        keys = (
            "run_id",
            "created_at",
            "kind",
            "target",
            "source",
            "text",
            "prediction",
            "probabilities",
            "score",
            "correction",
        )
        out = []
        for row in rows:
            run = dict(zip(keys, row, strict=True))
            for key in ("prediction", "probabilities"):
                try:
                    run[key] = _json_column(run[key])
                except (ValueError, RecursionError):
                    run[key] = None  # a malformed row is listed, without what cannot be read
            if not isinstance(run["text"], str):
                run["text"] = None
            run["correction"] = _corrections(run["correction"])
            out.append(run)
        return out

    def status(self) -> dict[str, Any]:
        runs, oldest, newest = self.store.read("SELECT COUNT(*), MIN(created_at), MAX(created_at) FROM runs")[0]
        size = sum(p.stat().st_size for p in self.store.path.parent.glob(self.store.path.name + "*") if p.is_file())
        return {
            "path": str(self.store.path),
            "logging": logging_enabled(),
            "runs": runs,
            "feedback": self.count(),
            "oldest": oldest,
            "newest": newest,
            "bytes": size,
        }

    def prune(self, before: datetime, keep_feedback: bool = True) -> int:
        """Delete runs logged before ``before``; runs with feedback stay unless ``keep_feedback`` is False.

        Runs with feedback are the feedback dataset: pruning them changes what ``retrain`` learns.
        """
        cutoff = before.astimezone(timezone.utc).isoformat(timespec="milliseconds")
        keep = " AND run_id NOT IN (SELECT run_id FROM feedback)" if keep_feedback else ""
        with self.store.transaction() as db:
            if not keep_feedback:
                db.execute(
                    "DELETE FROM feedback WHERE run_id IN (SELECT run_id FROM runs WHERE created_at < ?)", (cutoff,)
                )
            removed = db.execute(f"DELETE FROM runs WHERE created_at < ?{keep}", (cutoff,)).rowcount
        return removed


KEPT_PROBABILITIES = 5  # per logged run: enough to review a prediction, ~100 bytes instead of one per class


def _top(probabilities: dict[str, float] | None) -> str | None:
    if probabilities is None:
        return None
    top = sorted(probabilities.items(), key=lambda kv: -kv[1])[:KEPT_PROBABILITIES]
    return json.dumps(dict(top), ensure_ascii=False, allow_nan=False)


_MALFORMED = object()  # a column that could not be read: no label can come of it


def _json_column(raw: Any) -> Any:
    """A JSON column as llmclf writes it (text, or NULL); ValueError for anything else in the file."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ValueError(f"not JSON text: {type(raw).__name__}")
    return json.loads(raw)


def _sql_limit(n: object, name: str) -> int:
    """A row count for SQLite's LIMIT: a whole number from 0, at most SQLite's largest integer (a bigger one was an
    OverflowError, an internal error to `logs list -n 99999999999999999999`; a negative one means no limit there)."""
    return min(whole_number(n, name), 2**63 - 1)


def _check_correction(correction: str | Sequence[str], run: dict[str, Any]) -> str:
    """The correction as stored: one label, or a multi-label run's labels one a line (a label is one line)."""
    labels = [correction] if isinstance(correction, str) else list(correction)
    if not labels or not all(isinstance(label, str) for label in labels):
        raise InputError(f"a correction is a label or a list of labels, not {correction!r}")
    # the run's own spelling of each: "café" composed or decomposed (e + U+0301) is one label
    spelled = {name_form(label): label for label in run["labels"]}
    labels = [spelled.get(name_form(label.strip()), label.strip()) for label in labels]
    labels = list(dict.fromkeys(labels))  # in order, each once
    known = ", ".join(run["labels"])
    if any(is_blank(label) for label in labels):
        raise InputError(f"the correction is empty: give one of this run's labels: {known}")
    if unknown := next((label for label in labels if label not in run["labels"]), None):
        raise InputError(f"correction {unknown!r} is not one of this run's labels: {known}")
    if len(labels) > 1 and not isinstance(run["prediction"], list):
        raise InputError(f"run {run['run_id']} chose one label, so it takes one correction, not {len(labels)}")
    return "\n".join(labels)


def _corrections(stored: Any) -> Any:
    """A stored correction as given: a label, or a multi-label run's list of labels."""
    return stored.split("\n") if isinstance(stored, str) and "\n" in stored else stored


def _agrees(prediction: Any, correction: str) -> bool:
    """Whether a stored correction names just what the run predicted (a score of 1 then says the same)."""
    predicted = prediction if isinstance(prediction, list) else [prediction]
    return sorted(correction.split("\n")) == sorted(predicted)


def _shown(labels: Any) -> str:
    return ", ".join(map(repr, labels)) if isinstance(labels, list) else repr(labels)


def _as_written(run_id: Any) -> Any:
    """A run id as llmclf writes it: a pasted one may carry spaces around it, or capitals (a UUID's text form is
    case-insensitive, RFC 9562)."""
    return run_id.strip().lower() if isinstance(run_id, str) else run_id


def _label(prediction: Any, score: int | None, correction: str | None) -> Any:
    if correction is not None:
        return _corrections(correction)
    if score == 1:
        return prediction
    return None


class FewShot:
    """The k most similar feedback examples for a text, by embedding cosine.

    Vectors of example texts are stored in the database, keyed by embedder,
    so they are computed once.
    """

    def __init__(
        self,
        store: Store,
        target: str,
        embedder: Embedder,
        k: int = 5,
        examples: list[Example] | None = None,
        known: FewShot | None = None,
    ) -> None:
        """``known``: an earlier lookup for this target and embedder, whose vectors are used again (the service
        keeps one per feedback version; reading 100,000 vectors back took a second)."""
        self.store, self.embedder, self.k = store, embedder, whole_number(k, "k")  # k=-1 meant none, unsaid
        self.examples = RunLog(store).dataset(target) if examples is None else examples
        had = known.by_text() if known is not None and known.embedder.id == embedder.id else {}
        self.vectors = self._vectors([e.text for e in self.examples], had) if self.examples and k > 0 else None

    def by_text(self) -> dict[str, np.ndarray]:
        """Each example text's vector."""
        if self.vectors is None:
            return {}
        return {e.text: v for e, v in zip(self.examples, self.vectors, strict=True)}

    def _vectors(self, texts: list[str], had: dict[str, np.ndarray]) -> np.ndarray:
        distinct = dict.fromkeys(texts)
        found = {t: had[t] for t in distinct if t in had}
        unique = [t for t in distinct if t not in found]
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for text, blob in self.store.read(
                f"SELECT text, vector FROM example_vectors WHERE embedder = ? AND text IN ({marks})",
                (self.embedder.id, *chunk),
            ):
                if isinstance(blob, bytes) and len(blob) == 4 * self.embedder.dim:  # else re-embedded, replaced
                    found[text] = np.frombuffer(blob, dtype=np.float32)
        missing = [t for t in unique if t not in found]
        if missing:
            new = self.embedder.embed(missing).astype(np.float32)
            self.store.write_many(
                "INSERT OR REPLACE INTO example_vectors (embedder, text, vector) VALUES (?, ?, ?)",
                [(self.embedder.id, t, v.tobytes()) for t, v in zip(missing, new, strict=True)],
            )
            found.update(zip(missing, new, strict=True))
        return np.stack([found[t] for t in texts])

    def __call__(self, text: str) -> list[tuple[str, str]]:
        return self.lookup([text])[0]

    def lookup(self, texts: Sequence[str]) -> list[list[tuple[str, str]]]:
        """The k most similar examples for each text, with one embedding call for all of them."""
        if self.vectors is None or not texts:
            return [[] for _ in texts]
        sims = self.embedder.embed(list(texts)) @ self.vectors.T
        tops = np.argsort(-sims, axis=1, kind="stable")[:, : self.k]
        return [[(self.examples[i].text, self.examples[i].label) for i in row] for row in tops]


def few_shot_for(
    store: Store,
    target: str,
    embedder: Embedder,
    k: int,
    examples: list[Example] | None = None,
    known: FewShot | None = None,
) -> FewShot | None:
    """Few-shot lookup, or None when there are no feedback examples; ``examples``: the dataset, if already read;
    ``known``: an earlier lookup whose vectors serve again."""
    shots = FewShot(store, target, embedder, k, examples, known)
    return shots if shots.vectors is not None else None
