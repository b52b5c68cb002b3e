"""LLM generation cost: calls and wall time to train banking77's 77 classes with N examples each.

    python bench/llm.py [--examples-per-class 20] [--concurrency 1 8]

Starts the llama.cpp server with SmolLM2-135M on 127.0.0.1 (the `llm-test`
extra), trains through `llmclf train` at each concurrency with an empty
cache, then once more from the cache.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from _util import DATA, LLMCLF, machine, print_table, timed_run  # noqa: E402
from llama_server import llama_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples-per-class", type=int, default=20)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--classes", type=int, default=77, help="first N banking77 labels")
    args = parser.parse_args()
    labels = (DATA / "banking77" / "labels.txt").read_text().split()[: args.classes]

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with llama_server(tmp) as url:
            base = [*LLMCLF, "train", "-n", str(args.examples_per_class), "--llm-base-url", url, "--llm-timeout", "600"]
            for label in labels:
                base += ["--class", f"{label}: Banking customer messages about {label.replace('_', ' ')}."]
            for conc in args.concurrency:
                os.environ["LLMCLF_CACHE_DIR"] = str(tmp / f"cache-{conc}")  # each concurrency starts empty
                for run in ("empty cache", "from cache", "from cache again"):
                    cmd = [*base, "--concurrency", str(conc), "--save", str(tmp / "m.model")]
                    wall, rss, _, err = timed_run(cmd)
                    calls = re.search(r"(\d+) LLM call", err).group(1)
                    kept = re.search(r"(\d+) synthetic examples", err).group(1)
                    failed = err.count("got no synthetic data")
                    rows.append(
                        [
                            len(labels),
                            args.examples_per_class,
                            conc,
                            run,
                            calls,
                            kept,
                            failed,
                            f"{wall:.0f} s",
                            f"{rss:.0f} MiB",
                        ]
                    )
                    print("| " + " | ".join(map(str, rows[-1])) + " |", flush=True)  # progress, in case of a cut
    print(f"machine: {machine()}")
    print_table(
        "LLM generation against llama.cpp + SmolLM2-135M on 127.0.0.1",
        [
            "classes",
            "examples/class",
            "concurrency",
            "run",
            "LLM calls",
            "synthetic kept",
            "classes failed",
            "wall",
            "peak RSS",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
