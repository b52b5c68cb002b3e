"""Embeddings kept on disk, so retraining re-embeds only texts it has never seen.

Keyed by the embedder (its id, its verified weights digest and its settings)
and the sha256 of the text, in one SQLite file under the user cache dir
(``$LLMCLF_CACHE_DIR/vectors-2.sqlite``). A cache is an optimisation, never a
dependency: if the file cannot be opened, read or written (a full disk, a
read-only home, a corrupt file), training goes on without it. Set
``LLMCLF_VECTOR_CACHE=0`` to turn it off; delete the file to empty it.

It keeps about ``LLMCLF_VECTOR_CACHE_MB`` (default 1024) MiB of vectors: past
that, those used longest ago go after each write, and their space takes new
ones, so the file stops growing (at about the bound plus the biggest single
write: one training run's new texts). Rows sit in 16 KiB pages of a rowid
table, about 2 KB for a 384-d vector. The file before it (``vectors.sqlite``,
a WITHOUT ROWID table in 4 KiB pages, where each vector took an overflow page
of its own: 4.8 KB) grew without end; it is removed when this one is made.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from .errors import InputError
from .paths import env_switch, user_cache_dir
from .sqlite_wal import connect_wal, immediate

__all__ = ["VectorCache", "vector_cache_for"]

_BATCH = 500
MAX_MB = 1024  # default bound on the rows' size (LLMCLF_VECTOR_CACHE_MB)
MARK_EVERY_NS = 3600 * 10**9  # a row read again within an hour of its last mark is not marked again
FILE_NAME = "vectors-2.sqlite"
OLDER_FILES = ("vectors.sqlite",)  # of llmclf before the bound: removed with their logs when this one is made
PAGE_SIZE = 16384  # a 384-d row (1.6 KB) fits a page's cell; in 4 KiB pages it overflowed into a page of its own


def _key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:16]


def _chunks(keys: list[bytes]) -> Iterator[list[bytes]]:
    for start in range(0, len(keys), _BATCH):
        yield keys[start : start + _BATCH]


def _marks(chunk: list[bytes]) -> str:
    return ",".join("?" * len(chunk))


def _remove_older(folder: Path) -> None:
    for name in OLDER_FILES:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                (folder / f"{name}{suffix}").unlink()


def _file_bytes(path: str | os.PathLike[str]) -> int:
    """The database's size with its write-ahead log (where new rows are until a checkpoint)."""
    size = 0
    for name in (os.fspath(path), f"{os.fspath(path)}-wal"):
        with contextlib.suppress(OSError):
            size += os.stat(name).st_size
    return size


def bound_from_env() -> int:
    """``LLMCLF_VECTOR_CACHE_MB`` in bytes (default :data:`MAX_MB`); anything but a number above 0 is an InputError."""
    raw = os.environ.get("LLMCLF_VECTOR_CACHE_MB", "").strip()
    try:
        mb = float(raw) if raw else MAX_MB
    except ValueError:
        mb = -1.0
    if not mb > 0 or mb == float("inf"):
        raise InputError(f"LLMCLF_VECTOR_CACHE_MB must be a number of MiB above 0, not {raw!r}")
    return int(mb * 2**20)


class VectorCache:
    def __init__(
        self, namespace: str, dim: int, path: str | os.PathLike[str] | None = None, max_bytes: int | None = None
    ) -> None:
        self.namespace, self.dim = namespace, dim
        self.path = Path(path) if path is not None else user_cache_dir() / FILE_NAME
        self.max_bytes = max_bytes if max_bytes is not None else MAX_MB * 2**20
        self.mark_every_ns = MARK_EVERY_NS
        self._db: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection | None:
        if self._db is None:
            db = None
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if self.path.name == FILE_NAME and not self.path.exists():
                    _remove_older(self.path.parent)
                db = connect_wal(
                    self.path, timeout=10, page_size=PAGE_SIZE, pragmas=("PRAGMA wal_autocheckpoint=256",)
                )  # 4 MiB of log, as with 4 KiB pages
                db.execute(
                    "CREATE TABLE IF NOT EXISTS vectors (namespace TEXT NOT NULL, text_key BLOB NOT NULL,"
                    " vector BLOB NOT NULL, used INTEGER NOT NULL, UNIQUE (namespace, text_key))"
                )
                db.execute("CREATE INDEX IF NOT EXISTS vectors_by_use ON vectors (used)")
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
        now = time.time_ns()
        stale: list[bytes] = []  # found, and last marked used over an hour ago (a mark rewrites the row)
        with contextlib.suppress(sqlite3.Error):
            for chunk in _chunks(keys):
                rows = db.execute(
                    f"SELECT text_key, vector, used FROM vectors WHERE namespace = ? AND text_key IN ({_marks(chunk)})",
                    (self.namespace, *chunk),
                ).fetchall()
                for key, blob, used in rows:
                    vec = self._vector(blob)
                    if vec is not None:
                        found[by_key[key]] = vec
                        if not isinstance(used, int) or used < now - self.mark_every_ns:
                            stale.append(key)
        if stale:  # used now: the last to go
            with contextlib.suppress(sqlite3.Error), immediate(db):
                for chunk in _chunks(stale):
                    db.execute(
                        f"UPDATE vectors SET used = ? WHERE namespace = ? AND text_key IN ({_marks(chunk)})",
                        (now, self.namespace, *chunk),
                    )
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
        now = time.time_ns()
        rows = [(self.namespace, _key(t), np.asarray(v, dtype=np.float32).tobytes(), now) for t, v in vectors.items()]
        with contextlib.suppress(sqlite3.Error), immediate(db):
            db.executemany(
                "INSERT OR REPLACE INTO vectors (namespace, text_key, vector, used) VALUES (?, ?, ?, ?)", rows
            )
            self._trim(db)

    def _trim(self, db: sqlite3.Connection) -> None:
        """Past :attr:`max_bytes` of pages in use, the rows used longest ago go, down to nine tenths of it; the
        pages they free take the next rows, so the file stops growing. Rows are counted only once it is that big."""
        if _file_bytes(self.path) <= self.max_bytes:
            return
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        pages = db.execute("PRAGMA page_count").fetchone()[0] - db.execute("PRAGMA freelist_count").fetchone()[0]
        rows = db.execute("SELECT count(*) FROM vectors").fetchone()[0]
        if page_size * pages <= self.max_bytes or not rows:
            return
        keep = int(self.max_bytes * 0.9 / (page_size * pages / rows))
        db.execute(
            "DELETE FROM vectors WHERE rowid IN (SELECT rowid FROM vectors ORDER BY used LIMIT ?)", (rows - keep,)
        )


def vector_cache_for(embedder) -> VectorCache | None:
    """A cache for ``embedder``, or None when its weights are not verified (their vectors could not be told apart)."""
    if not env_switch("LLMCLF_VECTOR_CACHE", True):
        return None
    weights = getattr(embedder, "weights_sha256", None)
    if not weights:
        return None
    namespace = f"{embedder.id}:{weights}:{embedder.dim}:{getattr(embedder, 'max_length', '')}"
    return VectorCache(namespace, embedder.dim, max_bytes=bound_from_env())
