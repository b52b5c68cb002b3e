"""Temperature scaling on out-of-fold predictions, with a prior for little data.

Leave-one-out up to :data:`LEAVE_ONE_OUT_UP_TO` held-out examples, else
stratified 10-fold (5-fold past 2,000). Only user, LLM and feedback examples
are held out: label-name templates and description sentences always stay in
training (so every fold's head knows every class; they say little about real
inputs), and so do pseudo-labels (the head made them; they test nothing). The
temperature is the MAP estimate under a prior that depends on examples per
class (:func:`~llmclf.head.prior_temperature`): plain cross-validation gave
ECE 0.03-0.16 at 8 examples per class, where the out-of-fold sample is too
small to say how sure the head should be (BENCHMARKS.md, "calibration").

After ``--finetune`` the folds cannot be trusted: they embed texts the encoder
was tuned on. There :func:`prior_only` sets the prior temperature without a fit
(the in-batch loss, ten classes and more), or the caller skips calibration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .examples import Example, Source
from .head import LinearHead, fit_temperature, nll, prior_temperature, softmax, solver_for

__all__ = ["calibrate", "fold_rows", "prior_only", "skipped", "stratified_folds", "summary"]

FOLDS = 10
LEAVE_ONE_OUT_UP_TO = 100
FEWER_FOLDS, FEWER_FOLDS_FROM = 5, 2000  # thousands of examples: 5 folds suffice
MIN_EXAMPLES = 8
ALWAYS_IN_TRAINING = (Source.DESCRIPTION, Source.PSEUDO)

# (embeddings, labels, classes, texts, the examples themselves, TF-IDF weight or None for the final head's,
# solver) -> a head fitted as the final one is
FitHead = Callable[[np.ndarray, list[str], list[str], list[str], list[Example], float | None, str], LinearHead]


def stratified_folds(y: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """A fold number per row: each class's rows, shuffled, dealt round-robin, so every fold sees every class
    (8 examples per class in 8 folds: one of each class held out per fold)."""
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(y), dtype=np.int64)
    start = 0
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))
        fold_of[rows] = (np.arange(len(rows)) + start) % folds
        start += len(rows)  # the next class starts where this one stopped: folds stay even in size
    return fold_of


def fold_rows(
    held: np.ndarray, always: np.ndarray, y_held: np.ndarray, folds: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(held-out rows, training rows) for each of ``folds`` stratified folds of the ``held`` rows (labels
    ``y_held``); the ``always`` rows are in every fold's training rows."""
    fold_of = stratified_folds(y_held, folds)
    out = []
    for k in range(folds):
        test_idx = held[fold_of == k]
        out.append((test_idx, np.concatenate([always, np.setdiff1d(held, test_idx)])))
    return out


def skipped(why: str) -> dict[str, Any]:
    """The record of a calibration not done, and why."""
    return {"method": "temperature", "skipped": why}


def _too_few(held: int) -> dict[str, Any] | None:
    if held >= MIN_EXAMPLES:
        return None
    return skipped(f"needs {MIN_EXAMPLES} examples beyond descriptions, has {held}")


def calibrate(X: np.ndarray, examples: Sequence[Example], classes: list[str], fit: FitHead) -> dict[str, Any]:
    """The temperature and what it was fitted on, or ``{"skipped": why}`` with too few held-out examples."""
    held = np.array([i for i, e in enumerate(examples) if e.source not in ALWAYS_IN_TRAINING], dtype=np.int64)
    if too_few := _too_few(len(held)):
        return too_few
    index = {c: i for i, c in enumerate(classes)}
    y_idx = np.array([index[e.label] for e in examples])
    folds = len(held) if len(held) <= LEAVE_ONE_OUT_UP_TO else FOLDS
    folds = folds if len(held) <= FEWER_FOLDS_FROM else FEWER_FOLDS
    logits = np.zeros((len(examples), len(classes)), dtype=np.float64)
    always = np.array([i for i, e in enumerate(examples) if e.source in ALWAYS_IN_TRAINING], dtype=np.int64)
    for test_idx, train_idx in fold_rows(held, always, y_idx[held], folds):
        fold = [examples[i] for i in train_idx]
        texts = [e.text for e in fold]
        head = fit(X[train_idx], [e.label for e in fold], classes, texts, fold, None, solver_for(len(train_idx)))
        logits[test_idx] = head.logits(X[test_idx], [examples[i].text for i in test_idx])
    prior = prior_temperature(len(held) / len(classes))
    temperature = fit_temperature(logits[held], y_idx[held], prior=prior)
    return {
        "method": "temperature",
        "folds": "leave-one-out" if folds == len(held) else folds,
        "held_out": len(held),
        "prior": round(prior, 4),
        "temperature": temperature,
        "nll_before": nll(softmax(logits[held]), y_idx[held]),
        "nll_after": nll(softmax(logits[held] / temperature), y_idx[held]),
    }


def prior_only(examples: Sequence[Example], classes: list[str], why: str) -> dict[str, Any]:
    """The prior temperature for this many examples per class, with nothing fitted, and ``why`` no fit.

    For a head whose held-out folds would mislead. Measured after ``--finetune``'s in-batch loss on banking77's
    development rows (10 per class; its 10, 20 and 77 classes), where the oracle temperature was 0.39-0.53 and
    this prior 0.52: ECE 0.15-0.27 -> 0.014-0.038 (BENCHMARKS.md).
    """
    held = sum(e.source not in ALWAYS_IN_TRAINING for e in examples)
    if too_few := _too_few(held):
        return too_few
    prior = prior_temperature(held / len(classes))
    return {
        "method": "temperature",
        "folds": "none: the prior alone",
        "prior": round(prior, 4),
        "temperature": prior,
        "why": why,
    }


def summary(calibration: dict[str, Any]) -> str:
    """One line on what a fitted calibration did, for people."""
    temperature = calibration["temperature"]
    if "nll_before" not in calibration:
        return f"calibrated by the prior alone: temperature {temperature:.3f} ({calibration.get('why', 'no fit')})"
    return (
        f"calibrated on {calibration['held_out']} held-out examples: temperature {temperature:.3f}, "
        f"log-loss {calibration['nll_before']:.3f} -> {calibration['nll_after']:.3f}"
    )
