"""The SQLite store: tag sets now, runs and feedback later.

The schema grows through :data:`MIGRATIONS`, an append-only list applied in
order and recorded in ``PRAGMA user_version``; ``PRAGMA application_id`` marks
the file as llmclf's, and a database that holds something else is refused
before anything in it changes. The database runs in WAL mode
so readers never wait for the writer: every write goes through one
connection guarded by a lock (one writer path), and every read through a
connection of its own, taken from a small pool (a service thread reading
100,000 feedback rows held up every write for 0.4 s when reads shared the
writer's connection and lock). Where no read connection can be opened (a
service at its open-files limit), reads go through the writer's again.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .blank import is_blank
from .classfiles import read_tag_file  # re-exported: it was defined here
from .errors import InputError, StoreError
from .inputs import name_form, one_line
from .paths import url_in_path, user_data_dir
from .sqlite_wal import connect_wal, immediate

__all__ = ["APPLICATION_ID", "MIGRATIONS", "Store", "Tag", "default_db_path", "read_tag_file"]

MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = []
MAX_IDLE_READERS = 8  # read connections kept open between reads; more readers at once open more, then close them
APPLICATION_ID = 0x6C6C6D63  # b"llmc": SQLite's own mark of which program a file belongs to


def migration(fn: Callable[[sqlite3.Connection], None]) -> Callable[[sqlite3.Connection], None]:
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_tag_sets(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE tags (
            set_name TEXT NOT NULL,
            tag_id TEXT NOT NULL,
            name TEXT NOT NULL,
            instructions TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (set_name, tag_id),
            UNIQUE (set_name, name)
        )
        """
    )


