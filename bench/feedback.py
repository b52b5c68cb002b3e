"""Learning from corrections on banking77: accuracy before and after retraining.

    python bench/feedback.py [--stream 2000] [--quick]

Simulates users correcting a classifier: start from a bundle trained on class
names and descriptions only (bench/descriptions/banking77.yaml), stream train
texts through classify (each prediction logged with a run id), send the true
label as a correction for wrong predictions, and retrain. Test accuracy is
measured on a fixed 1,000-row shuffled test sample after 0, 500, 1,000 and
2,000 streamed texts. "active" sends corrections only for the 20% of texts
with the lowest top probability in each slice (active learning); "all"
corrects every wrong prediction.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _util import load_split, machine, print_table, shuffled  # noqa: E402

from llmclf import Classifier, MiniLMInt8Embedder  # noqa: E402
from llmclf.feedback import RunLog, model_target  # noqa: E402
from llmclf.store import Store  # noqa: E402


def accuracy(clf: Classifier, test: list[dict]) -> float:
    predictions = clf.predict([r["text"] for r in test])
    return sum(p == r["label"] for p, r in zip(predictions, test, strict=True)) / len(test)


def simulate(
    policy: str, descriptions: dict, stream: list[dict], test: list[dict], checkpoints: list[int], embedder
) -> list[tuple[int, int, float]]:
    clf = Classifier(embedder).prompt_train(descriptions)
    target = model_target(clf.model_id)
    curve = [(0, 0, accuracy(clf, test))]
    with tempfile.TemporaryDirectory() as tmp:
        runs = RunLog(Store(Path(tmp) / "db.sqlite"))
        done, corrections = 0, 0
        for stop in checkpoints:
            batch = stream[done:stop]
            predictions = clf.classify([r["text"] for r in batch])
            ids = runs.log(
                "classify",
                target,
                "banking77",
                clf.class_names,
                [(p.text, p.label, p.probabilities) for p in predictions],
            )
            chosen = range(len(batch))
            if policy == "active":  # only the least sure 20% get a human look
                chosen = sorted(range(len(batch)), key=lambda i: predictions[i].confidence)[: len(batch) // 5]
            for i in chosen:
                if predictions[i].label != batch[i]["label"]:
                    runs.record(ids[i], correction=batch[i]["label"])
                    corrections += 1
            clf.retrain_with_feedback(runs.dataset(target))
            done = stop
            curve.append((stop, corrections, accuracy(clf, test)))
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stream", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="stream 200 texts, test on 200")
    args = parser.parse_args()
    descriptions = yaml.safe_load((HERE / "descriptions" / "banking77.yaml").read_text())
    n = 200 if args.quick else args.stream
    stream = shuffled(load_split("banking77", "train"), seed=1)[:n]
    test = shuffled(load_split("banking77", "test"))[: 200 if args.quick else 1000]
    checkpoints = [c for c in (500, 1000, 2000) if c < n] + [n]
    embedder = MiniLMInt8Embedder()
    rows = []
    for policy in ("all", "active"):
        for streamed, corrections, acc in simulate(policy, descriptions, stream, test, checkpoints, embedder):
            rows.append([policy, streamed, corrections, f"{acc:.3f}"])
    print(f"machine: {machine()}")
    print_table(
        f"banking77: test accuracy ({len(test)} rows) as corrections arrive",
        ["corrections for", "texts streamed", "corrections sent", "accuracy after retrain"],
        rows,
    )


if __name__ == "__main__":
    main()
