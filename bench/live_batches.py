"""What reading the input on a thread of its own costs `classify` (llmclf.cli.live_batches).

    python bench/live_batches.py [N] [ROUNDS]

Classifies N banking77 test texts (default 3,000) in process with a banking77 bundle, in batches of 1,024 made
two ways, side by side and alternating, ROUNDS times each (default 3): `islice` over the rows (what classify did)
and `live_batches` (what it does now: a reader thread, a batch cut short when nothing more is ready). The rows
come from a file reader, as `classify --input` reads them. Prints the median texts/s of each, their ratio, the
batch sizes seen, and the load average.
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import banking_bundle, load_split, machine, print_table

from llmclf import Classifier
from llmclf.cli.live_batches import live_batches
from llmclf.datafiles import iter_text_rows

BATCH = 1024


def islice_batches(rows, size):
    it = iter(rows)
    while batch := list(itertools.islice(it, size)):
        yield batch


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["LLMCLF_HOME"] = str(tmp / "home")
        clf = Classifier.load(banking_bundle(tmp))
        texts = tmp / "texts.txt"
        texts.write_text("".join(r["text"].replace("\n", " ") + "\n" for r in load_split("banking77", "test")[:n]))
        ways = {"islice (before)": islice_batches, "live_batches (now)": live_batches}
        rates: dict[str, list[float]] = {name: [] for name in ways}
        sizes: dict[str, list[int]] = {}
        loads = []
        for _ in range(rounds):
            for name, batches in ways.items():
                start, seen = time.perf_counter(), []
                for batch in batches(iter_text_rows(texts), BATCH):
                    seen.append(len(batch))
                    clf.classify([text for text, _, _ in batch])
                rates[name].append(sum(seen) / (time.perf_counter() - start))
                sizes[name] = seen
                loads.append(os.getloadavg()[0])
    before, now = (statistics.median(r) for r in rates.values())
    rows = [
        [name, f"{statistics.median(r):.0f}", " ".join(f"{x:.0f}" for x in r), " ".join(map(str, sizes[name]))]
        for name, r in rates.items()
    ]
    print(f"{machine()}; {n} texts, batches of {BATCH}, {rounds} rounds alternating")
    print_table("classify's batches", ["batching", "median texts/s", "each round", "batch sizes"], rows)
    print(f"\nratio now/before: {now / before:.3f}; load average {min(loads):.2f}-{max(loads):.2f}")


if __name__ == "__main__":
    main()
