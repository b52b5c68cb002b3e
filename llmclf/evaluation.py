"""How good is a classifier? Accuracy, macro-F1, per-class scores, confusions, calibration.

Labels in the evaluation data that the model does not know are kept: they
count as errors in accuracy and are reported by name, never dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["EvalReport", "evaluate", "evaluate_proba", "expected_calibration_error"]


@dataclass
class ClassScore:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class ReliabilityBin:
    lower: float
    upper: float
    count: int
    confidence: float  # mean top probability in the bin
    accuracy: float


@dataclass
class EvalReport:
    n: int
    accuracy: float
    macro_f1: float  # over the model's classes plus any unknown labels in the data
    ece: float
    abstain_rate: float  # share of texts whose top probability is below the threshold
    threshold: float | None
    accuracy_when_answered: float | None  # accuracy on the texts that were not abstained
    per_class: list[ClassScore] = field(default_factory=list)
    confused: list[tuple[str, str, int]] = field(default_factory=list)  # (true, predicted, count)
    reliability: list[ReliabilityBin] = field(default_factory=list)
    unknown_labels: dict[str, int] = field(default_factory=dict)  # label in data, not in model -> rows

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, bins: int = 15
) -> tuple[float, list[ReliabilityBin]]:
    """ECE with equal-width bins over the top probability, and the reliability table behind it."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    table, ece, n = [], 0.0, len(confidence)
    for i in range(bins):
        lo, hi = edges[i], edges[i + 1]
        mask = (confidence > lo) & (confidence <= hi) if i else (confidence >= lo) & (confidence <= hi)
        count = int(mask.sum())
        if count:
            conf, acc = float(confidence[mask].mean()), float(correct[mask].mean())
            ece += count / n * abs(conf - acc)
        else:
            conf = acc = 0.0
        table.append(ReliabilityBin(round(float(lo), 4), round(float(hi), 4), count, conf, acc))
    return ece, table


def evaluate_proba(
    proba: np.ndarray,
    classes: Sequence[str],
    labels: Sequence[str],
    threshold: float | None = None,
    bins: int = 15,
    top_confusions: int = 10,
) -> EvalReport:
    classes = list(classes)
    labels = [str(y) for y in labels]
    n = len(labels)
    if proba.shape != (n, len(classes)):
        raise ValueError(f"proba has shape {proba.shape}, expected {(n, len(classes))}")
    top = proba.argmax(axis=1)
    predicted = [classes[i] for i in top]
    confidence = proba.max(axis=1)
    correct = np.array([p == y for p, y in zip(predicted, labels, strict=True)], dtype=bool)
    known = set(classes)
    unknown = Counter(y for y in labels if y not in known)

    all_labels = classes + sorted(unknown)
    index = {label: i for i, label in enumerate(all_labels)}
    y_idx = np.array([index[y] for y in labels], dtype=np.int64)
    p_idx = np.asarray(top, dtype=np.int64)
    size = len(all_labels)
    tp = np.bincount(y_idx[correct], minlength=size)
    n_pred = np.bincount(p_idx, minlength=size)
    n_true = np.bincount(y_idx, minlength=size)
    precision = np.divide(tp, n_pred, out=np.zeros(size), where=n_pred > 0)
    recall = np.divide(tp, n_true, out=np.zeros(size), where=n_true > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(size), where=precision + recall > 0)
    per_class = [
        ClassScore(label, float(precision[i]), float(recall[i]), float(f1[i]), int(n_true[i]))
        for i, label in enumerate(all_labels)
    ]
    # macro-F1 over labels that occur in the data or are predicted (as scikit-learn does)
    present = (n_true + n_pred) > 0
    macro_f1 = float(f1[present].mean()) if present.any() else 0.0

    confused = Counter((y, p) for p, y in zip(predicted, labels, strict=True) if p != y)
    ece, reliability = expected_calibration_error(confidence, correct, bins) if n else (0.0, [])
    answered = confidence >= threshold if threshold is not None else np.ones(n, dtype=bool)
    return EvalReport(
        n=n,
        accuracy=float(correct.mean()) if n else 0.0,
        macro_f1=macro_f1,
        ece=float(ece),
        abstain_rate=float(1 - answered.mean()) if n else 0.0,
        threshold=threshold,
        accuracy_when_answered=float(correct[answered].mean()) if answered.any() else None,
        per_class=per_class,
        confused=[(y, p, c) for (y, p), c in confused.most_common(top_confusions)],
        reliability=reliability,
        unknown_labels=dict(unknown),
    )


def evaluate(
    clf, texts: Sequence[str], labels: Sequence[str], threshold: float | None = None, bins: int = 15
) -> EvalReport:
    """Evaluate a trained :class:`~llmclf.Classifier` on labelled texts."""
    return evaluate_proba(clf.predict_proba(list(texts)), clf.class_names, labels, threshold=threshold, bins=bins)
