"""Service fairness: latency of one-text /classify requests while maximum-size requests keep arriving.

    python bench/fairness.py [--seconds 60] [--streams 2]

Starts `llmclf serve` on 127.0.0.1 with a banking77 bundle. `--streams`
clients each post maximum-size requests (256 texts of ~3,900 characters,
just under the 1 MiB body limit) back to back; meanwhile one client sends a
one-text request every 0.2 s. Reported side by side with the same one-text
requests on an idle server. Target: p99 <= 1 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _util import banking_bundle, machine, print_table, served_bundle  # noqa: E402

BIG = ("I still have not received the card I ordered two weeks ago and the app shows nothing " * 46)[:3900]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--streams", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, served_bundle(banking_bundle(Path(tmp)), Path(tmp) / "home") as url:
        idle = small_latencies(url, 25)
        big_done, stop = [], threading.Event()
        threads = [threading.Thread(target=big_stream, args=(url, stop, big_done)) for _ in range(args.streams)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        loaded = small_latencies(url, int(args.seconds / 0.2), until=time.monotonic() + args.seconds)
        load = os.getloadavg()[0]
        stop.set()
        for t in threads:
            t.join()
    rows = [
        ["idle server", len(idle), f"{q(idle, 0.5):.3f}", f"{q(idle, 0.99):.3f}", f"{max(idle):.3f}", "-"],
        [
            f"{args.streams} streams of 256 x 3,900-char requests",
            len(loaded),
            f"{q(loaded, 0.5):.3f}",
            f"{q(loaded, 0.99):.3f}",
            f"{max(loaded):.3f}",
            f"{len(big_done)} done, median {statistics.median(big_done) if big_done else float('nan'):.1f} s",
        ],
    ]
    print(f"machine: {machine()}; load average (1 min) at the end of the loaded run: {load:.2f}")
    print_table(
        "one-text /classify latency (seconds)",
        ["while", "requests", "p50", "p99", "max", "big requests"],
        rows,
    )
    print(f"\np99 ratio loaded / idle: {q(loaded, 0.99) / q(idle, 0.99):.1f}x (target: loaded p99 <= 1 s)")


def q(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def small_latencies(url: str, n: int, until: float | None = None) -> list[float]:
    out = []
    with httpx.Client(timeout=120) as client:
        for i in range(n):
            if until is not None and time.monotonic() > until:
                break
            start = time.perf_counter()
            r = client.post(f"{url}/classify", json={"texts": [f"where is my card {i}"]})
            r.raise_for_status()
            out.append(time.perf_counter() - start)
            time.sleep(0.2)
    return out


def big_stream(url: str, stop: threading.Event, done: list[float]) -> None:
    with httpx.Client(timeout=300) as client:
        while not stop.is_set():
            start = time.perf_counter()
            r = client.post(f"{url}/classify", json={"texts": [BIG] * 256})
            if r.status_code == 200:
                done.append(time.perf_counter() - start)


if __name__ == "__main__":
    main()
