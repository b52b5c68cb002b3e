"""What gzipping the service's answers costs: the compression level against bytes and time, and a 256-text request.

    python bench/gzip_answers.py [--repeats 7]

Starts `llmclf serve` on 127.0.0.1 with a banking77 bundle (77 classes) and posts 256 banking77 test texts.
First table: the server's own answer to that request, compressed here at each gzip level (median of --repeats),
as Starlette's GZipMiddleware does on the event loop, where every other client waits for it. Second table: the
whole request, answer gzipped (level 1, the service's) or not, side by side in alternating order.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _util import banking_bundle, load_split, machine, print_table, served_bundle  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    texts = [r["text"] for r in load_split("banking77", "test")[:256]]
    with (
        tempfile.TemporaryDirectory() as tmp,
        served_bundle(banking_bundle(Path(tmp)), Path(tmp) / "home") as url,
        httpx.Client(timeout=120) as client,
    ):
        answer = post(client, url, texts, "identity")[1]
        rows = []
        for level in (1, 5, 6, 9):
            seconds = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                packed = gzip.compress(answer, compresslevel=level)
                seconds.append(time.perf_counter() - start)
            rows.append(
                [
                    level,
                    f"{len(answer):,}",
                    f"{len(packed):,}",
                    f"{len(answer) / len(packed):.1f}",
                    f"{statistics.median(seconds) * 1000:.1f}",
                ]
            )
        print(f"machine: {machine()}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print_table(
            f"The answer to 256 texts x 77 classes, gzipped at each level (median of {args.repeats})",
            ["level", "answer bytes", "gzipped bytes", "ratio", "ms"],
            rows,
        )
        timings: dict[str, list[float]] = {"identity": [], "gzip": []}
        sizes: dict[str, int] = {}
        for _ in range(args.repeats):
            for encoding in ("identity", "gzip"):
                seconds, body, wire = post(client, url, texts, encoding)
                timings[encoding].append(seconds)
                sizes[encoding] = wire
                assert body == answer  # the same answer, either way
        base = statistics.median(timings["identity"])
        print_table(
            f"POST /classify, 256 texts, median of {args.repeats}; load "
            + " ".join(f"{x:.2f}" for x in os.getloadavg()),
            ["Accept-Encoding", "bytes on the wire", "s", "ratio to identity"],
            [
                [
                    e,
                    f"{sizes[e]:,}",
                    f"{statistics.median(timings[e]):.3f}",
                    f"{statistics.median(timings[e]) / base:.2f}",
                ]
                for e in ("identity", "gzip")
            ],
        )


def post(client: httpx.Client, url: str, texts: list[str], encoding: str) -> tuple[float, bytes, int]:
    """Seconds for the whole request, the answer's JSON bytes, and the bytes that came over the wire."""
    start = time.perf_counter()
    with client.stream(
        "POST", f"{url}/classify", json={"texts": texts}, headers={"accept-encoding": encoding}
    ) as response:
        wire = b"".join(response.iter_raw())
    seconds = time.perf_counter() - start
    response.raise_for_status()
    body = gzip.decompress(wire) if response.headers.get("content-encoding") == "gzip" else wire
    return seconds, body, len(wire)


if __name__ == "__main__":
    main()
