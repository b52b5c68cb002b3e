from __future__ import annotations

import json
import os
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llmclf import Classifier

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("LLMCLF_DATA") or REPO.parent / "shared" / "data")

PETS = {
    "cat": "Cats are independent, self-grooming animals that meow and purr.",
    "dog": "Dogs are loyal pack animals that bark and play fetch.",
}


@pytest.fixture(scope="session", autouse=True)
def _isolated_session_dirs(tmp_path_factory):
    """The same for session- and module-scoped fixtures, which pytest builds before any function's monkeypatch:
    `pets` and test_sklearn's `fitted` read and wrote the real vector cache, and a stale one there failed a test."""
    home = tmp_path_factory.mktemp("llmclf-session-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LLMCLF_HOME", str(home / "data"))
        patch.setenv("LLMCLF_CACHE_DIR", str(home / "cache"))
        for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "LLMCLF_LLM_MODEL", "LLMCLF_EMBEDDER"):
            patch.delenv(var, raising=False)
        yield


@pytest.fixture(scope="session")
def _kept_graphs(tmp_path_factory) -> Path:
    """The integer MiniLM graph, made once: each test's cache dir gets a hard link to it, else every test that runs
    the CLI in a new process would make and write its own 23 MB copy (int8_graph.kept_integer_graph)."""
    from llmclf.embedding import _minilm_files
    from llmclf.int8_graph import cpu_has_vnni, kept_integer_graph

    folder = tmp_path_factory.mktemp("llmclf-graphs")
    kept_integer_graph(_minilm_files()[0], signed=cpu_has_vnni(), folder=folder)
    return folder


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch, _kept_graphs):
    """No test reads or writes the real user dirs, and no LLM is configured by accident."""
    home = tmp_path_factory.mktemp("llmclf-home")
    monkeypatch.setenv("LLMCLF_HOME", str(home / "data"))
    monkeypatch.setenv("LLMCLF_CACHE_DIR", str(home / "cache"))
    (home / "cache" / "graphs").mkdir(parents=True)
    for graph in _kept_graphs.iterdir():  # a new file replaces a link whole (atomic_writer), never writes into it
        os.link(graph, home / "cache" / "graphs" / graph.name)
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "LLMCLF_LLM_MODEL", "LLMCLF_EMBEDDER"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def pets() -> Classifier:
    clf = Classifier()
    clf.add_data_to_class("cat", "i like milk")
    clf.add_data_to_class("dog", "i like bones")
    return clf.prompt_train(PETS)


@pytest.fixture(scope="session")
def pets_bundle(pets, tmp_path_factory) -> Path:
    return pets.save(tmp_path_factory.mktemp("bundles") / "pets.model")


def without_waiting_on(fifo: Path, call: Callable[[], Any], seconds: float = 120) -> Any:
    """``call()``'s value (or what it raised), failing the test if it is still waiting after ``seconds``, as a read
    of ``fifo`` waits for a writer and a write for a reader: the FIFO is then opened both ways and closed, to let the
    call end, before the test fails."""
    got: list[Any] = []

    def run() -> None:
        try:
            got.append((call(), None))
        except BaseException as exc:  # raised again in the test's own thread
            got.append((None, exc))

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        os.close(os.open(fifo, os.O_RDWR | os.O_NONBLOCK))  # a waiting reader reads nothing, a writer a closed pipe
        worker.join()
        pytest.fail(f"waited on the FIFO {fifo}")
    value, exc = got[0]
    if exc is not None:
        raise exc
    return value


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def shuffled_sample(rows: list[dict], n: int, seed: int = 0) -> list[dict]:
    rows = list(rows)
    random.Random(seed).shuffle(rows)
    return rows[:n]


def dataset(name: str, split: str) -> list[dict]:
    path = DATA / name / f"{split}.jsonl"
    if not path.exists():
        if os.environ.get("LLMCLF_REQUIRE_DATA"):
            pytest.fail(f"LLMCLF_REQUIRE_DATA is set but {path} is missing")
        pytest.skip(f"shared dataset not present: {path}")
    return read_jsonl(path)
