"""Retraining re-embeds only texts it has never seen: the on-disk vector cache and --keep-vectors."""

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from llmclf import Classifier
from llmclf.cli import app
from llmclf.embedding import MiniLMEmbedder
from llmclf.vector_cache import FILE_NAME

runner = CliRunner()
PETS = ["--class", "cat: Cats meow and purr.", "--class", "dog: Dogs bark and fetch."]
EXAMPLES = [f"dog: my dog number {i} barks" for i in range(30)] + [f"cat: my cat number {i} purrs" for i in range(30)]


@pytest.fixture
def counted(monkeypatch):
    seen: list[str] = []
    real = MiniLMEmbedder.embed

    def embed(self, texts):
        seen.extend(texts)
        return real(self, texts)

    monkeypatch.setattr(MiniLMEmbedder, "embed", embed)
    return seen


def train_and_correct(tmp_path, *extra):
    model, db = tmp_path / "m.model", ["--db", str(tmp_path / "db.sqlite")]
    args = ["train", *PETS, *(x for e in EXAMPLES for x in ("--train", e)), "--save", str(model), *extra]
    assert runner.invoke(app, args).exit_code == 0
    run = json.loads(runner.invoke(app, ["classify", "--load", str(model), *db, "a brand new sentence"]).stdout)
    assert runner.invoke(app, ["feedback", run["run_id"], "--correction", "cat", *db]).exit_code == 0
    return model, db


def test_retrain_embeds_only_the_new_feedback_text(tmp_path, counted):
    model, db = train_and_correct(tmp_path)
    counted.clear()
    result = runner.invoke(app, ["retrain", "--load", str(model), *db])
    assert result.exit_code == 0, result.output
    assert counted == ["a brand new sentence"]
    assert any(e.text == "a brand new sentence" for e in Classifier.load(model).examples)


def test_keep_vectors_retrains_without_any_cache(tmp_path, counted, monkeypatch):
    model, db = train_and_correct(tmp_path, "--keep-vectors")
    monkeypatch.setenv("LLMCLF_VECTOR_CACHE", "0")
    clf = Classifier.load(model)
    assert clf.keep_vectors and len(clf._vectors) == len(clf.examples)
    counted.clear()
    assert runner.invoke(app, ["retrain", "--load", str(model), *db]).exit_code == 0
    assert counted == ["a brand new sentence"]
    assert Classifier.load(model).keep_vectors  # kept on the retrained bundle too


