"""Self-training from unlabelled texts: fit(unlabeled=), train --unlabeled, retrain --with-logged-texts."""

import json
from collections import Counter

import numpy as np
from typer.testing import CliRunner

from llmclf import Classifier, Source
from llmclf.bundle import read_manifest
from llmclf.cli import app
from llmclf.self_training import ROUNDS, SHARE, select_confident

from .conftest import PETS, dataset, shuffled_sample

runner = CliRunner()
X = ["i like milk", "purring on the sofa", "i like bones", "fetch the ball"]
Y = ["cat", "cat", "dog", "dog"]
POOL = [
    "woof woof", "the kitten meows", "barking at the mailman", "meowing for food", "my puppy chewed my shoes",
    "a cat nap in the sun", "he wags his tail", "scratching the sofa", "walkies in the park", "hissing at a bird",
    "i like milk",  # already labelled: never pseudo-labelled
]  # fmt: skip


def test_pseudo_labels_are_balanced_confident_and_never_relabel_a_user_text():
    clf = Classifier().fit(X, Y, unlabeled=[*POOL, "", "   ", None])
    pseudo = [e for e in clf.examples if e.source is Source.PSEUDO]
    per_class = Counter(e.label for e in pseudo)
    pool = len(POOL) - 1
    assert clf.self_training == {"rounds": ROUNDS, "pool": pool, "pseudo_labeled": len(pseudo)}
    assert set(per_class) == {"cat", "dog"} and len(pseudo) <= pool * SHARE + 2  # each class's share, rounded up
    assert not {e.text for e in pseudo} & set(X)
    user = {(e.text, e.label) for e in clf.examples if e.source is Source.USER}
    assert user == set(zip(X, Y, strict=True))  # every user label kept as given
    assert all(0.5 <= e.meta["confidence"] <= 1 and e.meta["round"] == ROUNDS for e in pseudo)
    assert {e.text: e.label for e in pseudo}.get("woof woof") == "dog"


def test_self_training_lifts_ag_news_on_held_out_train_rows():
    """4 labelled rows per class and 600 unlabelled ones, scored on 500 other train rows (never test)."""
    rows = shuffled_sample(dataset("ag_news", "train"), 1200, seed=3)
    held, unlabeled = rows[:500], [r["text"] for r in rows[500:1100]]
    labelled: list[dict] = []
    for r in rows[1100:] + rows[500:1100]:
        if sum(x["label"] == r["label"] for x in labelled) < 4:
            labelled.append(r)
    unlabeled = [t for t in unlabeled if t not in {r["text"] for r in labelled}]
    X, y = [r["text"] for r in labelled], [r["label"] for r in labelled]
    truth = np.array([r["label"] for r in held])
    texts = [r["text"] for r in held]
    plain = (Classifier().fit(X, y).predict(texts) == truth).mean()
    selftrained = (Classifier().fit(X, y, unlabeled=unlabeled).predict(texts) == truth).mean()
    assert selftrained >= plain + 0.02, (plain, selftrained)


def test_the_bundle_records_pseudo_examples_and_keeps_them_on_retrain(tmp_path):
    clf = Classifier().fit(X, Y, unlabeled=POOL)
    path = clf.save(tmp_path / "st.model")
    manifest = read_manifest(path)
    n = clf.self_training["pseudo_labeled"]
    assert manifest["training"]["self_training"] == clf.self_training
    assert sum(c.get("pseudo", 0) for c in manifest["example_counts"].values()) == n
    assert manifest["history"][-1]["self_training"]["pseudo_labeled"] == n
    again = Classifier.load(path)
    assert sum(e.source is Source.PSEUDO for e in again.examples) == n
    again.retrain_with_feedback([])
    assert sum(e.source is Source.PSEUDO for e in again.examples) == n  # kept without a new pool
    again.retrain_with_feedback([], unlabeled=["woof", "meow"])
    assert {e.text for e in again.examples if e.source is Source.PSEUDO} <= {"woof", "meow"}


def test_descriptions_plus_unlabelled_texts_only(tmp_path):
    clf = Classifier().prompt_train(PETS, unlabeled=POOL)
    assert clf.self_training["pseudo_labeled"] > 0 and clf.predict(["woof"]).tolist() == ["dog"]


