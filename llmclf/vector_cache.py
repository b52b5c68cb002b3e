"""Embeddings kept on disk, so retraining re-embeds only texts it has never seen.

Keyed by the embedder (its id, its verified weights digest and its settings)
and the sha256 of the text, in one SQLite file under the user cache dir
(``$LLMCLF_CACHE_DIR/vectors.sqlite``). A cache is an optimisation, never a
dependency: if the file cannot be opened, read or written (a full disk, a
read-only home, a corrupt file), training goes on without it. Set
``LLMCLF_VECTOR_CACHE=0`` to turn it off; delete the file to empty it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from collections.abc import Sequence

import numpy as np

from .paths import env_switch, user_cache_dir
from .sqlite_wal import connect_wal

__all__ = ["VectorCache", "vector_cache_for"]

_BATCH = 500


def _key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:16]


class VectorCache:
    def __init__(self, namespace: str, dim: int, path: str | os.PathLike[str] | None = None) -> None:
        self.namespace, self.dim = namespace, dim
        self.path = path or user_cache_dir() / "vectors.sqlite"
        self._db: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection | None:
        if self._db is None:
            db = None
            try:
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
                db = connect_wal(self.path, timeout=10)
                db.execute(
                    "CREATE TABLE IF NOT EXISTS vectors (namespace TEXT NOT NULL, text_key BLOB NOT NULL,"
                    " vector BLOB NOT NULL, PRIMARY KEY (namespace, text_key)) WITHOUT ROWID"
                )
                self._db = db
            except (sqlite3.Error, OSError):
                if db is not None:
                    db.close()
                return None
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __del__(self) -> None:  # let go, it closes its connection: Python 3.13 warns of one left open
        with contextlib.suppress(Exception):
            self.close()

    def get(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors of those ``texts`` that have one."""
        db = self._open()
        if db is None or not texts:
            return {}
        by_key = {_key(t): t for t in texts}
        keys = list(by_key)
        found: dict[str, np.ndarray] = {}
        with contextlib.suppress(sqlite3.Error):
            for start in range(0, len(keys), _BATCH):
                chunk = keys[start : start + _BATCH]
                rows = db.execute(
                    f"SELECT text_key, vector FROM vectors WHERE namespace = ? AND text_key IN ({','.join('?' * len(chunk))})",
                    (self.namespace, *chunk),
                ).fetchall()
                for key, blob in rows:
                    vec = self._vector(blob)
                    if vec is not None:
                        found[by_key[key]] = vec
        return found

    def _vector(self, blob: object) -> np.ndarray | None:
        """A stored vector, or None for anything this class did not write (a damaged or edited file is a miss)."""
        if not isinstance(blob, bytes) or len(blob) != 4 * self.dim:
            return None
        vec = np.frombuffer(blob, dtype=np.float32)
        return vec if np.isfinite(vec).all() else None

    def put(self, vectors: dict[str, np.ndarray]) -> None:
        db = self._open()
        if db is None or not vectors:
            return
        rows = [(self.namespace, _key(t), np.asarray(v, dtype=np.float32).tobytes()) for t, v in vectors.items()]
        with contextlib.suppress(sqlite3.Error):
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)
                db.execute("COMMIT")
            except sqlite3.Error:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")


def vector_cache_for(embedder) -> VectorCache | None:
    """A cache for ``embedder``, or None when its weights are not verified (their vectors could not be told apart)."""
    if not env_switch("LLMCLF_VECTOR_CACHE", True):
        return None
    weights = getattr(embedder, "weights_sha256", None)
    if not weights:
        return None
    namespace = f"{embedder.id}:{weights}:{embedder.dim}:{getattr(embedder, 'max_length', '')}"
    return VectorCache(namespace, embedder.dim)
