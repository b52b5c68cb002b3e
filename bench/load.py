"""Load on the HTTP service, loopback only: N concurrent /classify requests of M texts each.

    python bench/load.py [--requests 200] [--texts 32]

Trains a banking77 10-shot bundle, starts `llmclf serve` on a free
127.0.0.1 port, fires all requests at once, waits for every answer (each
bounded by a 300 s timeout), stops the server, and prints throughput,
p50/p99 latency and the error count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import LLMCLF, banking_bundle, load_split, machine, print_table, shuffled


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def fire(url: str, bodies: list[dict]) -> tuple[list[float], int, float]:
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=len(bodies))
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:

        async def one(body: dict) -> tuple[float, bool]:
            start = time.perf_counter()
            try:
                r = await client.post("/classify", json=body)
                ok = r.status_code == 200 and len(r.json()["results"]) == len(body["texts"])
            except httpx.HTTPError:
                ok = False
            return time.perf_counter() - start, ok

        start = time.perf_counter()
        results = await asyncio.gather(*(one(b) for b in bodies))
        wall = time.perf_counter() - start
    return [t for t, _ in results], sum(not ok for _, ok in results), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--texts", type=int, default=32)
    args = parser.parse_args()
    pool = [r["text"] for r in shuffled(load_split("banking77", "test"))]
    bodies = [
        {"texts": [pool[(i * args.texts + j) % len(pool)] for j in range(args.texts)]} for i in range(args.requests)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = banking_bundle(tmp, "banking.model")
        port = free_port()
        server = subprocess.Popen(
            [*LLMCLF, "serve", "--port", str(port), "--load", str(model), "--db", str(tmp / "db.sqlite")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("server did not start")
                time.sleep(0.2)
            latencies, errors, wall = asyncio.run(fire(url, bodies))
        finally:
            server.terminate()
            server.wait(timeout=30)
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
    print(f"machine: {machine()}")
    print_table(
        f"{args.requests} concurrent /classify requests x {args.texts} texts, 127.0.0.1",
        ["requests", "texts", "wall", "texts/s", "p50 latency", "p99 latency", "errors"],
        [
            [
                args.requests,
                args.requests * args.texts,
                f"{wall:.1f} s",
                f"{args.requests * args.texts / wall:,.0f}",
                f"{p(0.50):.2f} s",
                f"{p(0.99):.2f} s",
                errors,
            ]
        ],
    )
    print(json.dumps({"errors": errors}), file=sys.stderr)


if __name__ == "__main__":
    main()