def test_train_unlabeled_through_the_cli(tmp_path):
    pool = tmp_path / "pool.csv"
    pool.write_bytes("\ufeffText\n".encode() + "\n".join(json.dumps(t) for t in POOL).encode())  # Excel's BOM
    model = tmp_path / "pets.model"
    args = ["train", "--class", f"cat: {PETS['cat']}", "--class", f"dog: {PETS['dog']}", "--save", str(model)]
    result = runner.invoke(app, [*args, "--train", "cat: i like milk", "--unlabeled", str(pool), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["self_training"]["pool"] == len(POOL) - 1
    assert "self-training:" in result.stderr and "pseudo-labelled" in result.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    bad = runner.invoke(app, [*args, "--unlabeled", str(empty)])
    assert bad.exit_code != 0 and "no text in" in bad.stderr and "Traceback" not in bad.output
    missing = runner.invoke(app, [*args, "--unlabeled", str(tmp_path / "nope.txt")])
    assert missing.exit_code != 0 and "nope.txt" in missing.stderr and "Traceback" not in missing.output


def test_retrain_with_logged_texts(pets_bundle, tmp_path):
    db = ["--db", str(tmp_path / "runs.sqlite")]
    model = tmp_path / "pets.model"
    model.write_bytes(pets_bundle.read_bytes())
    none = runner.invoke(app, ["retrain", "--load", str(model), "--with-logged-texts", *db])
    assert none.exit_code != 0 and "no logged texts" in none.stderr
    texts = ["woof woof", "the kitten meows", "barking at the mailman", "meowing for food", "woof woof"]
    assert runner.invoke(app, ["classify", "--load", str(model), *db, *texts]).exit_code == 0
    result = runner.invoke(app, ["retrain", "--load", str(model), "--with-logged-texts", *db])
    assert result.exit_code == 0, result.output
    assert "pseudo-labelled from 4 logged text(s)" in result.output
    clf = Classifier.load(model)
    assert clf.self_training["pool"] == 4
    assert {e.text for e in clf.examples if e.source is Source.PSEUDO} <= set(texts)


def test_each_class_gives_the_same_share_of_its_most_confident_texts():
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.55, 0.45], [0.3, 0.7], [0.1, 0.9]])
    texts = ["a", "b", "c", "d", "e", "f"]
    picked = select_confident(proba, texts, ["x", "y"], 0.5, 2)
    assert [(e.text, e.label) for e in picked] == [("a", "x"), ("b", "x"), ("f", "y")]
    assert all(e.source is Source.PSEUDO and e.meta["round"] == 2 for e in picked)
    assert select_confident(proba, texts, ["x", "y"], 1.0, 3)[-1].meta == {"round": 3, "confidence": 0.7}


def test_a_pool_past_the_limit_is_a_random_sample_of_it_said_and_the_same_each_run(monkeypatch, tmp_path):
    """Every unlabelled text was embedded and pseudo-labelled: a million lines took about 17 minutes, and pools
    past 1,000 lowered accuracy on development rows (bench/dev/poolsize.py)."""
    monkeypatch.setattr("llmclf.self_training.MAX_POOL", 4)
    runs = [Classifier().fit(X, Y, unlabeled=POOL) for _ in range(2)]
    assert [clf.self_training["pool"] for clf in runs] == [4, 4]
    assert "self-training reads a random 4 of the 10 unlabelled texts" in " ".join(runs[0].report.notes)
    pseudo = [{e.text for e in clf.examples if e.source is Source.PSEUDO} for clf in runs]
    assert pseudo[0] == pseudo[1] and pseudo[0] <= set(POOL)
    unlabeled = tmp_path / "pool.txt"
    unlabeled.write_text("\n".join(POOL))
    args = ["train", "--class", "cat: Cats meow.", "--class", "dog: Dogs bark.", "--save", str(tmp_path / "m")]
    result = runner.invoke(app, [*args, "--unlabeled", str(unlabeled)])
    assert result.exit_code == 0 and "reads a random 4 of the 11 unlabelled texts" in result.stderr
    assert Classifier.load(tmp_path / "m").self_training["pool"] == 4
    db = ["--db", str(tmp_path / "runs.sqlite")]
    assert runner.invoke(app, ["classify", "--load", str(tmp_path / "m"), *db, *POOL[:6]]).exit_code == 0
    result = runner.invoke(app, ["retrain", "--load", str(tmp_path / "m"), "--with-logged-texts", *db])
    assert result.exit_code == 0 and "reads a random 4 of the 6 unlabelled texts" in result.stderr
    assert "pseudo-labelled from 4 logged text(s)" in result.output
