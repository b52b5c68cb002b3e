"""Self-training: unlabelled texts become pseudo-labelled examples, a confident share at a time.

Each round, the current head labels the pool; per class, the texts it
predicts with the highest confidence are taken, the same number for every
class (so a class the head already favours cannot swamp the others), and the
head is refitted on the labelled examples plus these. The share grows each
round, so later rounds take texts the improved head is now sure of, and a
pseudo-label weighs :data:`PSEUDO_WEIGHT` of a real label in the fit. The pool
never holds a text that already has a label (a user's, a description's, an
LLM's or feedback's), so a pseudo-label never overrides one; pseudo-labels are
re-chosen from scratch each round.

:data:`ROUNDS`, :data:`SHARE` and :data:`PSEUDO_WEIGHT` were chosen on
development rows held out of five shared data sets' train splits, 8 labelled
examples per class, 3 seeds and pools (BENCHMARKS.md, "self-training"), never
on their test splits. They are not a free lunch: emotion lost 1-2 points with
every setting tried.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from .examples import Example, Source

__all__ = ["ROUNDS", "SHARE", "pool_of", "quota", "select_confident"]

ROUNDS = 3
SHARE = 1.0  # of the pool, in the last round; round r of R takes r/R of it
PSEUDO_WEIGHT = 0.3  # a pseudo-labelled example's sample weight in the head's fit, against 1 for a labelled one


def pool_of(texts: Iterable[object], labelled: set[str]) -> list[str]:
    """The distinct, non-empty unlabelled texts, stripped, without any text that already has a label."""
    out = []
    for t in texts:
        if isinstance(t, str) and (t := t.strip()) and t not in labelled:
            out.append(t)
    return list(dict.fromkeys(out))


def quota(pool_size: int, n_classes: int, round_: int, rounds: int = ROUNDS, share: float = SHARE) -> int:
    """How many texts each class may take in ``round_`` (1-based)."""
    return math.ceil(share * round_ / rounds * pool_size / n_classes)


def select_confident(
    proba: np.ndarray, texts: Sequence[str], classes: Sequence[str], per_class: int, round_: int
) -> list[Example]:
    """Per class, the ``per_class`` texts predicted as that class with the highest probability."""
    top = proba.argmax(axis=1)
    confidence = proba.max(axis=1)
    out = []
    for k, name in enumerate(classes):
        idx = np.flatnonzero(top == k)
        idx = idx[np.argsort(-confidence[idx], kind="stable")][:per_class]
        meta = {"round": round_}
        out.extend(
            Example(texts[i], name, Source.PSEUDO, {**meta, "confidence": round(float(confidence[i]), 4)}) for i in idx
        )
    return out