def test_an_unusable_cache_never_breaks_training(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("LLMCLF_CACHE_DIR", str(blocker / "cache"))
    result = runner.invoke(app, ["train", *PETS, "--save", str(tmp_path / "m.model")])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("stored", [b"\x01\x02", b"\x00" * 12, "text", 7, np.full(384, np.nan, np.float32).tobytes()])
def test_a_damaged_row_of_the_vector_cache_is_a_miss(tmp_path, monkeypatch, counted, stored):
    """A vector blob whose size is no multiple of 4 was "internal error: ValueError: buffer size must be a multiple
    of element size"; a text or a number was a TypeError; NaNs went into the head."""
    monkeypatch.setenv("LLMCLF_CACHE_DIR", str(tmp_path / "cache"))
    assert runner.invoke(app, ["train", *PETS, "--save", str(tmp_path / "a.model")]).exit_code == 0
    db = sqlite3.connect(tmp_path / "cache" / FILE_NAME)
    with db:  # a transaction: the with statement commits, it does not close
        db.execute("UPDATE vectors SET vector = ?", (stored,))
    db.close()
    counted.clear()
    result = runner.invoke(app, ["train", *PETS, "--save", str(tmp_path / "b.model")])
    assert result.exit_code == 0, result.output
    assert counted  # embedded again, not read from the damaged rows
    assert Classifier.load(tmp_path / "b.model").predict(["woof woof, a dog barks"])[0] == "dog"


def test_a_second_fit_reuses_the_instances_vectors(counted, monkeypatch):
    monkeypatch.setenv("LLMCLF_VECTOR_CACHE", "0")  # only the instance's own cache is left
    X, y = ["a dog barks", "a cat meows", "woof", "meow"], ["d", "c", "d", "c"]
    clf = Classifier().fit(X, y)
    counted.clear()
    clf.fit(X, y)
    assert counted == []


@pytest.mark.parametrize(("value", "on"), [("0", False), ("false", False), ("Off", False), ("no", False), ("1", True),
                                           ("yes", True), ("", True)])  # fmt: skip
def test_the_vector_cache_switch_reads_the_usual_spellings(monkeypatch, value, on):
    """LLMCLF_VECTOR_CACHE=false kept the cache on: only "0" turned it off."""
    from llmclf.embedding import get_embedder
    from llmclf.vector_cache import vector_cache_for

    monkeypatch.setenv("LLMCLF_VECTOR_CACHE", value)
    assert (vector_cache_for(get_embedder()) is not None) is on


def test_a_malformed_vector_cache_switch_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMCLF_VECTOR_CACHE", "maybe")
    result = runner.invoke(app, ["train", *PETS, "--save", str(tmp_path / "m.model")])
    assert result.exit_code == 2 and "LLMCLF_VECTOR_CACHE must be 1 or 0" in result.stderr
    assert not (tmp_path / "m.model").exists()


def _rows(path) -> list[tuple[bytes, int]]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT text_key, used FROM vectors").fetchall()
    finally:
        db.close()


def test_the_vector_cache_keeps_to_its_bound_and_lets_the_least_used_go(tmp_path):
    """It grew by 4.8 KB for every text ever trained on, without end."""
    from llmclf.vector_cache import VectorCache

    path = tmp_path / FILE_NAME
    cache = VectorCache("ns", 384, path=path, max_bytes=400 * 1024)
    cache.mark_every_ns = 0  # each read marks its rows used (by default at most once an hour)
    rng = np.random.default_rng(0)
    vectors = lambda texts: {t: rng.standard_normal(384).astype(np.float32) for t in texts}  # noqa: E731
    first = [f"first {i}" for i in range(50)]
    cache.put(vectors(first))
    sizes = []
    for round_ in range(60):  # 3,000 texts, 5 MB of rows, through a cache of 400 KB
        assert len(cache.get(first[:10])) == 10  # used each round: these stay
        cache.put(vectors([f"text {round_} {i}" for i in range(50)]))
        cache._open().execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the rows into the file, as closing puts them
        sizes.append(path.stat().st_size)
    cache.close()
    assert 100 < len(_rows(path)) < 260  # a bound's worth of rows, not 3,050
    kept = cache.get(first)
    assert set(kept) == set(first[:10])  # the ten used each round stayed; the forty others went
    assert len(cache.get([f"text 59 {i}" for i in range(50)])) == 50  # the newest stayed
    assert max(sizes) < 2 * 2**20 and sizes[-1] == sizes[-20]  # the file (5 MB unbounded) stops growing


def test_the_vector_cache_file_of_an_older_llmclf_is_removed_and_rows_take_half_the_space(tmp_path):
    """The file before the bound grew without end, 4.8 KB a vector (each overflowed into a 4 KiB page of its own)."""
    from llmclf.vector_cache import VectorCache

    older = tmp_path / "vectors.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{older}{suffix}").write_bytes(b"an older llmclf's cache")
    cache = VectorCache("ns", 384, path=tmp_path / FILE_NAME)
    rng = np.random.default_rng(0)
    cache.put({f"text {i}": rng.standard_normal(384).astype(np.float32) for i in range(2000)})
    cache.close()
    assert not any(Path(f"{older}{suffix}").exists() for suffix in ("", "-wal", "-shm"))
    assert (tmp_path / FILE_NAME).stat().st_size / 2000 < 2500  # bytes a row, where it was 4,839


@pytest.mark.parametrize("value", ["0", "-5", "lots", "inf", "nan"])
def test_a_malformed_vector_cache_bound_is_one_line(tmp_path, monkeypatch, value):
    monkeypatch.setenv("LLMCLF_VECTOR_CACHE_MB", value)
    result = CliRunner().invoke(app, ["train", "--class", "a: A.", "--class", "b: B.", "--save", str(tmp_path / "m")])
    assert result.exit_code == 2 and "LLMCLF_VECTOR_CACHE_MB must be a number" in result.output, result.output
