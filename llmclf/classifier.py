"""The :class:`Classifier`: class descriptions and examples in, a fitted head out."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .bundle import read_bundle, write_bundle
from .descriptions import description_examples
from .embedding import Embedder, get_embedder
from .errors import BundleError, InputError
from .examples import Example, Source
from .generation import ExampleGenerator, GenerationResult
from .head import DEFAULT_C, DEFAULT_CLASS_WEIGHT, LinearHead, fit_head, fit_temperature, nll, softmax

CALIBRATION_FOLDS = 5
MIN_CALIBRATION_EXAMPLES = 20

__all__ = ["Classifier", "Prediction", "TrainReport"]


@dataclass
class Prediction:
    """One text's result: the label (None when below the threshold) and every class's probability."""

    text: str
    label: str | None
    probabilities: dict[str, float]  # class -> p, highest first
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the cascade's source, a run id

    @property
    def confidence(self) -> float:
        return next(iter(self.probabilities.values()))

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "prediction": self.label, "probabilities": self.probabilities, **self.extra}

    def limited(self, top_n: int | None = None, threshold: float | None = None) -> Prediction:
        """A copy with only the ``top_n`` most likely classes, and no label below ``threshold``."""
        probabilities = dict(list(self.probabilities.items())[:top_n]) if top_n else dict(self.probabilities)
        label = self.label if threshold is None or self.confidence >= threshold else None
        return Prediction(self.text, label, probabilities, dict(self.extra))


@dataclass
class TrainReport:
    """What the last training run did, for the CLI and for curious callers."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # class -> source -> n
    generation: GenerationResult | None = None  # None: no generator was configured
    notes: list[str] = field(default_factory=list)


def _clean_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InputError("class name is empty")
    return name.strip()


def _clean_text(text: str, what: str = "text") -> str:
    if not isinstance(text, str):
        raise InputError(f"{what} must be a string, got {type(text).__name__}")
    if not text.strip():
        raise InputError(f"{what} is empty")
    return text.strip()


