"""A service's start and its first request: the model loaded lazily by that request (before), or warm at start (now).

    python bench/first_request.py                 # 3 starts of each, a bundle trained on the pets classes
    python bench/first_request.py --starts 5

Each start is a fresh ``llmclf serve`` process (so nothing is cached in memory): seconds until ``/healthz`` answers,
then the first ``/classify`` of one text, then a second one. "Before" is today's code with the warm-up taken out
(``llmclf.service.reload.ready`` replaced by a plain ``Classifier.load``), in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import machine, print_table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.served import free_port, stop, wait_healthy  # noqa: E402

COLD = (
    "import sys; import llmclf.service.reload as r; from llmclf import Classifier; "
    "r.ready = lambda path, threads=None: Classifier.load(path, threads=threads); "
    "from llmclf.cli import main; sys.argv[0] = 'llmclf'; main()"
)
WARM = "import sys; from llmclf.cli import main; sys.argv[0] = 'llmclf'; main()"


def one_start(code: str, bundle: Path, folder: Path) -> tuple[float, float, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-c", code, "serve", "--port", str(port), "--load", str(bundle), "--no-log"]
    env = {**os.environ, "LLMCLF_HOME": str(folder)}
    started = time.perf_counter()
    proc = subprocess.Popen([*args, "--db", str(folder / "db.sqlite")], env=env, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(url)  # polls every 0.1 s
        healthy = time.perf_counter() - started
        times = []
        for _ in range(2):
            t = time.perf_counter()
            r = httpx.post(f"{url}/classify", json={"texts": ["woof"]}, timeout=60)
            times.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
        return healthy, times[0], times[1]
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {machine()}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    from llmclf import Classifier

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clf = Classifier()
        clf.add_data_to_class("cat", "i like milk")
        clf.add_data_to_class("dog", "i like bones")
        bundle = clf.prompt_train({"cat": "Cats meow and purr.", "dog": "Dogs bark and fetch."}).save(
            folder / "p.model"
        )
        runs: dict[str, list[tuple[float, float, float]]] = {
            "before: model loaded by the first request": [],
            "now: model loaded at start": [],
        }
        for _ in range(args.starts):  # interleaved, so both meet the same load
            runs["before: model loaded by the first request"].append(one_start(COLD, bundle, folder))
            runs["now: model loaded at start"].append(one_start(WARM, bundle, folder))
    rows = []
    for label, got in runs.items():
        healthy, first, second = (statistics.median(x) for x in zip(*got, strict=True))
        rows.append([label, args.starts, f"{healthy:.2f}", f"{first:.3f}", f"{second:.3f}"])
    print_table(
        "A fresh `llmclf serve`, median of its starts (s)",
        ["service", "starts", "until /healthz answers", "first /classify", "second /classify"],
        rows,
    )
    print(f"\nload average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
