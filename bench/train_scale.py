"""Training from a big labelled file: all six shared train splits as one, 56,459 rows and 102 classes.

    python bench/train_scale.py [--gzip]

Each label is prefixed with its data set (`trec:HUM`), so the classes stay apart. Times `llmclf train --data` with
default settings (the hybrid head, no LLM), then one `llmclf classify` of one text from a fresh process, and
prints wall time, peak memory and the bundle's size. `--gzip` also trains from the same file gzip-compressed,
beside the plain one. Nothing is scored: this is about time and memory at size, not accuracy.
"""

from __future__ import annotations

import gzip
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import DATA, LLMCLF, load_split, machine, print_table, timed_run, write_jsonl


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["LLMCLF_CACHE_DIR"] = str(tmp / "cache")  # a cold vector cache: every text is embedded
        os.environ["LLMCLF_HOME"] = str(tmp / "home")
        sets = sorted(p.name for p in DATA.iterdir() if (p / "train.jsonl").exists())
        labelled = [{"text": r["text"], "label": f"{d}:{r['label']}"} for d in sets for r in load_split(d, "train")]
        data = write_jsonl(tmp / "all.jsonl", labelled)
        files = [("JSONL", data)]
        if "--gzip" in sys.argv:
            packed = tmp / "all.jsonl.gz"
            packed.write_bytes(gzip.compress(data.read_bytes()))
            files.append(("JSONL, gzip", packed))
        for what, path in files:
            model = tmp / "all.model"
            os.environ["LLMCLF_CACHE_DIR"] = str(tmp / f"cache-{len(rows)}")
            load = os.getloadavg()[0]
            wall, peak, _, _ = timed_run([*LLMCLF, "train", "--data", str(path), "--save", str(model)])
            rows.append(
                [
                    f"train --data ({what}, {len(labelled):,} rows, {len({r['label'] for r in labelled})} classes)",
                    f"{wall:.0f} s",
                    f"{peak:,.0f} MiB",
                    f"{model.stat().st_size / 1024**2:.1f} MB",
                    f"{load:.2f}",
                ]
            )
        load = os.getloadavg()[0]
        wall, peak, _, _ = timed_run([*LLMCLF, "classify", "--load", str(model), "--no-log", "my card has not arrived"])
        rows.append(["classify one text, fresh process", f"{wall:.2f} s", f"{peak:,.0f} MiB", "", f"{load:.2f}"])
    print(f"machine: {machine()}; load average after: {os.getloadavg()[0]:.2f}")
    print_table("Training at size", ["step", "wall", "peak memory", "bundle", "load before"], rows)


if __name__ == "__main__":
    main()
