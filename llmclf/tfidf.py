"""Sparse TF-IDF features for the hybrid head, applied without scikit-learn.

Two blocks, as the hybrid head uses them: word 1-2-grams and ``char_wb``
2-5-grams, both lowercased, sublinear tf (``1 + log(tf)``), smooth idf and L2
normalisation per block. :func:`fit_tfidf` fits them with scikit-learn's
``TfidfVectorizer`` at training time; :meth:`TfidfFeatures.transform` applies
the learned vocabulary and idf with plain Python and scipy.sparse, so
``llmclf classify`` never imports sklearn. tests/test_tfidf.py checks that
both give the same matrix.

A bundle keeps the vocabulary and idf in ``tfidf.json`` (see :mod:`llmclf.bundle`):
terms in column order and one idf per term, JSON only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from operator import is_not
from typing import Any

import numpy as np

__all__ = ["BLOCKS", "MAX_TERM_CHARS", "TfidfBlock", "TfidfFeatures", "fit_tfidf"]

# (analyzer, ngram_range) of each block, in column order.
BLOCKS: tuple[tuple[str, tuple[int, int]], ...] = (("word", (1, 2)), ("char_wb", (2, 5)))
MAX_TERM_CHARS = 1000  # a word 2-gram of two very long tokens; anything longer is not a term we wrote

_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # sklearn's default token_pattern
_SPACES = re.compile(r"\s\s+")  # what char_wb squeezes before splitting into words


def word_ngrams(text: str, lo: int, hi: int) -> list[str]:
    """sklearn's ``analyzer="word"``: lowercased tokens of 2+ word characters, then n-grams joined by a space."""
    tokens = _TOKEN.findall(text.lower())
    grams = list(tokens) if lo <= 1 else []
    for n in range(max(lo, 2), min(hi, len(tokens)) + 1):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def char_wb_ngrams(text: str, lo: int, hi: int) -> list[str]:
    """sklearn's ``analyzer="char_wb"`` n-grams, plus some that can never be a term.

    sklearn pads each word with a space and takes the n-grams inside it (a
    padded word shorter than n counts once, whole; with ``lo <= 3`` that case
    never differs, since a padded word has 3+ characters). Here the padded
    words are joined by nothing, so " a  b " holds each one's n-grams, and the
    n-grams that cross a boundary hold two spaces in a row, which no term has.
    One pass of slices is about twice as fast as word by word.
    """
    s = " " + "  ".join(_SPACES.sub(" ", text.lower()).split()) + " "
    size = len(s)
    grams: list[str] = []
    for n in range(lo, hi + 1):
        grams.extend([s[i : i + n] for i in range(size - n + 1)])
    return grams


_ANALYZERS = {"word": word_ngrams, "char_wb": char_wb_ngrams}
_is_term = partial(is_not, None)


@dataclass
class TfidfBlock:
    analyzer: str
    ngram_range: tuple[int, int]
    terms: list[str]  # column order
    idf: np.ndarray  # (len(terms),) float64

    def __post_init__(self) -> None:
        self.vocabulary = {t: i for i, t in enumerate(self.terms)}

    def transform(self, texts: Sequence[str]):
        """Rows of L2-normalised sublinear TF-IDF, as a scipy CSR matrix (float32)."""
        from scipy.sparse import csr_matrix

        analyze, (lo, hi), get = _ANALYZERS[self.analyzer], self.ngram_range, self.vocabulary.get
        rows: list[int] = []
        cols: list[int] = []
        for r, text in enumerate(texts):
            found = list(filter(_is_term, map(get, analyze(text, lo, hi))))
            cols.extend(found)
            rows.extend([r] * len(found))
        shape = (len(texts), len(self.terms))
        # COO -> CSR sums duplicates: the data become term counts per row
        m = csr_matrix((np.ones(len(cols)), (np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64))), shape)
        m.sum_duplicates()
        m.data = (1.0 + np.log(m.data)) * self.idf[m.indices]
        lengths = np.diff(m.indptr)
        row_of = np.repeat(np.arange(shape[0]), lengths)
        norms = np.sqrt(np.bincount(row_of, weights=m.data**2, minlength=shape[0]))
        m.data /= np.repeat(np.where(norms > 0, norms, 1.0), lengths)
        return m.astype(np.float32)


@dataclass
class TfidfFeatures:
    """The sparse half of the hybrid head: blocks side by side, each scaled by ``weight``."""

    blocks: list[TfidfBlock]
    weight: float = 0.5

    @property
    def n_features(self) -> int:
        return sum(len(b.terms) for b in self.blocks)

    def transform(self, texts: Sequence[str]):
        from scipy.sparse import hstack

        texts = list(texts)
        m = hstack([b.transform(texts) for b in self.blocks], format="csr", dtype=np.float32)
        m.data *= np.float32(self.weight)
        return m

    def info(self) -> dict[str, Any]:
        """What the manifest records (the terms and idf go in their own member)."""
        blocks = [
            {"analyzer": b.analyzer, "ngram_range": list(b.ngram_range), "n_terms": len(b.terms)} for b in self.blocks
        ]
        return {"weight": self.weight, "blocks": blocks}


def fit_tfidf(texts: Sequence[str], weight: float = 0.5, min_df: int = 1) -> TfidfFeatures:
    """Learn the vocabulary and idf of every block from ``texts`` (needs scikit-learn)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    blocks = []
    for analyzer, ngram_range in BLOCKS:
        vec = TfidfVectorizer(
            analyzer=analyzer, ngram_range=ngram_range, sublinear_tf=True, min_df=min_df, dtype=np.float64
        )
        try:
            vec.fit(texts)
        except ValueError:  # no term at all (texts of single characters): an empty block
            blocks.append(TfidfBlock(analyzer, ngram_range, [], np.zeros(0)))
            continue
        terms = [str(t) for t in vec.get_feature_names_out()]
        blocks.append(TfidfBlock(analyzer, ngram_range, terms, vec.idf_.astype(np.float64)))
    return TfidfFeatures(blocks, weight)
