"""Accuracy on real public data, through the same CLI a user runs."""

import json

from typer.testing import CliRunner

from llmclf import Classifier
from llmclf.cli import app

from .conftest import dataset, shuffled_sample


def k_per_class(rows: list[dict], k: int, seed: int = 0) -> list[dict]:
    taken: dict[str, int] = {}
    out = []
    for row in shuffled_sample(rows, len(rows), seed):
        if taken.get(row["label"], 0) < k:
            taken[row["label"]] = taken.get(row["label"], 0) + 1
            out.append(row)
    return out


def test_banking77_ten_shot_through_cli_reaches_80_percent(tmp_path):
    train = k_per_class(dataset("banking77", "train"), 10)
    assert len(train) == 770
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in train), encoding="utf-8")
    model = tmp_path / "banking.model"
    result = CliRunner().invoke(app, ["train", "--data", str(data), "--save", str(model)])
    assert result.exit_code == 0, result.output

    test = shuffled_sample(dataset("banking77", "test"), 1000, seed=0)
    clf = Classifier.load(model)
    assert len(clf.classes_) == 77
    predictions = clf.predict([r["text"] for r in test])
    accuracy = sum(p == r["label"] for p, r in zip(predictions, test, strict=False)) / len(test)
    print(f"banking77 10-shot accuracy on 1,000 test rows: {accuracy:.3f}")
    assert accuracy >= 0.80
