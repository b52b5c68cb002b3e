"""MiniLM with fine-tuned weights, run on the shipped, pinned ONNX graph.

A fine-tuned bundle (``llmclf train --finetune``) carries no model graph: it
carries the tuned *weights* (``encoder.npz``), and they replace the shipped
graph's initializers of the same name, shape and dtype through onnxruntime's
``SessionOptions.add_initializer``. So a bundle from a stranger is still inert
data: the graph that runs is always the one verified against its digest in
:mod:`llmclf.model_files`, and the tuned arrays are checked against
:data:`TUNED` (names, dtypes, shapes, finite values, positive scales) and
against the digest in the manifest before a session sees them.

Which weights: every tensor of the six transformer layers, the position
embeddings and the embedding LayerNorm. The word embeddings (30,522 x 384) stay
as shipped: they are most of the model's bytes, and SetFit-style tuning on a
few hundred pairs barely moves them. Matrices are stored as the shipped graph
stores them: int8 with one float32 scale per output column (symmetric,
``max|w| / 127``).

In the graph each int8 matrix ``X_q`` is ``Cast`` and multiplied by ``X_scale``
into ``X``; onnxruntime's constant folding turns that into one float32
initializer named ``X`` before overrides of ``X_q`` apply. So both are
overridden: ``X`` (dequantised here) takes effect when the graph is folded, as
it is by default, and ``X_q``/``X_scale`` when it is not. A tuned model runs
as fast as the shipped one (``bench/suite.py --finetune``), and a check at load
makes sure the tuned weights did take effect.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from .embedding import MiniLMEmbedder, _minilm_files, env_threads
from .errors import BundleError, LlmclfError

__all__ = ["IN_BATCH_LOSS", "TUNED", "TunedMiniLM", "encoder_digest", "quantize_columns"]

IN_BATCH_LOSS = "in-batch"  # the fine-tune's loss for many classes (llmclf.finetune); else "pairs"

HIDDEN, INTERMEDIATE, LAYERS, POSITIONS = 384, 1536, 6, 512
# The shipped graph's names for the int8 matrices, layer by layer, in the order
# query, key, value, attention output, intermediate, output (see MATRICES).
_MATRIX_IDS = (
    (49, 57, 65, 105, 109, 118),
    (122, 130, 138, 176, 180, 189),
    (193, 201, 209, 247, 251, 260),
    (264, 272, 280, 318, 322, 331),
    (335, 343, 351, 389, 393, 402),
    (406, 414, 422, 460, 464, 473),
)
MATRICES = (
    ("attention.self.query", HIDDEN, HIDDEN),
    ("attention.self.key", HIDDEN, HIDDEN),
    ("attention.self.value", HIDDEN, HIDDEN),
    ("attention.output.dense", HIDDEN, HIDDEN),
    ("intermediate.dense", HIDDEN, INTERMEDIATE),
    ("output.dense", INTERMEDIATE, HIDDEN),
)
VECTORS = (
    ("attention.self.query.bias", HIDDEN),
    ("attention.self.key.bias", HIDDEN),
    ("attention.self.value.bias", HIDDEN),
    ("attention.output.dense.bias", HIDDEN),
    ("attention.output.LayerNorm.weight", HIDDEN),
    ("attention.output.LayerNorm.bias", HIDDEN),
    ("intermediate.dense.bias", INTERMEDIATE),
    ("output.dense.bias", HIDDEN),
    ("output.LayerNorm.weight", HIDDEN),
    ("output.LayerNorm.bias", HIDDEN),
)


@functools.cache
def tuned_tensors() -> dict[str, tuple[str, tuple[int, ...], str]]:
    """graph initializer name -> (dtype, shape, the transformers parameter it comes from).

    A matrix's parameter is named once, on its ``_q`` entry; its ``_scale`` entry names it too.
    Shapes are the graph's: transformers stores a Linear as (out, in), the graph as (in, out).
    """
    table: dict[str, tuple[str, tuple[int, ...], str]] = {}
    for name in ("embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"):
        table[f"inner.{name}"] = ("float32", (HIDDEN,), name)
    position = "embeddings.position_embeddings.weight"
    table[f"inner.{position}_q"] = ("int8", (POSITIONS, HIDDEN), position)
    table[f"inner.{position}_scale"] = ("float32", (POSITIONS, 1), position)
    for layer, ids in enumerate(_MATRIX_IDS):
        prefix = f"encoder.layer.{layer}."
        for vid, (what, rows, cols) in zip(ids, MATRICES, strict=True):
            table[f"val_{vid}_q"] = ("int8", (rows, cols), f"{prefix}{what}.weight")
            table[f"val_{vid}_scale"] = ("float32", (1, cols), f"{prefix}{what}.weight")
        for what, size in VECTORS:
            table[f"inner.{prefix}{what}"] = ("float32", (size,), f"{prefix}{what}")
    return table


TUNED = tuple(tuned_tensors())  # the member's array names, in the order the digest reads them


def quantize_columns(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A (in, out) float matrix as the shipped graph stores one: int8 and a (1, out) scale, max|w| / 127.

    Per row instead for the position embeddings (their scale is (rows, 1)): pass ``weight.T`` and transpose back.
    """
    scale = np.maximum(np.abs(weight).max(axis=0, keepdims=True), 1e-12) / 127.0
    q = np.clip(np.rint(weight / scale), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


def encoder_digest(arrays: Mapping[str, np.ndarray]) -> str:
    """sha256 over every tuned array (name, dtype, shape, bytes) in :data:`TUNED` order."""
    h = hashlib.sha256(b"llmclf-tuned-minilm-1\0")
    for name in TUNED:
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def check_arrays(arrays: Mapping[str, np.ndarray], what: str) -> None:
    """Exactly :data:`TUNED`, each of its dtype and shape, floats finite and scales positive; else BundleError."""
    names = set(arrays)
    if names != set(TUNED):
        extra, missing = sorted(names - set(TUNED))[:3], sorted(set(TUNED) - names)[:3]
        raise BundleError(f"{what} does not hold the tuned MiniLM tensors (unknown: {extra}, missing: {missing})")
    for name, (dtype, shape, _) in tuned_tensors().items():
        a = arrays[name]
        if a.dtype != np.dtype(dtype) or a.shape != shape:
            raise BundleError(f"{what}: {name} is {a.dtype} {a.shape}, expected {dtype} {shape}")
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise BundleError(f"{what}: {name} holds NaN or infinite values")
        if name.endswith("_scale") and not (a > 0).all():
            raise BundleError(f"{what}: {name} holds a scale that is not positive")


class TunedMiniLM(MiniLMEmbedder):
    """The shipped MiniLM graph with tuned weights in place of its own (see the module docstring)."""

    base_id = MiniLMEmbedder.id

    def __init__(self, arrays: Mapping[str, np.ndarray], loss: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loss = loss  # the fine-tune's loss, "pairs" or IN_BATCH_LOSS (None: not known); it decides calibration
        check_arrays(arrays, "tuned encoder")
        self.arrays = {name: np.ascontiguousarray(arrays[name]) for name in TUNED}
        self.tuned_sha256 = encoder_digest(self.arrays)
        self.id = f"{self.base_id}+tuned-{self.tuned_sha256[:16]}"  # also the vector cache's namespace

    def _load(self) -> None:
        import onnxruntime as ort

        from .embedding import _load_minilm, _onnx_session

        threads = self.threads if self.threads is not None else env_threads()
        shipped, tokenizer = _load_minilm(self.max_length, threads)  # the shipped session checks the weights took
        overrides = dict(self.arrays)
        for name in TUNED:
            if name.endswith("_q"):  # the folded float32 matrix (see the module docstring)
                base = name.removesuffix("_q")
                overrides[base] = self.arrays[name].astype(np.float32) * self.arrays[f"{base}_scale"]
        # onnxruntime keeps pointers into these arrays: they live as long as this embedder
        self._ort_values = {n: ort.OrtValue.ortvalue_from_numpy(a) for n, a in overrides.items()}
        tuned = _onnx_session(ort, _minilm_files()[0], threads, self._ort_values)
        self._tokenizer = tokenizer
        probe = ["a probe sentence to check that the tuned weights are in use"]
        self._session = shipped
        before = self.embed(probe)
        self._session = tuned
        if np.allclose(self.embed(probe), before, atol=1e-6):
            self._session = None
            raise LlmclfError(
                "onnxruntime ignored the tuned MiniLM weights: this onnxruntime folds the graph otherwise"
            )

    def __getstate__(self) -> dict:
        return {**super().__getstate__(), "_ort_values": None}