@migration
def m002_runs_and_feedback(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            kind TEXT NOT NULL,            -- 'classify' or 'tag'
            target TEXT NOT NULL,          -- 'model:<model_id>' or 'set:<name>'
            source TEXT NOT NULL,          -- the bundle path or tag set name, for people
            text TEXT NOT NULL,
            prediction TEXT,               -- JSON: a label, a list of tag names, or null
            probabilities TEXT,            -- JSON object or null
            labels TEXT NOT NULL           -- JSON list of the labels a correction may use
        )
        """
    )
    db.execute("CREATE INDEX runs_target ON runs (target)")
    db.execute(
        """
        CREATE TABLE feedback (
            run_id TEXT PRIMARY KEY REFERENCES runs (run_id),
            score INTEGER,
            correction TEXT,
            updated_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE example_vectors (
            embedder TEXT NOT NULL,
            text TEXT NOT NULL,
            vector BLOB NOT NULL,
            PRIMARY KEY (embedder, text)
        )
        """
    )


@migration
def m003_label_sets(db: sqlite3.Connection) -> None:
    """Labels once per model or tag set, not on every run (77 labels were ~1.5 KB a row)."""
    db.execute("CREATE TABLE label_sets (id INTEGER PRIMARY KEY, labels TEXT NOT NULL UNIQUE)")
    db.execute("ALTER TABLE runs ADD COLUMN label_set INTEGER REFERENCES label_sets (id)")
    db.execute("CREATE INDEX runs_created ON runs (created_at)")


@migration
def m004_feedback_versions(db: sqlite3.Connection) -> None:
    """A counter per target that every change to its feedback bumps, whichever process or program makes it: the
    service reads a set's feedback dataset again only when it changed (100,000 examples took a second a request)."""
    db.execute("CREATE TABLE feedback_versions (target TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        db.execute(
            f"""
            CREATE TRIGGER feedback_{event.lower()}_bumps AFTER {event} ON feedback BEGIN
                INSERT INTO feedback_versions (target, version)
                    SELECT target, 1 FROM runs WHERE run_id = {row}.run_id
                    ON CONFLICT (target) DO UPDATE SET version = version + 1;
            END
            """
        )


def _refuse_foreign(path: Path) -> None:
    """Raise if ``path`` is another program's database: looked at read-only, so a refused file is left as it was
    (opening it for writing would already switch it to WAL). Empty, llmclf's, or llmclf's from before the
    application id (a schema version of ours and our ``tags`` table) pass."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30, isolation_level=None)
    try:
        db.execute("BEGIN")  # one snapshot: another process may be creating this file right now
        owner = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = sorted(row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
    finally:
        db.close()
    if owner == APPLICATION_ID or (owner == 0 and not tables):
        return
    if owner == 0 and 1 <= version <= len(MIGRATIONS) and "tags" in tables:
        return
    held = (
        f"application id {owner:#x}" if owner else f"tables {', '.join(tables[:5])}" + (", ..." if tables[5:] else "")
    )
    raise StoreError(f"{path} is not an llmclf database (it holds {held}); give llmclf a file of its own")


def default_db_path() -> Path:
    return user_data_dir() / "llmclf.db"


@dataclass(frozen=True)
class Tag:
    tag_id: str
    name: str
    instructions: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"tag_id": self.tag_id, "name": self.name, "instructions": self.instructions}


def _clean_tag(tag_id: object, name: object, instructions: object) -> Tag:
    tag_id = str(tag_id).strip() if tag_id is not None else ""
    name = str(name).strip() if name is not None else ""
    if is_blank(tag_id):
        raise InputError("tag id is empty")
    if is_blank(name):
        raise InputError(f"tag {tag_id!r} has an empty name")
    return Tag(one_line(tag_id, "tag id"), one_line(name_form(name), "tag name"), str(instructions or "").strip())


class Store:
    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        if url := url_in_path(self.path):
            raise StoreError(f"cannot open database {url}: SQLite databases are local files, not URLs")
        if self.path.is_dir():  # SQLite said only "unable to open database file"
            raise StoreError(
                f"cannot open database {self.path}: it is a folder; give a file, such as {self.path / 'llmclf.db'}"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _refuse_foreign(self.path)
            self._db = connect_wal(self.path, timeout=30, pragmas=("PRAGMA synchronous=NORMAL",))
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from None
        self._lock = threading.Lock()
        self._readers: list[sqlite3.Connection] = []  # idle read connections, at most MAX_IDLE_READERS
        self._readers_lock = threading.Lock()
        self._closed = False
        self._in_memory = str(self.path) == ":memory:"  # SQLite's name for a database that lives in one connection
        self._where = self.path.absolute()  # where read connections open it, whatever folder the process moves to
        self._migrate()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction on the one writer path: all of it, or none.

        A failed ROLLBACK (SQLite has often rolled back already, as on a full disk)
        never hides the error that caused it; SQLite errors become one StoreError.
        """
        with self._lock, self._errors(), immediate(self._db) as db:
            yield db

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path}: {exc}") from None

    def _migrate(self) -> None:
        """Bring the schema up to date inside one write transaction.

        The version is read under BEGIN IMMEDIATE, so several processes opening one
        fresh file at once take turns: the first migrates, the others see it done.
        """
        with self.transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise InputError(f"database {self.path} is from a newer llmclf (schema {version}); upgrade llmclf")
            for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
                step(db)
                db.execute(f"PRAGMA user_version = {number}")
            if db.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")

    def write(self, sql: str, params: Iterable[object] = ()) -> sqlite3.Cursor:
        """Run one write statement in its own transaction, on the one writer path."""
        with self._lock, self._errors():
            return self._db.execute(sql, tuple(params))

    def write_many(self, sql: str, rows: Iterable[Iterable[object]]) -> None:
        """Many rows in one transaction: all or none."""
        with self.transaction() as db:
            db.executemany(sql, [tuple(r) for r in rows])

    def read(self, sql: str, params: Iterable[object] = ()) -> list[sqlite3.Row]:
        """Rows of one query, on a read connection: it sees every committed write and never waits for one."""
        with self._errors(), self._reader() as db:
            return db.execute(sql, tuple(params)).fetchall()

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        with self._readers_lock:
            db = self._readers.pop() if self._readers else None
        if db is None and not self._in_memory:  # another connection to ":memory:" opens a database of its own
            try:
                db = self._open_reader()
            except sqlite3.OperationalError:  # at the open-files limit no file is left for one: the writer's reads
                db = None
        if db is None:
            with self._lock:
                yield self._db
            return
        try:
            yield db
        finally:
            with self._readers_lock:
                keep = not self._closed and len(self._readers) < MAX_IDLE_READERS and not db.in_transaction
                if keep:
                    self._readers.append(db)
            if not keep:
                db.close()

    def _open_reader(self) -> sqlite3.Connection:
        """A connection that may only read (``query_only``), in autocommit: each query sees the latest commit."""
        db = sqlite3.connect(self._where, check_same_thread=False, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA query_only=ON")
        except sqlite3.Error:
            db.close()
            raise
        return db

    def close(self) -> None:
        with self._readers_lock:
            self._closed = True
            readers, self._readers = self._readers, []
        for db in readers:
            db.close()
        self._db.close()

    def __del__(self) -> None:  # a Store let go closes its connections: Python 3.13 warns of one left open
        with contextlib.suppress(Exception):
            self.close()

    # -- tag sets -------------------------------------------------------------
    def add_tag(self, set_name: str, tag_id: object, name: object, instructions: object = "") -> Tag:
        return self.add_tags(set_name, [(tag_id, name, instructions)])[0]

    def add_tags(self, set_name: str, rows: Iterable[tuple[object, object, object]]) -> list[Tag]:
        """Add tags atomically: all of them, or none if one clashes."""
        set_name = str(set_name).strip()
        if not set_name:
            raise InputError("tag set name is empty")
        one_line(set_name, "tag set name")
        tags = [_clean_tag(*row) for row in rows]
        with self.transaction() as db:
            for tag in tags:
                self._insert(db, set_name, tag)
        return tags

    @staticmethod
    def _insert(db: sqlite3.Connection, set_name: str, tag: Tag) -> None:
        clash = db.execute(
            "SELECT tag_id, name FROM tags WHERE set_name = ? AND (tag_id = ? OR name = ?)",
            (set_name, tag.tag_id, tag.name),
        ).fetchone()
        if clash is not None:
            what = f"id {tag.tag_id!r}" if clash[0] == tag.tag_id else f"name {tag.name!r}"
            raise InputError(f"tag set {set_name!r} already has a tag with {what}")
        db.execute(
            "INSERT INTO tags (set_name, tag_id, name, instructions) VALUES (?, ?, ?, ?)",
            (set_name, tag.tag_id, tag.name, tag.instructions),
        )

    def tags(self, set_name: str) -> list[Tag]:
        rows = self.read("SELECT tag_id, name, instructions FROM tags WHERE set_name = ? ORDER BY rowid", (set_name,))
        return [Tag(*row) for row in rows]

    def require_tags(self, set_name: str) -> list[Tag]:
        tags = self.tags(set_name)
        if not tags:
            known = ", ".join(self.tag_sets()) or "none"
            raise InputError(f"unknown tag set {set_name!r} (known: {known})")
        return tags

    def tag_sets(self) -> list[str]:
        return [row[0] for row in self.read("SELECT DISTINCT set_name FROM tags ORDER BY set_name")]

    def set_instructions(self, set_name: str, key: str, instructions: object) -> Tag:
        """Change one tag's instructions (found by id or name); its id, name and place in the set stay."""
        for tag in self.require_tags(set_name):
            if key in (tag.tag_id, tag.name):
                changed = _clean_tag(tag.tag_id, tag.name, instructions)
                self.write(
                    "UPDATE tags SET instructions = ? WHERE set_name = ? AND tag_id = ?",
                    (changed.instructions, set_name, tag.tag_id),
                )
                return changed
        raise InputError(f"tag set {set_name!r} has no tag with id or name {key!r}")

    def remove_tag(self, set_name: str, key: str) -> Tag:
        """Remove one tag by id or by name."""
        for tag in self.tags(set_name):
            if key in (tag.tag_id, tag.name):
                self.write("DELETE FROM tags WHERE set_name = ? AND tag_id = ?", (set_name, tag.tag_id))
                return tag
        raise InputError(f"tag set {set_name!r} has no tag with id or name {key!r}")

    def remove_set(self, set_name: str) -> int:
        removed = self.write("DELETE FROM tags WHERE set_name = ?", (set_name,)).rowcount
        if not removed:
            raise InputError(f"unknown tag set {set_name!r}")
        return removed
