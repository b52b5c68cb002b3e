"""Whether the labelled examples favour the hybrid head's TF-IDF half: a check that can raise its weight.

The "auto" TF-IDF weight grows with the labelled examples per class
(:func:`~llmclf.head.auto_tfidf_weight`): with few of them the embedding's
sense of meaning matters most. That holds on the six shared data sets, where
the embedding alone beats TF-IDF alone by 10-30 points at 8 per class. It
fails where the classes are told apart by surface words: a news agency's name
in the text, a question's first word. There TF-IDF alone beat the embedding,
and the hybrid at the auto weight fell below TF-IDF+LR (BENCHMARKS.md).

So before the head is fitted, each half is cross-validated alone on the
labelled examples (3 stratified folds; at most :data:`MAX_HELD` of them,
description sentences always in training, pseudo-labels never). Where TF-IDF
alone is right on significantly more texts than the embedding alone, by
McNemar's test (``b - c >= 2 * sqrt(b + c)``, ``b`` the texts only TF-IDF got
right, ``c`` those only the embedding got right), the hybrid itself is
cross-validated on the same folds at the auto weight and at double it (up to
:data:`~llmclf.head.AUTO_WEIGHT_MAX`), and the weight is doubled if the hybrid
at double it is right on more texts. The test keeps sampling noise at 8
examples per class from raising it on the shared sets; the second stage keeps
it where the embedding already carries the hybrid (64 per class, BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .calibration import FitHead, fold_rows
from .examples import Example, Source
from .head import AUTO_WEIGHT_MAX, solver_for

__all__ = ["FOLDS", "MAX_HELD", "MIN_HELD", "RAISE", "check_tfidf_weight", "summary"]

FOLDS = 3
MAX_HELD = 1000  # a random sample of the labelled examples past this: the check's cost stays bounded
MIN_HELD = 8
RAISE = 2.0
Z = 2.0


def check_tfidf_weight(
    X: np.ndarray, examples: Sequence[Example], classes: list[str], auto: float, fit: FitHead
) -> dict[str, Any] | None:
    """The check's record, its ``weight`` the one to use; None where it cannot say (too few labelled examples, or
    the weight already at its most)."""
    kept = [i for i, e in enumerate(examples) if e.source is not Source.PSEUDO]
    held = np.array([i for i in kept if examples[i].source is not Source.DESCRIPTION], dtype=np.int64)
    if len(held) < MIN_HELD or auto >= AUTO_WEIGHT_MAX:
        return None
    sampled = len(held) > MAX_HELD
    if sampled:
        held = np.sort(np.random.default_rng(0).choice(held, MAX_HELD, replace=False))
    always = np.array([i for i in kept if examples[i].source is Source.DESCRIPTION], dtype=np.int64)
    index = {c: i for i, c in enumerate(classes)}
    y_idx = np.array([index[e.label] for e in examples])
    folds = fold_rows(held, always, y_idx[held], FOLDS)

    def right(test_idx: np.ndarray, train_idx: np.ndarray, weight: float, dense: bool = True) -> np.ndarray:
        """Which held-out texts a head fitted on the rest at ``weight`` gets right; without the embedding's columns
        unless ``dense``."""
        fold = [examples[i] for i in train_idx]
        on_train, on_test = (
            (X[train_idx], X[test_idx]) if dense else (_no_columns(len(train_idx)), _no_columns(len(test_idx)))
        )
        head = fit(
            on_train, [e.label for e in fold], classes, [e.text for e in fold], fold, weight, solver_for(len(fold))
        )
        return head.logits(on_test, [examples[i].text for i in test_idx]).argmax(axis=1) == y_idx[test_idx]

    only_tfidf = only_embedding = 0
    for test_idx, train_idx in folds:
        dense_right, sparse_right = right(test_idx, train_idx, 0.0), right(test_idx, train_idx, 1.0, dense=False)
        only_tfidf += int((sparse_right & ~dense_right).sum())
        only_embedding += int((dense_right & ~sparse_right).sum())
    record: dict[str, Any] = {
        "folds": FOLDS,
        "held_out": len(held),
        "sampled": sampled,
        "only_tfidf_right": only_tfidf,
        "only_embedding_right": only_embedding,
        "auto": round(auto, 4),
        "weight": round(auto, 4),
    }
    lead = only_tfidf - only_embedding
    if lead > 0 and lead >= Z * (only_tfidf + only_embedding) ** 0.5:
        raised = round(min(auto * RAISE, AUTO_WEIGHT_MAX), 4)
        for key, weight in (("hybrid_right_auto", auto), ("hybrid_right_raised", raised)):
            record[key] = sum(int(right(test_idx, train_idx, weight).sum()) for test_idx, train_idx in folds)
        if record["hybrid_right_raised"] > record["hybrid_right_auto"]:
            record["weight"] = raised
    return record


def _no_columns(rows: int) -> np.ndarray:
    """Embeddings of no width: the head fitted on them is TF-IDF alone."""
    return np.zeros((rows, 0), dtype=np.float32)


def summary(check: dict[str, Any]) -> str:
    """One line on what the check found, for the training notes and ``llmclf info``."""
    counts = (
        f"on {check['held_out']} labelled examples, TF-IDF alone was right where the embedding was not "
        f"{check['only_tfidf_right']} times, the reverse {check['only_embedding_right']}"
    )
    if check.get("hybrid_right_raised") is not None:
        counts += (
            f"; the hybrid was right {check['hybrid_right_auto']} times at {check['auto']:g}, "
            f"{check['hybrid_right_raised']} times raised"
        )
    if check["weight"] > check["auto"]:
        return f"TF-IDF weight raised from {check['auto']:g} to {check['weight']:g}: {counts}"
    return f"TF-IDF weight kept at {check['auto']:g}: {counts}"
