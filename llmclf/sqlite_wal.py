"""Opening a SQLite file in WAL mode when other processes may be opening it too.

``PRAGMA journal_mode=WAL`` needs an exclusive lock. When two connections race for it
on a fresh file, SQLite answers SQLITE_BUSY at once, without calling the busy handler,
because waiting could deadlock: the ``timeout`` given to ``sqlite3.connect`` does not
cover it. So the opening steps are retried, with growing pauses, for up to ``timeout``
seconds. (Seen as "database is locked" in about 1 of 30 rounds of six processes
opening one new database.) :func:`immediate` is one write transaction on such a
connection.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator

__all__ = ["connect_wal", "immediate", "is_busy"]

SQLITE_BUSY, SQLITE_LOCKED = 5, 6


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` is SQLite's "busy" or "locked" (extended codes included)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in (SQLITE_BUSY, SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


def connect_wal(
    path: str | os.PathLike[str], *, timeout: float = 30.0, pragmas: tuple[str, ...] = (), page_size: int | None = None
) -> sqlite3.Connection:
    """A connection in autocommit mode with WAL journaling and then ``pragmas`` applied. ``page_size`` is that of a
    new file (set before WAL, which fixes it; an existing file keeps its own)."""
    deadline = time.monotonic() + timeout
    pause = 0.005
    while True:
        db = sqlite3.connect(path, check_same_thread=False, timeout=timeout, isolation_level=None)
        try:
            db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            if page_size is not None:
                db.execute(f"PRAGMA page_size={int(page_size)}")
            db.execute("PRAGMA journal_mode=WAL")
            for pragma in pragmas:
                db.execute(pragma)
            return db
        except sqlite3.Error as exc:
            db.close()
            if not is_busy(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.25)


@contextlib.contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` on an autocommit connection: all of it, or none. A failed ROLLBACK
    (SQLite has often rolled back already, as on a full disk) never hides the error that caused it."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
        raise
