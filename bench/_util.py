"""Helpers for the benchmark scripts: data, timing subprocesses, tables."""

from __future__ import annotations

import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DATA = Path(os.environ.get("LLMCLF_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
LLMCLF = [sys.executable, "-m", "llmclf"]


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_split(dataset: str, split: str) -> list[dict]:
    return read_jsonl(DATA / dataset / f"{split}.jsonl")


def shuffled(rows: list[dict], seed: int = 0) -> list[dict]:
    rows = list(rows)
    random.Random(seed).shuffle(rows)
    return rows


def k_per_class(rows: list[dict], k: int, seed: int = 0) -> list[dict]:
    taken: dict[str, int] = {}
    out = []
    for row in shuffled(rows, seed):
        if taken.get(row["label"], 0) < k:
            taken[row["label"]] = taken.get(row["label"], 0) + 1
            out.append(row)
    return out


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def timed_run(args: list[str], stdin: str | None = None, env: dict | None = None) -> tuple[float, float, str, str]:
    """Wall seconds, peak RSS in MiB, stdout and stderr of one child process (``env``: added to this one's)."""
    with (
        tempfile.TemporaryFile("w+") as fin,
        tempfile.TemporaryFile("w+") as fout,
        tempfile.TemporaryFile("w+") as ferr,
    ):
        fin.write(stdin or "")
        fin.seek(0)
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdin=fin, stdout=fout, stderr=ferr, text=True, env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        fout.seek(0)
        ferr.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(map(str, args))} failed: {ferr.read().strip()}")
        return wall, usage.ru_maxrss / 1024, fout.read(), ferr.read()


def banking_bundle(tmp: Path, name: str = "bank.model") -> Path:
    """A banking77 10-shot bundle, trained through the CLI in ``tmp``: the bundle most benchmarks serve or classify with."""
    train = write_jsonl(tmp / "train.jsonl", k_per_class(load_split("banking77", "train"), 10))
    model = tmp / name
    timed_run([*LLMCLF, "train", "--data", str(train), "--save", str(model)])
    return model


@contextmanager
def served_bundle(model: Path, home: Path) -> Iterator[str]:
    """``llmclf serve --no-log`` on a free port of 127.0.0.1 with ``model`` (user data in ``home``): its URL, once
    /healthz answers; the server is stopped on the way out."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from served import free_port, wait_healthy

    port = free_port()
    server = subprocess.Popen(
        [*LLMCLF, "serve", "--port", str(port), "--load", str(model), "--no-log"],
        env={**os.environ, "LLMCLF_HOME": str(home)},
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def classify_cli(model: Path, *args: str) -> list[str]:
    """``llmclf classify --json`` with ``model``, logging runs beside it rather than in the user's database."""
    return [*LLMCLF, "classify", "--load", str(model), "--db", str(model.parent / "runs.sqlite"), "--json", *args]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Python {platform.python_version()}"


def print_table(title: str, header: list[str], rows: list[list[object]]) -> None:
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
