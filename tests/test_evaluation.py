import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from llmclf import Classifier, InputError
from llmclf.cli import app
from llmclf.evaluation import evaluate, evaluate_proba, expected_calibration_error
from llmclf.head import fit_temperature, softmax

from .conftest import dataset, shuffled_sample


def test_metrics_on_a_hand_checked_example():
    classes = ["a", "b"]
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    report = evaluate_proba(proba, classes, ["a", "b", "b", "c"], threshold=0.65)
    assert report.accuracy == pytest.approx(0.5)  # a ok, b->a wrong, b ok, c (unknown) wrong
    a, b, c = report.per_class
    assert (a.label, a.precision, a.recall) == ("a", pytest.approx(1 / 3), 1.0)
    assert (b.precision, b.recall, b.support) == (1.0, 0.5, 2)
    assert (c.label, c.recall, c.support) == ("c", 0.0, 1)
    assert report.macro_f1 == pytest.approx(np.mean([0.5, 2 / 3, 0.0]))
    assert report.unknown_labels == {"c": 1}  # counted, never dropped
    assert report.abstain_rate == pytest.approx(0.25)  # only the 0.6 row is below 0.65
    assert ("b", "a", 1) in report.confused and ("c", "a", 1) in report.confused


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_not():
    conf = np.array([0.8] * 10)
    ece, table = expected_calibration_error(conf, np.array([1] * 8 + [0] * 2, dtype=bool))
    assert ece == pytest.approx(0.0, abs=1e-9) and sum(b.count for b in table) == 10 and len(table) == 15
    ece, _ = expected_calibration_error(np.array([0.99] * 10), np.array([1] * 5 + [0] * 5, dtype=bool))
    assert ece == pytest.approx(0.49)


def test_fit_temperature_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 5)) * 2
    y = np.array([rng.choice(5, p=p) for p in softmax(true_logits)])
    assert fit_temperature(true_logits * 3, y) == pytest.approx(3.0, rel=0.1)  # over-confident by 3x


def test_calibration_lowers_ece_on_real_data():
    train = shuffled_sample(dataset("trec", "train"), 600)
    test = shuffled_sample(dataset("trec", "test"), 500)
    X, y = [r["text"] for r in train], [r["label"] for r in train]
    plain = Classifier().fit(X, y)
    calibrated = Classifier(calibrate=True).fit(X, y)
    texts, labels = [r["text"] for r in test], [r["label"] for r in test]
    before = evaluate_proba(plain.predict_proba(texts), plain.class_names, labels)
    after = evaluate_proba(calibrated.predict_proba(texts), calibrated.class_names, labels)
    assert calibrated.calibration["held_out"] >= 590  # 600 rows less exact duplicates
    assert after.accuracy == pytest.approx(before.accuracy)  # one temperature never changes the argmax
    assert after.ece < before.ece


