"""Self-training: unlabelled texts become pseudo-labelled examples, a confident share at a time.

Each round, the current head labels the pool. Per class, the most confident
share of the texts it assigns to that class is taken: the same share for every
class, so a class the head is sure of cannot crowd out one it is unsure of,
and a rare class keeps its own (small) number instead of being filled up with
doubtful texts to match a common one. The head is then refitted on the
labelled examples plus these, each pseudo-label weighing :data:`PSEUDO_WEIGHT`
of a real one. The share grows each round (1/3, 2/3, then all of
:data:`SHARE`), so later rounds take texts the improved head is now sure of.
The pool never holds a text that already has a label (a user's, a
description's, an LLM's or feedback's), so a pseudo-label never overrides
one; pseudo-labels are chosen afresh each round.

:data:`ROUNDS`, :data:`SHARE`, :data:`PSEUDO_WEIGHT` and the per-class share
(rather than an equal count per class, which lost 2 points on emotion) were
chosen on development rows held out of five shared data sets' train splits,
at 8 and 64 labelled examples per class, 3 seeds and pools (bench/dev/,
BENCHMARKS.md), never on their test splits.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence

import numpy as np

from .examples import Example, Source
from .inputs import texts_of

__all__ = [
    "MAX_POOL",
    "PSEUDO_WEIGHT",
    "ROUNDS",
    "SHARE",
    "pool_of",
    "round_share",
    "sample_pool",
    "sample_weights",
    "select_confident",
]

ROUNDS = 3
SHARE = 0.5  # of each class's predicted texts, in the last round; round r of R takes r/R of it
PSEUDO_WEIGHT = 0.3  # a pseudo-labelled example's sample weight in the head's fit, against 1 for a labelled one
# The pool is a random sample of at most this many texts. The settings above were chosen with pools of 1,000;
# bigger pools lost accuracy on development rows (8-shot, 3 seeds: emotion 0.435 with 1,000, 0.419 with 2,000,
# 0.414 with 4,000; ag_news 0.839 and 0.835 with 2,000; trec and banking77 within 0.4 points; 64-shot: emotion
# 0.590 and 0.581 with 4,000, trec 0.778 and 0.779; bench/dev/poolsize.py), and every text in the pool is
# embedded: a million-line --unlabeled file took about 17 minutes before it was sampled.
MAX_POOL = 1000


def pool_of(texts: Iterable[object], labelled: set[str]) -> list[str]:
    """The distinct, non-empty unlabelled texts, stripped, without any text that already has a label."""
    out = []
    for t in texts_of(texts):  # one string is one text, not one text per character
        if isinstance(t, str) and (t := t.strip()) and t not in labelled:
            out.append(t)
    return list(dict.fromkeys(out))


def sample_pool(pool: Sequence[str], limit: int | None = None) -> list[str]:
    """``pool``, or a random ``limit`` (:data:`MAX_POOL`) of its texts (the same ones on every run), in order."""
    limit = MAX_POOL if limit is None else limit
    if len(pool) <= limit:
        return list(pool)
    return [pool[i] for i in sorted(random.Random(0).sample(range(len(pool)), limit))]


def round_share(round_: int, rounds: int = ROUNDS, share: float = SHARE) -> float:
    """The share of each class's predicted texts taken in ``round_`` (1-based)."""
    return share * round_ / rounds


def select_confident(
    proba: np.ndarray, texts: Sequence[str], classes: Sequence[str], share: float, round_: int
) -> list[Example]:
    """Per class, the most confident ``share`` (rounded up) of the texts predicted as that class."""
    top = proba.argmax(axis=1)
    confidence = proba.max(axis=1)
    out = []
    for k, name in enumerate(classes):
        idx = np.flatnonzero(top == k)
        idx = idx[np.argsort(-confidence[idx], kind="stable")][: math.ceil(share * len(idx))]
        out.extend(
            Example(texts[i], name, Source.PSEUDO, {"round": round_, "confidence": round(float(confidence[i]), 4)})
            for i in idx
        )
    return out


def sample_weights(examples: Sequence[Example]) -> np.ndarray | None:
    """Each example's weight in the head's fit: its own (``fit``'s ``sample_weight``, else 1), times
    :data:`PSEUDO_WEIGHT` for a pseudo-label; None when all weigh 1."""
    weights = np.array([e.weight * (PSEUDO_WEIGHT if e.source is Source.PSEUDO else 1.0) for e in examples])
    return None if (weights == 1.0).all() else weights
