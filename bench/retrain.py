"""Retraining banking77 (10,003 examples) after one piece of feedback: with and without stored vectors.

    python bench/retrain.py

Trains on the full banking77 train split through the CLI, classifies one
text, corrects it with `llmclf feedback`, then times `llmclf retrain`:
with the on-disk vector cache, with the vectors kept in the bundle
(`--keep-vectors`, cache off), and with neither (every text re-embedded).
Target: retrain with one new example <= 5 s.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import LLMCLF, load_split, machine, print_table, timed_run, write_jsonl


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["LLMCLF_CACHE_DIR"] = str(tmp / "cache")
        os.environ["LLMCLF_HOME"] = str(tmp / "home")
        data = write_jsonl(tmp / "train.jsonl", load_split("banking77", "train"))
        db = ["--db", str(tmp / "db.sqlite")]
        for keep in (False, True):
            model = tmp / f"bank-{keep}.model"
            extra = ["--keep-vectors"] if keep else []
            wall, peak, _, _ = timed_run([*LLMCLF, "train", "--data", str(data), "--save", str(model), *extra])
            rows.append(
                [f"train, 10,003 examples{' --keep-vectors' if keep else ''}", f"{wall:.1f} s", f"{peak:.0f} MiB"]
            )
            _, _, out, _ = timed_run([*LLMCLF, "classify", "--load", str(model), *db, "--json", "my card got eaten"])
            run_id = json.loads(out)["run_id"]
            timed_run([*LLMCLF, "feedback", run_id, "--correction", "card_swallowed", *db])
            variants = [("vectors in the bundle, cache off", {"LLMCLF_VECTOR_CACHE": "0"})] if keep else [
                ("on-disk vector cache", {}),
                ("no stored vectors (every text re-embedded)", {"LLMCLF_VECTOR_CACHE": "0"}),
            ]  # fmt: skip
            for label, env in variants:
                copy = tmp / "copy.model"
                shutil.copy(model, copy)
                os.environ.update(env)
                wall, peak, _, _ = timed_run([*LLMCLF, "retrain", "--load", str(copy), *db])
                for key in env:
                    os.environ.pop(key)
                rows.append([f"retrain with 1 new example: {label}", f"{wall:.1f} s", f"{peak:.0f} MiB"])
            size = model.stat().st_size / 1024**2
            rows.append([f"bundle size{' with vectors' if keep else ''}", f"{size:.1f} MiB", ""])
    print(f"machine: {machine()}; load average (1 min) at the end: {os.getloadavg()[0]:.2f}")
    print_table("retrain banking77 after one correction (target <= 5 s)", ["what", "wall", "peak RSS"], rows)


if __name__ == "__main__":
    main()
