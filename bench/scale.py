"""Scale: 1,000 synthetic classes with 10 examples each.

    python bench/scale.py [--classes 1000] [--embedder minilm|fast]

Each class is a random set of three keywords from a real-text vocabulary;
its examples mix two of them with four random filler words. Two more per
class are held out to check the head still separates them. Train and
classify run through the real CLI; the table reports train time, classify
throughput, accuracy on the held-out rows, and bundle size.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import LLMCLF, classify_cli, load_split, machine, print_table, timed_run, write_jsonl


def synthetic_classes(n_classes: int, per_class: int, held: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    words = set()
    for row in load_split("ag_news", "train") + load_split("banking77", "train"):
        words.update(w.lower() for w in re.findall(r"[A-Za-z]{4,}", row["text"]))
    vocab = sorted(words)
    train, test = [], []
    for c in range(n_classes):
        keywords = rng.sample(vocab, 3)
        for i in range(per_class + held):
            text = " ".join(rng.sample(rng.sample(keywords, 2) + rng.sample(vocab, 4), 6))
            (train if i < per_class else test).append({"text": text, "label": f"class_{c:04d}"})
    return train, test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--embedder", default="minilm")
    args = parser.parse_args()
    train, test = synthetic_classes(args.classes, 10, 2)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = write_jsonl(tmp / "train.jsonl", train)
        model = tmp / "scale.model"
        wall_train, rss_train, _, _ = timed_run(
            [*LLMCLF, "train", "--data", str(data), "--embedder", args.embedder, "--save", str(model)]
        )
        texts = tmp / "test.txt"
        texts.write_text("".join(r["text"] + "\n" for r in test), encoding="utf-8")
        wall_cls, rss_cls, out, _ = timed_run(classify_cli(model, "--input", str(texts), "--top-n", "1"))
        predictions = [json.loads(line)["prediction"] for line in out.splitlines()]
        accuracy = sum(p == r["label"] for p, r in zip(predictions, test, strict=True)) / len(test)
        size = model.stat().st_size / 1024**2
    print(f"machine: {machine()}")
    print_table(
        f"{args.classes:,} synthetic classes x 10 examples, embedder {args.embedder}",
        ["what", "measured", "peak RSS"],
        [
            [
                f"train ({len(train):,} examples, incl. embedding)",
                f"{wall_train:.1f} s (target <= 120 s)",
                f"{rss_train:.0f} MiB",
            ],
            [
                f"classify {len(test):,} held-out texts (incl. start-up)",
                f"{len(test) / wall_cls:,.0f} texts/s ({wall_cls:.1f} s)",
                f"{rss_cls:.0f} MiB",
            ],
            ["accuracy on held-out rows", f"{accuracy:.3f}", ""],
            ["bundle size", f"{size:.1f} MiB", ""],
        ],
    )


if __name__ == "__main__":
    main()