class Classifier:
    """A text classifier made from class descriptions and examples.

    >>> clf = Classifier().prompt_train({"cat": "Cats meow and purr.", "dog": "Dogs bark."})
    >>> clf.predict(["woof"])
    ['dog']
    """

    def __init__(
        self,
        embedder: Embedder | str | None = None,
        *,
        C: float = DEFAULT_C,
        class_weight: str | None = DEFAULT_CLASS_WEIGHT,
        generator: ExampleGenerator | None = None,
        calibrate: bool = False,
    ) -> None:
        self.embedder: Embedder = embedder if isinstance(embedder, Embedder) else get_embedder(embedder)
        self.C = C
        self.class_weight = class_weight
        self.generator = generator
        self.calibrate = calibrate
        self.descriptions: dict[str, str | None] = {}
        self.examples: list[Example] = []
        self.head: LinearHead | None = None
        self.report: TrainReport | None = None
        self.calibration: dict[str, Any] | None = None
        self.model_id = uuid.uuid4().hex  # stable across retrains: feedback is keyed by it
        self.history: list[dict[str, Any]] = []  # what each (re)training changed
        self._vectors: dict[str, np.ndarray] = {}

    # -- data ---------------------------------------------------------------
    def add_class(self, name: str, description: str | None = None) -> Classifier:
        name = _clean_name(name)
        if description is not None:
            description = _clean_text(description, f"description of class {name!r}")
        if self.descriptions.get(name) and description and self.descriptions[name] != description:
            raise InputError(f"class {name!r} already has a different description")
        self.descriptions[name] = description or self.descriptions.get(name)
        return self

    def add_data_to_class(
        self, name: str, data: str | Iterable[str], source: Source = Source.USER, meta: dict[str, Any] | None = None
    ) -> Classifier:
        """Add examples to a class; a class seen only here becomes a class too."""
        name = _clean_name(name)
        texts = [data] if isinstance(data, str) else list(data)
        cleaned = [_clean_text(t, f"example for class {name!r}") for t in texts]
        self.descriptions.setdefault(name, None)
        self.examples.extend(Example(t, name, Source(source), dict(meta or {})) for t in cleaned)
        return self

    def add_examples(self, examples: Iterable[Example]) -> Classifier:
        for ex in examples:
            self.descriptions.setdefault(_clean_name(ex.label), None)
            self.examples.append(ex)
        return self

    @property
    def classes_(self) -> list[str]:
        if self.head is not None:
            return list(self.head.classes)
        return sorted(self.descriptions)

    # -- training -----------------------------------------------------------
    def prompt_train(self, classes: Mapping[str, str] | None = None) -> Classifier:
        """Train from class descriptions, synthetic data if a generator is set, and added data."""
        for name, description in (classes or {}).items():
            self.add_class(name, description)
        if len(self.descriptions) < 2:
            raise InputError(f"need at least two classes to train, got {len(self.descriptions)}")
        report = TrainReport()
        if self.generator is not None:
            kept = [e for e in self.examples if e.source is not Source.SYNTHETIC]
            result = self.generator.generate(dict(self.descriptions), kept)
            self.examples = kept + [e for e in result.examples if e.label in self.descriptions]
            report.generation = result
        for name, desc in self.descriptions.items():
            if not desc:
                report.notes.append(f"class {name!r} has no description; it is learned from its examples")
        self._train(report)
        self._log_training("train")
        return self

    def retrain_with_feedback(self, feedback: Sequence[Example]) -> dict[str, Any]:
        """Make ``feedback`` the bundle's feedback examples and refit the head (no LLM call).

        ``feedback`` is the whole feedback dataset (see :class:`llmclf.feedback.RunLog`),
        so retraining twice with the same data changes nothing.
        """
        self._require_head()
        unknown = sorted({e.label for e in feedback} - set(self.head.classes))
        if unknown:
            raise InputError(f"feedback uses labels the model does not have: {', '.join(unknown)}")
        old = {(e.text, e.label) for e in self.examples if e.source is Source.FEEDBACK}
        new = {(e.text, e.label) for e in feedback}
        self.examples = [e for e in self.examples if e.source is not Source.FEEDBACK]
        self.add_examples(Example(e.text, e.label, Source.FEEDBACK, dict(e.meta)) for e in feedback)
        self._train(TrainReport())
        change = {
            "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "action": "retrain",
            "feedback_examples": len(new),
            "added": len(new - old),
            "removed": len(old - new),
        }
        self.history.append(change)
        return change

    def fit(self, X: Sequence[str], y: Sequence[str]) -> Classifier:
        """scikit-learn style: learn from texts ``X`` and labels ``y``.

        Replaces the user examples; class descriptions given earlier still count.
        """
        if len(X) != len(y):
            raise InputError(f"X has {len(X)} texts but y has {len(y)} labels")
        self.examples = [e for e in self.examples if e.source not in (Source.USER,)]
        for text, label in zip(X, y, strict=True):
            self.add_data_to_class(str(label), text)
        if len(self.descriptions) < 2:
            raise InputError(f"need at least two classes to train, got {len(self.descriptions)}")
        self._train(TrainReport())
        self._log_training("fit")
        return self

    def _log_training(self, action: str) -> None:
        at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.history.append({"at": at, "action": action, "counts": self.report.counts})

    def training_examples(self) -> list[Example]:
        """Description-derived examples for every class, then everything else, deduplicated."""
        derived = [ex for name, desc in self.descriptions.items() for ex in description_examples(name, desc)]
        seen: set[tuple[str, str]] = set()
        out = []
        for ex in derived + [e for e in self.examples if e.source is not Source.DESCRIPTION]:
            key = (ex.text, ex.label)
            if key not in seen:
                seen.add(key)
                out.append(ex)
        return out

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed with a per-instance cache, so retraining re-embeds only new texts."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            for text, vec in zip(missing, self.embedder.embed(missing), strict=True):
                self._vectors[text] = vec
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts])

    def _train(self, report: TrainReport) -> None:
        examples = self.training_examples()
        classes = sorted(self.descriptions)
        X = self.embed([e.text for e in examples])
        y = [e.label for e in examples]
        self.head = fit_head(X, y, classes, C=self.C, class_weight=self.class_weight)
        self.examples = examples
        self.calibration = None
        if self.calibrate:
            self.calibration = self._fit_temperature(X, examples, classes)
            if self.calibration.get("temperature"):
                self.head.temperature = self.calibration["temperature"]
            else:
                report.notes.append(f"calibration skipped: {self.calibration['skipped']}")
        counts: dict[str, Counter[str]] = {c: Counter() for c in classes}
        for e in examples:
            counts[e.label][e.source.value] += 1
        report.counts = {c: dict(n) for c, n in counts.items()}
        self.report = report

    def _fit_temperature(self, X: np.ndarray, examples: list[Example], classes: list[str]) -> dict[str, Any]:
        """Temperature scaling on out-of-fold predictions (5-fold CV).

        Only examples that are not derived from descriptions are held out: the
        label-name templates always stay in training, so every fold's head
        knows every class, and they say little about real inputs.
        """
        folds = CALIBRATION_FOLDS
        held = np.array([i for i, e in enumerate(examples) if e.source is not Source.DESCRIPTION])
        if len(held) < MIN_CALIBRATION_EXAMPLES:
            return {
                "method": "temperature",
                "skipped": f"needs {MIN_CALIBRATION_EXAMPLES} examples beyond descriptions, has {len(held)}",
            }
        index = {c: i for i, c in enumerate(classes)}
        y_idx = np.array([index[e.label] for e in examples])
        order = np.random.default_rng(0).permutation(held)
        logits = np.zeros((len(examples), len(classes)), dtype=np.float64)
        always = np.array([i for i, e in enumerate(examples) if e.source is Source.DESCRIPTION], dtype=np.int64)
        for k in range(folds):
            test_idx = order[k::folds]
            train_idx = np.concatenate([always, np.setdiff1d(held, test_idx)])
            head = fit_head(
                X[train_idx], [examples[i].label for i in train_idx], classes, C=self.C, class_weight=self.class_weight
            )
            logits[test_idx] = head.logits(X[test_idx])
        temperature = fit_temperature(logits[held], y_idx[held])
        return {
            "method": "temperature",
            "folds": folds,
            "held_out": len(held),
            "temperature": temperature,
            "nll_before": nll(softmax(logits[held]), y_idx[held]),
            "nll_after": nll(softmax(logits[held] / temperature), y_idx[held]),
        }

    # -- prediction ---------------------------------------------------------
    def _require_head(self) -> LinearHead:
        if self.head is None:
            raise InputError("classifier is not trained: call prompt_train() or fit() first")
        return self.head

    def predict_proba(self, texts: Sequence[str] | str) -> np.ndarray:
        """Probabilities, one row per text, columns in :attr:`classes_` order; rows sum to 1."""
        head = self._require_head()
        texts = [texts] if isinstance(texts, str) else list(texts)
        cleaned = [_clean_text(t, f"text {i + 1}") for i, t in enumerate(texts)]
        return head.predict_proba(self.embedder.embed(cleaned))

    def predict(self, texts: Sequence[str] | str) -> list[str]:
        proba = self.predict_proba(texts)
        classes = self._require_head().classes
        return [classes[i] for i in proba.argmax(axis=1)]

    def classify(
        self, texts: Sequence[str], threshold: float | None = None, top_n: int | None = None
    ) -> list[Prediction]:
        """Predictions with probabilities, highest first (all classes, or the ``top_n``).

        Below ``threshold`` the label is None; the probabilities are still given.
        """
        texts = list(texts)
        proba = self.predict_proba(texts)
        classes = self._require_head().classes
        k = min(top_n or len(classes), len(classes))
        if k < len(classes):
            top = np.argpartition(-proba, k - 1, axis=1)[:, :k]
            top = np.take_along_axis(top, np.argsort(-np.take_along_axis(proba, top, axis=1), axis=1), axis=1)
        else:
            top = np.argsort(-proba, axis=1, kind="stable")
        names = np.array(classes, dtype=object)
        ranked = np.round(np.take_along_axis(proba, top, axis=1).astype(np.float64), 6)
        out = []
        for text, order, values in zip(texts, names[top].tolist(), ranked.tolist(), strict=True):
            label = order[0] if threshold is None or values[0] >= threshold else None
            out.append(Prediction(text, label, dict(zip(order, values, strict=True))))
        return out

    # -- persistence ----------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        head = self._require_head()
        counts: dict[str, Counter[str]] = {c: Counter() for c in head.classes}
        for e in self.examples:
            counts.setdefault(e.label, Counter())[e.source.value] += 1
        return {
            "model_id": self.model_id,
            "history": self.history,
            "llmclf_version": __version__,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "classes": head.classes,
            "descriptions": {c: self.descriptions.get(c) for c in head.classes},
            "example_counts": {c: dict(n) for c, n in counts.items()},
            "embedder": {"id": self.embedder.id, "dim": self.embedder.dim, "normalized": self.embedder.normalized},
            "training": {
                "head": "logistic_regression",
                "C": self.C,
                "class_weight": self.class_weight,
                "n_examples": len(self.examples),
                "temperature": head.temperature,
                "calibration": self.calibration,
            },
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write one ``.model`` bundle atomically."""
        return write_bundle(path, self.manifest(), self._require_head().to_arrays(), self.examples)

    @classmethod
    def load(cls, path: str | os.PathLike[str], embedder: Embedder | None = None) -> Classifier:
        bundle = read_bundle(path)
        m = bundle.manifest
        try:
            classes = [str(c) for c in m["classes"]]
            emb = m["embedder"]
            training = m.get("training", {})
            if embedder is None:
                embedder = get_embedder(emb["id"])
            if embedder.id != emb["id"] or embedder.dim != int(emb["dim"]):
                raise BundleError(f"{path} was trained with embedder {emb['id']!r}, not {embedder.id!r}")
            head = LinearHead.from_arrays(classes, bundle.arrays)
            if head.coef.shape[1] != embedder.dim:
                raise BundleError(f"{path}: head expects {head.coef.shape[1]}-d vectors, embedder gives {embedder.dim}")
            clf = cls(embedder, C=float(training.get("C", DEFAULT_C)), class_weight=training.get("class_weight"))
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"{path} is corrupt: manifest or head is malformed ({exc})") from None
        except InputError as exc:
            raise BundleError(f"{path}: {exc}") from None
        clf.descriptions = {c: (m.get("descriptions") or {}).get(c) for c in classes}
        clf.examples = bundle.examples
        clf.head = head
        clf.calibration = training.get("calibration")
        clf.calibrate = bool(clf.calibration)
        clf.model_id = str(m.get("model_id") or clf.model_id)
        clf.history = list(m.get("history") or [])
        return clf
