import json
import sqlite3
import threading
from contextlib import closing

import pytest
from typer.testing import CliRunner

from llmclf import InputError
from llmclf.cli import app
from llmclf.errors import StoreError
from llmclf.store import APPLICATION_ID, MIGRATIONS, Store, read_tag_file


def test_tags_are_unique_by_id_and_by_name(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    store.add_tag("contact", 1, "phone", "Phone number")
    with pytest.raises(InputError, match="already has a tag with id '1'"):
        store.add_tag("contact", "1", "fax")
    with pytest.raises(InputError, match="already has a tag with name 'phone'"):
        store.add_tag("contact", "2", "phone")
    with pytest.raises(InputError, match="empty name"):
        store.add_tag("contact", "3", "  ")
    store.add_tag("other", "1", "phone")  # uniqueness is per set
    assert [t.name for t in store.tags("contact")] == ["phone"]
    assert store.tag_sets() == ["contact", "other"]


def test_a_tag_name_composed_or_decomposed_is_one_name(tmp_path):
    """ "café" with é as one character and as e + U+0301 were two tags of one set that looked the same."""
    import unicodedata

    from llmclf.tagging import check_tags

    composed, decomposed = "café", unicodedata.normalize("NFD", "café")
    store = Store(tmp_path / "db.sqlite")
    store.add_tag("drinks", "1", composed)
    with pytest.raises(InputError, match="already has a tag with name 'café'"):
        store.add_tag("drinks", "2", decomposed)
    store.add_tag("other", "1", decomposed)
    assert [t.name for t in store.tags("other")] == [composed]  # stored composed, as class names are
    with pytest.raises(InputError, match="the tag name 'café' is given twice in one set"):  # tags sent inline
        check_tags([{"id": 1, "name": composed}, {"id": 2, "name": decomposed}])


def test_a_store_or_vector_cache_let_go_closes_its_connection(tmp_path):
    """Every CLI command opened a Store and left it open: Python 3.13 printed "ResourceWarning: unclosed database"
    under -X dev, and inside one process the warning landed in whatever ran when it was collected."""
    import gc

    from llmclf.vector_cache import VectorCache

    store = Store(tmp_path / "db.sqlite")
    cache = VectorCache("ns", 4, tmp_path / "vectors.sqlite")
    store.tags("any")  # a read: its connection waits in the pool
    connections = [store._db, *store._readers, cache._open()]
    assert len(connections) == 3
    del store, cache
    gc.collect()
    for db in connections:
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            db.execute("SELECT 1")


def test_a_long_read_never_holds_up_a_write(tmp_path, monkeypatch):
    """Reads shared the writer's connection and lock: a service thread reading 100,000 feedback rows held every
    write (run logging, /feedback) up for 0.4 s. Here a read is stopped halfway (inside a SQL function) until
    the writes beside it are done; on the shared connection they waited for it, and the read for them."""
    opened = Store._open_reader
    inside, release = threading.Event(), threading.Event()

    def pause() -> int:
        inside.set()
        assert release.wait(60), "never released"
        return 1

    def reader_that_can_pause(self):
        db = opened(self)
        db.create_function("pause", 0, pause)
        return db

    monkeypatch.setattr(Store, "_open_reader", reader_that_can_pause)
    store = Store(tmp_path / "db.sqlite")
    store.add_tags("pets", [("1", "cat", "")])
    rows = []
    reading = threading.Thread(target=lambda: rows.extend(store.read("SELECT name, pause() FROM tags")))
    reading.start()
    assert inside.wait(30)
    writing = threading.Thread(target=lambda: store.add_tags("pets", [("2", "dog", "")]))
    writing.start()
    writing.join(30)
    wrote = not writing.is_alive()
    release.set()
    reading.join(30)
    writing.join(30)
    assert wrote, "the write waited for the read"
    assert [tuple(r) for r in rows] == [("cat", 1)]  # the read's snapshot: from before the write
    assert [t.name for t in store.tags("pets")] == ["cat", "dog"]  # the next read sees the write
    with pytest.raises(StoreError, match="readonly"):  # a read connection cannot write, whatever it is given
        store.read("DELETE FROM tags")
    assert len(store.tags("pets")) == 2


def test_a_store_in_memory_reads_what_it_wrote(tmp_path, monkeypatch):
    """``Store(":memory:")`` read an empty database once reads took connections of their own (each opened its own
    in-memory database): "no such table: tags". Its reads go through its one connection."""
    monkeypatch.chdir(tmp_path)
    store = Store(":memory:")
    store.add_tags("pets", [("1", "dog", "barks"), ("2", "cat", "meows")])
    assert [t.name for t in store.tags("pets")] == ["dog", "cat"]
    assert store.read("SELECT count(*) FROM tags")[0][0] == 2
    store.close()
    assert list(tmp_path.iterdir()) == []  # and no file named ":memory:"


def test_a_store_opened_by_a_relative_path_reads_it_after_a_change_of_folder(tmp_path, monkeypatch):
    """Read connections are opened as they are needed: one opened after ``os.chdir`` found "db.sqlite" in the new
    folder, a database of its own ("no such table")."""
    (tmp_path / "a").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    store = Store("db.sqlite")
    store.add_tags("pets", [("1", "dog", "barks")])
    monkeypatch.chdir(tmp_path)
    assert [t.name for t in store.tags("pets")] == ["dog"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]
    store.close()


def test_import_is_all_or_nothing(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    good = tmp_path / "tags.csv"
    good.write_text("tag_id,name,instructions\n1,phone,Phone number\n2,email,Email address\n", encoding="utf-8")
    assert len(store.add_tags("contact", read_tag_file(good))) == 2
    clash = tmp_path / "more.json"
    clash.write_text(json.dumps([{"id": 3, "name": "address"}, {"id": 4, "name": "email"}]), encoding="utf-8")
    with pytest.raises(InputError, match="name 'email'"):
        store.add_tags("contact", read_tag_file(clash))
    assert [t.tag_id for t in store.tags("contact")] == ["1", "2"]  # 'address' was not half-added


def test_remove_by_id_or_name_and_whole_set(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    store.add_tags("s", [(1, "a", ""), (2, "b", ""), (3, "c", "")])
    assert store.remove_tag("s", "b").tag_id == "2"
    assert store.remove_tag("s", "1").name == "a"
    with pytest.raises(InputError, match="no tag with id or name 'zzz'"):
        store.remove_tag("s", "zzz")
    assert store.remove_set("s") == 1
    with pytest.raises(InputError, match="unknown tag set 's'"):
        store.require_tags("s")


def test_migrations_are_recorded_and_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "db.sqlite"
    Store(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.commit()
    db.close()
    with pytest.raises(InputError, match="newer llmclf"):
        Store(path)


def test_another_programs_database_is_refused_and_left_as_it_was(tmp_path):
    """A --db that points at another program's SQLite file: one line, and not a byte of it changed (opening it
    for writing alone would switch it to WAL; before, its tables also gained llmclf's or clashed by name)."""
    import hashlib

    for name, schema in [("notes.db", "CREATE TABLE notes (body TEXT)"), ("clash.db", "CREATE TABLE tags (x)")]:
        path = tmp_path / name
        other = sqlite3.connect(path)
        other.execute(schema)
        other.commit()
        other.close()
        before = hashlib.sha256(path.read_bytes()).hexdigest()
        with pytest.raises(StoreError, match="is not an llmclf database"):
            Store(path)
        result = CliRunner().invoke(app, ["tags", "list", "--db", str(path)])
        assert result.exit_code == 2 and "is not an llmclf database" in result.stderr, result.output
        assert len(result.stderr.strip().splitlines()) == 1
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(name)) == [name]  # no -wal, no -shm


def test_a_database_from_before_the_application_id_still_opens(tmp_path):
    path = tmp_path / "old.db"
    store = Store(path)
    store.add_tag("s", "1", "a")
    store.close()
    old = sqlite3.connect(path)
    old.execute("PRAGMA application_id = 0")  # as every llmclf database was made until now
    old.commit()
    old.close()
    store = Store(path)
    assert [t.name for t in store.require_tags("s")] == ["a"]
    store.close()
    with closing(sqlite3.connect(path)) as db:  # closed: Python 3.13 warns of a connection let go open
        assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_tags_cli(tmp_path):
    runner = CliRunner()
    db = ["--db", str(tmp_path / "db.sqlite")]
    ok = runner.invoke(
        app, ["tags", "add", "contact", "--id", "1", "--name", "phone", "--instructions", "Phone number", *db]
    )
    assert ok.exit_code == 0, ok.output
    dup = runner.invoke(app, ["tags", "add", "contact", "--id", "2", "--name", "phone", *db])
    assert dup.exit_code == 2 and "already has a tag with name 'phone'" in dup.stderr
    empty = runner.invoke(app, ["tags", "add", "contact", "--id", "3", "--name", "", *db])
    assert empty.exit_code == 2 and "empty name" in empty.stderr
    file = tmp_path / "t.json"
    file.write_text('[{"tag_id": "2", "name": "email", "instructions": "Email address"}]', encoding="utf-8")
    assert runner.invoke(app, ["tags", "import", "contact", str(file), *db]).exit_code == 0
    listing = runner.invoke(app, ["tags", "list", "contact", *db])
    assert "phone" in listing.stdout and "email" in listing.stdout
    assert runner.invoke(app, ["tags", "list", *db]).stdout.strip() == "contact (2 tags)"
    assert runner.invoke(app, ["tags", "remove", "contact", "email", *db]).exit_code == 0
    missing = runner.invoke(app, ["tags", "list", "nope", *db])
    assert missing.exit_code == 2 and "unknown tag set 'nope'" in missing.stderr


def test_a_tags_instructions_are_edited_in_place(tmp_path):
    """Changing the instructions (the prompt a tag set is tuned by) took a remove and an add, and the tag moved to
    the end of the set, so the LLM saw the tags in another order."""
    runner = CliRunner()
    db = ["--db", str(tmp_path / "db.sqlite")]
    store = Store(tmp_path / "db.sqlite")
    store.add_tags("contact", [("1", "phone", "Phone number"), ("2", "email", "Email address")])
    edited = runner.invoke(
        app, ["tags", "edit", "contact", "phone", "--instructions", " Any phone or fax number ", *db]
    )
    assert edited.exit_code == 0 and "changed the instructions of tag 1 (phone)" in edited.stdout, edited.output
    assert runner.invoke(app, ["tags", "edit", "contact", "2", "--instructions", "", *db]).exit_code == 0
    assert [t.to_dict() for t in store.tags("contact")] == [
        {"tag_id": "1", "name": "phone", "instructions": "Any phone or fax number"},
        {"tag_id": "2", "name": "email", "instructions": ""},
    ]
    for args, message in (
        (["contact", "fax"], "tag set 'contact' has no tag with id or name 'fax'"),
        (["nope", "1"], "unknown tag set 'nope' (known: contact)"),
    ):
        refused = runner.invoke(app, ["tags", "edit", *args, "--instructions", "x", *db])
        assert refused.exit_code == 2 and refused.stderr.strip() == f"error: {message}", refused.output