def test_eval_of_data_whose_labels_the_model_never_knew_is_an_error(pets_bundle, pets, tmp_path):
    """Numbered labels against named classes ("0", "1" for cat, dog) scored accuracy 0.0, exit 0, every row 'an
    error'; a label that differs only in case ("Dog") was an error without a word on why."""
    runner = CliRunner()
    numbered = tmp_path / "numbered.csv"
    numbered.write_text("text,label\nwoof,1\nmeow,0\n", encoding="utf-8")
    result = runner.invoke(app, ["eval", "--load", str(pets_bundle), str(numbered), "--json"])
    assert result.exit_code == 2 and result.stdout == "", result.output
    assert result.stderr.strip() == (
        "error: none of the data's labels is a class of the model: labels '0', '1'; classes 'cat', 'dog'"
    )
    with pytest.raises(
        InputError, match="labels are matched exactly, and some differ from a class only in case or spacing"
    ):
        evaluate(pets, ["woof", "meow"], ["DOG", " Cat"])
    cased = tmp_path / "cased.csv"
    cased.write_text("text,label\nwoof,dog\nmeow,Cat\n", encoding="utf-8")
    result = runner.invoke(app, ["eval", "--load", str(pets_bundle), str(cased), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["unknown_labels"] == {"Cat": 1}
    assert "differ from a class only in case or spacing: 'Cat' -> 'cat'" in result.stderr


def test_calibration_is_skipped_with_a_note_when_data_is_too_small(pets):
    clf = Classifier(calibrate=True).prompt_train({"cat": "Cats meow.", "dog": "Dogs bark."})
    assert clf.head.temperature == 1.0 and "calibration skipped" in clf.report.notes[0]


def test_eval_cli_reports_table_json_and_unknown_labels(pets_bundle, tmp_path):
    data = tmp_path / "eval.csv"
    data.write_text("text,label\nwoof,dog\nmeow,cat\ntweet,bird\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["eval", "--load", str(pets_bundle), str(data), "--json", "--threshold", "0.5"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n"] == 3 and report["accuracy"] == pytest.approx(2 / 3)
    assert report["unknown_labels"] == {"bird": 1}
    assert "1 row(s) have labels the model does not know" in result.stderr
    assert {c["label"] for c in report["per_class"]} == {"cat", "dog", "bird"}
    assert len(report["reliability"]) == 15

    table = runner.invoke(app, ["eval", "--load", str(pets_bundle), str(data)])
    assert table.exit_code == 0 and "macro-F1" in table.stdout and "reliability" in table.stdout

    missing = runner.invoke(app, ["eval", "--load", str(pets_bundle), str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "file not found" in missing.stderr


def test_train_cli_calibrate_stores_temperature(tmp_path):
    rows = shuffled_sample(dataset("trec", "train"), 200)
    data = tmp_path / "trec.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = CliRunner().invoke(app, ["train", "--data", str(data), "--calibrate", "--save", str(tmp_path / "t.model")])
    assert result.exit_code == 0, result.output
    assert "calibrated on 200 held-out examples" in result.stderr
    clf = Classifier.load(tmp_path / "t.model")
    assert clf.head.temperature == pytest.approx(clf.calibration["temperature"]) and clf.head.temperature != 1.0


def test_calibration_at_eight_examples_per_class_uses_leave_one_out_and_the_prior():
    """8 per class on ag_news: out-of-fold predictions alone are too few to fit a temperature well;
    the MAP estimate under the prior must still lower ECE on 600 other train rows, clearly."""
    rows = shuffled_sample(dataset("ag_news", "train"), 1000, seed=5)
    held = rows[:600]
    taken: dict[str, int] = {}
    train = []
    for r in rows[600:]:
        if taken.get(r["label"], 0) < 8:
            taken[r["label"]] = taken.get(r["label"], 0) + 1
            train.append(r)
    X, y = [r["text"] for r in train], [r["label"] for r in train]
    texts, labels = [r["text"] for r in held], [r["label"] for r in held]
    raw = Classifier().fit(X, y)
    calibrated = Classifier(calibrate=True).fit(X, y)
    cal = calibrated.calibration
    assert cal["folds"] == "leave-one-out" and cal["held_out"] == 32 and 0 < cal["prior"] < 1
    before = evaluate_proba(raw.predict_proba(texts), raw.class_names, labels).ece
    after = evaluate_proba(calibrated.predict_proba(texts), calibrated.class_names, labels).ece
    assert after < before / 2 and after < 0.1, (before, after)


def test_calibrations_folds_fitted_by_the_faster_solver_find_the_final_heads_temperature(monkeypatch):
    """Up to 2,000 rows the folds are fitted with newton-cg, the final head with lbfgs: the same optimum, so the
    same temperature as lbfgs folds would give."""
    import llmclf.calibration

    rows = shuffled_sample(dataset("trec", "train"), 120, seed=3)
    X, y = [r["text"] for r in rows], [r["label"] for r in rows]
    assert llmclf.calibration.solver_for(len(X)) == "newton-cg"
    fast = Classifier(calibrate=True).fit(X, y).calibration
    monkeypatch.setattr(llmclf.calibration, "solver_for", lambda rows: "lbfgs")
    lbfgs = Classifier(calibrate=True).fit(X, y).calibration
    assert fast["folds"] == 10 and fast["temperature"] != 1.0
    assert fast["temperature"] == pytest.approx(lbfgs["temperature"], rel=1e-3), (fast, lbfgs)


def test_the_calibration_summary_says_whether_a_temperature_was_fitted_or_came_from_the_prior():
    from llmclf.calibration import prior_only, summary
    from llmclf.examples import Example, Source

    examples = [Example(f"text {i}", "ab"[i % 2], Source.USER) for i in range(16)]
    prior = prior_only(examples, ["a", "b"], "no folds to trust")
    assert (
        summary(prior) == f"calibrated by the prior alone: temperature {prior['temperature']:.3f} (no folds to trust)"
    )
    assert "skipped" in prior_only(examples[:7], ["a", "b"], "why")  # too few, as calibrate says
    fitted = {"temperature": 0.5, "held_out": 32, "nll_before": 0.9, "nll_after": 0.6}
    assert summary(fitted) == "calibrated on 32 held-out examples: temperature 0.500, log-loss 0.900 -> 0.600"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bins": 0}, "bins must be a whole number from 1 to 10000, not 0"),
        ({"bins": 10**30}, f"bins must be a whole number from 1 to 10000, not {10**30}"),
        ({"bins": 2.5}, "bins must be a whole number from 1 to 10000, not 2.5"),
        ({"threshold": 7}, "threshold must be a number from 0 to 1, not 7"),
    ],
)
def test_bins_and_threshold_out_of_range_are_input_errors(pets, kwargs, message):
    """bins=0 was sklearn's InvalidParameterError, 10**30 numpy's 'Maximum allowed size exceeded', and threshold=7
    reported every text as abstaining."""
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        evaluate(pets, ["woof", "meow"], ["dog", "cat"], **kwargs)


def test_labels_fit_took_are_the_same_labels_in_evaluate(tmp_path):
    """`evaluate(clf, X, y)` with the float labels fit had just taken (a pandas column of whole numbers) reported
    accuracy 0 and labels '1.0' and '0.0' unknown: fit names 1.0 class "1". A model fitted on booleans knew JSON's
    "true" and "false" (how `llmclf eval` reads them) as no class."""
    texts = ["woof woof", "a dog barks", "meow", "a cat purrs"]
    floats = np.array([1.0, 1.0, 0.0, 0.0])
    clf = Classifier().fit(texts, floats)
    report = evaluate(clf, texts, floats)
    assert report.unknown_labels == {} and report.accuracy == 1.0
    flags = Classifier().fit(texts, [True, True, False, False])
    assert evaluate(flags, texts, [True, True, False, False]).accuracy == 1.0
    assert evaluate(flags, texts, ["true", "true", "false", "FALSE"]).accuracy == 1.0
    data = tmp_path / "test.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": t in texts[:2]}) + "\n" for t in texts))
    path = flags.save(tmp_path / "flags.model")
    result = CliRunner().invoke(app, ["eval", "--load", str(path), "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accuracy"] == 1.0 and json.loads(result.stdout)["unknown_labels"] == {}


def test_evaluate_takes_labels_as_fit_does():
    """A column vector (`df[["label"]]`) was scored as labels "[1]" and "[0]", none known, accuracy 0; a missing
    label (None, NaN) became a class "nan" of its own; fewer labels than texts was numpy's shape error."""
    import pandas as pd

    texts = ["woof woof", "a dog barks", "meow", "a cat purrs"]
    clf = Classifier().fit(texts, [1, 1, 0, 0])
    for labels in (np.array([[1], [1], [0], [0]]), pd.DataFrame({"label": [1, 1, 0, 0]}), pd.Series([1, 1, 0, 0])):
        report = evaluate(clf, texts, labels)
        assert report.accuracy == 1.0 and report.unknown_labels == {}, type(labels)
    for labels, message in (
        (pd.Series([1.0, np.nan, 0.0, 0.0]), "label 2 in y is nan: every text needs a label"),
        ([1, None, 0, 0], "label 2 in y is None: every text needs a label"),
        ([1, 1, 0], "4 texts but 3 labels: give one label per text"),
        (np.zeros((4, 2)), "labels must be one per text, got an array of shape (4, 2)"),
    ):
        with pytest.raises(InputError) as caught:
            evaluate(clf, texts, labels)
        assert str(caught.value) == message
