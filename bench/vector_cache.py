"""The on-disk vector cache: what reading it costs now that rows carry a time of use, and the size it keeps to.

    python bench/vector_cache.py                        # 20,000 texts; 40,000 through a 16 MiB bound
    python bench/vector_cache.py --texts 100000 --bound-mb 64

``reads``: N cached vectors (384-d) read back, as a retrain reads them: as before the bound (emulated: no row is
ever marked used), as today (a row is marked at most once an hour, so a read within the hour writes nothing), and
today's first read after an hour (every row marked), side by side in one run, each the median of three.
``bound``: 2 x the bound's worth of texts put in chunks of 1,000 into the file as it was before (a WITHOUT ROWID
table in 4 KiB pages, no bound), into today's layout unbounded (emulated: a bound of 1 TiB), and into a cache bounded
at ``--bound-mb``: the rows left, the log's size before closing and the file's after.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import machine, print_table

from llmclf.vector_cache import MARK_EVERY_NS, VectorCache, _key

DIM = 384
NEVER = 10**30  # a mark interval no row reaches: nothing is ever marked (the cache before it had a bound)


def _vectors(rng: np.random.Generator, texts: list[str]) -> dict[str, np.ndarray]:
    return {t: rng.standard_normal(DIM).astype(np.float32) for t in texts}


def _megabytes(path: Path) -> float:
    return os.stat(path).st_size / 2**20 if path.exists() else 0.0


def reads(n: int, folder: Path) -> list[list[object]]:
    rng = np.random.default_rng(0)
    texts = [f"text {i}" for i in range(n)]
    cache = VectorCache("bench", DIM, path=folder / "reads.sqlite")
    cache.put(_vectors(rng, texts))
    rows = []
    for label, every in [
        ("before: no time of use (emulated)", NEVER),
        ("today: read within the hour", MARK_EVERY_NS),
        ("today: first read after an hour (marks all)", 0),
    ]:
        cache.mark_every_ns = every
        seconds = []
        for _ in range(3):
            started = time.perf_counter()
            found = cache.get(texts)
            seconds.append(time.perf_counter() - started)
        assert len(found) == n
        rows.append([label, f"{n:,}", f"{statistics.median(seconds):.2f}"])
    cache.close()
    return rows


def _before(path: Path, texts: list[str], rng: np.random.Generator) -> list[object]:
    """The file as llmclf wrote it before the bound: a WITHOUT ROWID table in 4 KiB pages, no time of use."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        "CREATE TABLE vectors (namespace TEXT NOT NULL, text_key BLOB NOT NULL, vector BLOB NOT NULL,"
        " PRIMARY KEY (namespace, text_key)) WITHOUT ROWID"
    )
    started = time.perf_counter()
    for start in range(0, len(texts), 1000):
        rows = [("bench", _key(t), v.tobytes()) for t, v in _vectors(rng, texts[start : start + 1000]).items()]
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)
        db.execute("COMMIT")
    seconds = time.perf_counter() - started
    left = db.execute("SELECT count(*) FROM vectors").fetchone()[0]
    wal = _megabytes(Path(f"{path}-wal"))
    db.close()
    return [f"{len(texts):,}", f"{left:,}", f"{wal:.1f}", f"{_megabytes(path):.1f}", f"{seconds:.1f}"]


def bound(mb: float, folder: Path) -> list[list[object]]:
    rng = np.random.default_rng(1)
    n = int(2 * mb * 2**20 / (4 * DIM + 400))  # twice what the bound holds, at about 2 KB a row
    texts = [f"text {i}" for i in range(n)]
    rows = [["before: unbounded, 4 KiB pages, WITHOUT ROWID", *_before(folder / "before.sqlite", texts, rng)]]
    for label, limit in [
        ("today's layout, unbounded (emulated)", 2**40),
        (f"today: bound {mb:g} MiB", int(mb * 2**20)),
    ]:
        path = folder / f"bound-{limit}.sqlite"
        cache = VectorCache("bench", DIM, path=path, max_bytes=limit)
        started = time.perf_counter()
        for start in range(0, n, 1000):
            cache.put(_vectors(rng, texts[start : start + 1000]))
        seconds = time.perf_counter() - started
        left = cache._open().execute("SELECT count(*) FROM vectors").fetchone()[0]
        wal = _megabytes(Path(f"{path}-wal"))
        cache.close()  # a checkpoint: the rows move from the log into the file
        rows.append([label, f"{n:,}", f"{left:,}", f"{wal:.1f}", f"{_megabytes(path):.1f}", f"{seconds:.1f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=20000)
    parser.add_argument("--bound-mb", type=float, default=16)
    args = parser.parse_args()
    print(f"machine: {machine()}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as folder:
        print_table(
            "Reading N cached vectors back (median of 3, s)", ["reads", "texts", "s"], reads(args.texts, Path(folder))
        )
        print_table(
            "Putting 2 x a bound's worth of texts, 1,000 at a time",
            ["cache", "texts put", "rows left", "WAL MiB", "file MiB, closed", "s"],
            bound(args.bound_mb, Path(folder)),
        )
    print(f"\nload average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
