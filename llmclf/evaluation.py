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

from .errors import InputError
from .inputs import (
    check_one_per_text,
    check_probability,
    label_name,
    name_form,
    name_key,
    one_label_per_text,
    texts_of,
    whole_number,
)

__all__ = ["EvalReport", "evaluate", "evaluate_proba", "expected_calibration_error", "label_case_hint"]


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
    """ECE with equal-width bins over the top probability, and the reliability table behind it.

    Bins and their means are scikit-learn's ``calibration_curve`` (uniform strategy); it
    returns only non-empty bins, so the counts come from the same bin assignment.
    """
    from sklearn.calibration import calibration_curve

    edges = np.linspace(0.0, 1.0, bins + 1)
    ids = np.searchsorted(edges[1:-1], confidence, side="right")  # calibration_curve's own assignment
    counts = np.bincount(ids, minlength=bins)
    prob_true, prob_pred = calibration_curve(correct.astype(int), confidence, n_bins=bins, strategy="uniform")
    filled = iter(zip(prob_true.tolist(), prob_pred.tolist(), strict=True))
    table, ece, n = [], 0.0, len(confidence)
    for i in range(bins):
        acc, conf = next(filled) if counts[i] else (0.0, 0.0)
        if counts[i]:
            ece += counts[i] / n * abs(conf - acc)
        table.append(
            ReliabilityBin(round(float(edges[i]), 4), round(float(edges[i + 1]), 4), int(counts[i]), conf, acc)
        )
    return float(ece), table


MAX_BINS = 10_000  # reliability bins: one array of this many edges


def evaluate_proba(
    proba: np.ndarray,
    classes: Sequence[str],
    labels: Sequence[str],
    threshold: float | None = None,
    bins: int = 15,
    top_confusions: int = 10,
) -> EvalReport:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    check_probability(threshold, "threshold")  # threshold=7 reported every text abstaining
    whole_number(bins, "bins", 1, MAX_BINS)  # bins=0 was sklearn's error, 10**30 numpy's
    classes = list(classes)
    # as fit names classes (a whole float 2.0 is class "2": it was "2.0", unknown, and accuracy 0), then as kept
    labels = [name_form(label_name(y)) for y in labels]
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
    per_class, macro_f1, confused = [], 0.0, []
    if n:
        precision, recall, f1, support = precision_recall_fscore_support(
            labels, predicted, labels=all_labels, zero_division=0
        )
        per_class = [
            ClassScore(label, float(precision[i]), float(recall[i]), float(f1[i]), int(support[i]))
            for i, label in enumerate(all_labels)
        ]
        # macro-F1 over labels that occur in the data or are predicted (sklearn's default label set)
        present = sorted(set(labels) | set(predicted))
        macro_f1 = float(
            precision_recall_fscore_support(labels, predicted, labels=present, average="macro", zero_division=0)[2]
        )
        matrix = confusion_matrix(labels, predicted, labels=all_labels)
        np.fill_diagonal(matrix, 0)
        pairs = [(all_labels[t], all_labels[p], int(matrix[t, p])) for t, p in zip(*np.nonzero(matrix), strict=True)]
        confused = sorted(pairs, key=lambda x: -x[2])[:top_confusions]
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
        confused=confused,
        reliability=reliability,
        unknown_labels=dict(unknown),
    )


def evaluate(
    clf, texts: Sequence[str], labels: Sequence[str], threshold: float | None = None, bins: int = 15
) -> EvalReport:
    """Evaluate a trained :class:`~llmclf.Classifier` on labelled texts (one string: one text and its label)."""
    labels = one_label_per_text(labels)
    if not len(labels):  # it reported accuracy 0.0 on nothing
        raise InputError("no labelled texts to evaluate")
    texts = texts_of(texts)
    check_one_per_text(len(texts), labels)  # it was "proba has shape (3, 2), expected (4, 2)"
    labels = _json_booleans(clf, labels)
    _check_some_label_known(labels, clf.class_names)
    return evaluate_proba(clf.predict_proba(texts), clf.class_names, labels, threshold=threshold, bins=bins)


def _json_booleans(clf, labels: Sequence[Any]) -> Sequence[Any]:
    """A model fitted on booleans has classes "False" and "True"; JSON data (read as text) says "false" and "true",
    which were unknown labels, every row an error. Those are its classes in any case."""
    classes = np.asarray(clf.classes_)
    if classes.dtype.kind != "b":
        return labels
    spelled = {str(value).lower(): name for value, name in zip(classes.tolist(), clf.class_names, strict=True)}
    return [spelled.get(y.strip().lower(), y) if isinstance(y, str) else y for y in labels]


def label_case_hint(unknown: Sequence[str], classes: Sequence[str]) -> str:
    """Say which unknown labels differ from a class only in case or spacing ("" when none does)."""
    folded = {name_key(c): c for c in classes}
    near = {y: folded[k] for y in unknown if (k := name_key(y)) in folded}
    if not near:
        return ""
    pairs = ", ".join(f"{y!r} -> {c!r}" for y, c in sorted(near.items())[:5])
    return f"; labels are matched exactly, and some differ from a class only in case or spacing: {pairs}"


def _check_some_label_known(labels: Sequence[Any], classes: Sequence[str]) -> None:
    """Scores against data none of whose labels the model knows are all zero and say nothing: refuse them, naming
    both sides (numbered labels against named classes is the usual cause)."""
    names = sorted({name_form(label_name(y)) for y in labels})
    if set(names) & set(classes):
        return

    def few(items: Sequence[str]) -> str:
        return ", ".join(repr(x) for x in items[:8]) + (f" (+{len(items) - 8} more)" if len(items) > 8 else "")

    raise InputError(
        f"none of the data's labels is a class of the model: labels {few(names)}; classes {few(list(classes))}"
        + label_case_hint(names, classes)
    )
