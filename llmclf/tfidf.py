"""Sparse TF-IDF features for the hybrid head, applied without scikit-learn.

Two blocks, as the hybrid head uses them: word 1-2-grams and ``char_wb``
2-5-grams, both lowercased, sublinear tf (``1 + log(tf)``), smooth idf and L2
normalisation per block. :func:`fit_tfidf` fits them with scikit-learn's
``TfidfVectorizer`` at training time; :meth:`TfidfFeatures.transform` applies
the learned vocabulary and idf with plain Python and scipy.sparse, so
``llmclf classify`` never imports sklearn. tests/test_tfidf.py checks that
both give the same matrix.

Both read at most the first ``MAX_TEXT_CHARS`` characters of a text (the embedder reads
its first 256 tokens): the n-gram lookup holds a few 8-byte arrays per character, and a
9 MB line took 0.9 GB, so a 250 MB one would have taken the machine's memory.

Texts are put in Unicode normal form NFC first (``unicode="NFC"``, recorded in the bundle): "café" typed
with é as one character and as e + U+0301 (macOS file names, some keyboards and PDFs) were different words
here, though the embedder's own normaliser makes them one. Bundles from before keep ``unicode=None``.

A bundle keeps the vocabulary and idf in ``tfidf.json`` (see :mod:`llmclf.bundle`):
terms in column order and one idf per term, JSON only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from operator import is_not
from typing import Any

import numpy as np

__all__ = ["BLOCKS", "MAX_TERM_CHARS", "MAX_TEXT_CHARS", "TfidfBlock", "TfidfFeatures", "fit_tfidf"]

# (analyzer, ngram_range) of each block, in column order.
BLOCKS: tuple[tuple[str, tuple[int, int]], ...] = (("word", (1, 2)), ("char_wb", (2, 5)))
LOOKUP_CHUNK = 1024  # texts whose n-grams are looked up at once ...
CHUNK_CHARS = 4_000_000  # ... and their characters at most (a longer single text goes alone)
MAX_TEXT_CHARS = 1_000_000  # the part of a text that counts, in training and in use alike
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
    s = _padded_words(text)
    size = len(s)
    grams: list[str] = []
    for n in range(lo, hi + 1):
        grams.extend([s[i : i + n] for i in range(size - n + 1)])
    return grams


def _padded_words(text: str) -> str:
    """The lowercased words, each padded with a space on both sides, one after the other: " a  b "."""
    return " " + "  ".join(_SPACES.sub(" ", text.lower()).split()) + " "


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

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the terms once: the vocabulary is rebuilt from them."""
        return {k: v for k, v in self.__dict__.items() if k not in ("vocabulary", "_index")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__post_init__()

    def transform(self, texts: Sequence[str]):
        """Rows of L2-normalised sublinear TF-IDF, as a scipy CSR matrix (float32)."""
        from scipy.sparse import csr_matrix, vstack

        texts = [t[:MAX_TEXT_CHARS] for t in texts]
        index = self._char_index() if self.analyzer == "char_wb" else None
        lookup = index.lookup if index is not None else self._lookup
        # Each chunk becomes its rows before the next is looked up: until its duplicates are summed every n-gram
        # found is two int64s, and collecting them for all texts first took 7.3 GB for 48 MB of long texts.
        parts = [self._rows(*lookup(texts[start:stop]), stop - start) for start, stop in _chunks(texts)]
        if not parts:
            return csr_matrix((0, len(self.terms)), dtype=np.float32)
        return vstack(parts, format="csr", dtype=np.float32)

    def _rows(self, rows: np.ndarray, cols: np.ndarray, n_rows: int):
        """The TF-IDF rows of ``n_rows`` texts from the (row, column) of every term occurrence in them."""
        from scipy.sparse import csr_matrix

        # COO -> CSR sums duplicates: the data become term counts per row
        m = csr_matrix((np.ones(len(cols)), (rows, cols)), (n_rows, len(self.terms)))
        m.sum_duplicates()
        m.data = (1.0 + np.log(m.data)) * self.idf[m.indices]
        lengths = np.diff(m.indptr)
        row_of = np.repeat(np.arange(n_rows), lengths)
        norms = np.sqrt(np.bincount(row_of, weights=m.data**2, minlength=n_rows))
        m.data /= np.repeat(np.where(norms > 0, norms, 1.0), lengths)
        return m.astype(np.float32)

    def _lookup(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(row, column) of every n-gram of every text that is a term: Python dict lookups."""
        analyze, (lo, hi), get = _ANALYZERS[self.analyzer], self.ngram_range, self.vocabulary.get
        rows: list[int] = []
        cols: list[int] = []
        for r, text in enumerate(texts):
            found = list(filter(_is_term, map(get, analyze(text, lo, hi))))
            cols.extend(found)
            rows.extend([r] * len(found))
        return np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64)

    def _char_index(self) -> CharNgramIndex | None:
        if "_index" not in self.__dict__:
            self._index = CharNgramIndex.build(self.terms, self.ngram_range)
        return self._index


class CharNgramIndex:
    """Character n-gram lookup with numpy: each n-gram packed into one integer, found by binary search.

    The terms' characters form an alphabet; a character gets its rank in it
    (1..A; 0 for any character no term has), and an n-gram of ranks packs into
    a 64-bit key at ``bits`` bits a character, exactly, so a key matches only
    its own term. The texts of a batch are laid end to end, each padded as
    :func:`char_wb_ngrams` does, with a rank-0 gap between texts, so every
    n-gram of every text is keyed in a few array operations instead of one
    Python slice and dict lookup per n-gram (about 10x faster on short texts).
    An alphabet too large to pack ``hi`` characters in 63 bits (over 4,095
    characters at n=5) has no index, and the dict lookup is used.
    """

    def __init__(self, alphabet: np.ndarray, bits: int, lo: int, hi: int, keys: dict[int, tuple]) -> None:
        self.alphabet, self.bits, self.lo, self.hi, self.keys = alphabet, bits, lo, hi, keys
        # rank (1..A) by code point, 0 for characters no term has, and one more 0 at the end for everything
        # higher; uint16 fits, since an index exists only for alphabets under 4,096
        top = int(alphabet[-1]) + 2 if len(alphabet) else 2
        self.rank_table = np.zeros(top, dtype=np.uint16)
        self.rank_table[alphabet] = np.arange(1, len(alphabet) + 1, dtype=np.uint16)

    @classmethod
    def build(cls, terms: list[str], ngram_range: tuple[int, int]) -> CharNgramIndex | None:
        lo, hi = ngram_range
        alphabet = np.array(sorted({ord(c) for t in terms for c in t}), dtype=np.uint32)
        bits = max(len(alphabet).bit_length(), 1)
        if bits * hi > 63:
            return None
        keys = {}
        for n in range(lo, hi + 1):
            cols = np.array([i for i, t in enumerate(terms) if len(t) == n], dtype=np.int64)
            packed = np.zeros(len(cols), dtype=np.uint64)
            if len(cols):
                ranks = np.searchsorted(alphabet, _codepoints("".join(terms[i] for i in cols))).reshape(-1, n) + 1
                packed = cls._pack(ranks.astype(np.uint64), bits)
            order = np.argsort(packed, kind="stable")
            keys[n] = (packed[order], cols[order])
        return cls(alphabet, bits, lo, hi, keys)

    @staticmethod
    def _pack(windows: np.ndarray, bits: int) -> np.ndarray:
        key = np.zeros(windows.shape[0], dtype=np.uint64)
        for j in range(windows.shape[1]):
            key |= windows[:, j] << np.uint64(bits * j)
        return key

    def lookup(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        docs = [_padded_words(t) for t in texts]
        lengths = np.array([len(d) + 1 for d in docs], dtype=np.int64)  # each text and its gap
        cps = _codepoints(" ".join(docs) + " ")
        table = self.rank_table
        rank = table[np.minimum(cps, len(table) - 1)].astype(np.uint64)  # the last entry, 0: past the alphabet
        rank[np.cumsum(lengths) - 1] = 0  # the gaps: no n-gram runs from one text into the next
        row_of = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
        unknown = np.concatenate([[0], np.cumsum(rank == 0)])
        rows, cols = [], []
        key = rank  # the n-grams starting at each position, packed; grown by one character a step
        for n in range(1, self.hi + 1):
            if n > 1:
                key = key[:-1] | (rank[n - 1 :] << np.uint64(self.bits * (n - 1)))
            terms, columns = self.keys.get(n, (None, None))
            if n < self.lo or not len(key) or not len(terms):
                continue
            ok = np.flatnonzero(unknown[n:] == unknown[: len(key)])  # no rank-0 character inside
            pos = np.minimum(np.searchsorted(terms, key[ok]), len(terms) - 1)
            hit = terms[pos] == key[ok]
            rows.append(row_of[ok[hit]])
            cols.append(columns[pos[hit]])
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(rows), np.concatenate(cols)


def _chunks(texts: list[str]) -> list[tuple[int, int]]:
    """(start, stop) spans of at most LOOKUP_CHUNK texts and CHUNK_CHARS characters (or one text)."""
    spans, start, chars = [], 0, 0
    for i, text in enumerate(texts):
        if i > start and (i - start >= LOOKUP_CHUNK or chars + len(text) > CHUNK_CHARS):
            spans.append((start, i))
            start, chars = i, 0
        chars += len(text)
    if start < len(texts):
        spans.append((start, len(texts)))
    return spans


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


@dataclass
class TfidfFeatures:
    """The sparse half of the hybrid head: blocks side by side, each scaled by ``weight``."""

    blocks: list[TfidfBlock]
    weight: float = 0.5
    unicode: str | None = None  # the normal form texts are put in first ("NFC"); None: as they come

    @property
    def n_features(self) -> int:
        return sum(len(b.terms) for b in self.blocks)

    def transform(self, texts: Sequence[str]):
        from scipy.sparse import hstack

        texts = _normalized(texts, self.unicode)
        m = hstack([b.transform(texts) for b in self.blocks], format="csr", dtype=np.float32)
        m.data *= np.float32(self.weight)
        return m

    def info(self) -> dict[str, Any]:
        """What the manifest records (the terms and idf go in their own member)."""
        blocks = [
            {"analyzer": b.analyzer, "ngram_range": list(b.ngram_range), "n_terms": len(b.terms)} for b in self.blocks
        ]
        return {"weight": self.weight, "blocks": blocks, **({"unicode": self.unicode} if self.unicode else {})}


def _normalized(texts: Sequence[str], form: str | None) -> list[str]:
    if form is None:
        return list(texts)
    return [t if unicodedata.is_normalized(form, t) else unicodedata.normalize(form, t) for t in texts]


def fit_tfidf(
    texts: Sequence[str], weight: float = 0.5, max_terms: int | None = None, unicode: str | None = "NFC"
) -> TfidfFeatures:
    """Learn the vocabulary and idf of every block from ``texts`` (needs scikit-learn).

    ``max_terms`` caps the terms of all blocks together (each block keeps its most frequent
    half of them), which bounds the head's weights to classes x (dim + max_terms).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    per_block = None if max_terms is None else max(max_terms // len(BLOCKS), 1)
    texts = _normalized(texts, unicode)
    blocks = []
    for analyzer, ngram_range in BLOCKS:
        vec = TfidfVectorizer(
            analyzer=analyzer, ngram_range=ngram_range, sublinear_tf=True, max_features=per_block, dtype=np.float64
        )
        try:
            vec.fit([t[:MAX_TEXT_CHARS] for t in texts])
        except ValueError:  # no term at all (texts of single characters): an empty block
            blocks.append(TfidfBlock(analyzer, ngram_range, [], np.zeros(0)))
            continue
        terms = [str(t) for t in vec.get_feature_names_out()]
        blocks.append(TfidfBlock(analyzer, ngram_range, terms, vec.idf_.astype(np.float64)))
    return TfidfFeatures(blocks, weight, unicode)
