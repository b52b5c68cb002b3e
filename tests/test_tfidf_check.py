"""The TF-IDF weight check: labelled data whose classes are told apart by surface words raises the hybrid's TF-IDF
weight, data the embedding reads better keeps it, and what was found goes into the bundle."""

import json
import random
import zipfile

import numpy as np
import pytest
from typer.testing import CliRunner

from llmclf import Classifier, tfidf_check
from llmclf.bundle import read_manifest
from llmclf.cli import app
from llmclf.errors import BundleError
from llmclf.examples import Example, Source
from llmclf.head import AUTO_WEIGHT_MAX

TOPICS = [
    "the printer on the second floor is jammed again",
    "my laptop will not start after the update",
    "can someone reset my password for the portal",
    "the coffee machine in the kitchen is leaking",
    "the projector in room four shows no picture",
    "i cannot reach the shared drive from home",
    "the badge reader at the front door is dead",
    "our team needs a new license for the editor",
    "the heating in the east wing is far too high",
    "a window in the meeting room will not close",
    "the phone on my desk has no dial tone",
    "the lift stops between the third and fourth floor",
]
DESKS = ["north", "south", "west"]  # the class is the desk a ticket was reported at, not what it is about
N = 12  # per class; auto weight 0.5 * (12 / 8) ** (1 / 3) = 0.5724


def tickets(n_per_class: int, seed: int) -> tuple[list[str], list[str]]:
    """Tickets whose class is the desk named at their end: any two topics go to any desk, so only that word tells
    them apart (as a news agency's name in a story)."""
    rng = random.Random(seed)
    texts, labels = [], []
    for desk in DESKS:
        for _ in range(n_per_class):
            first, second = rng.sample(TOPICS, 2)
            texts.append(f"{first}, and {second} (reported at the {desk} desk)")
            labels.append(desk)
    return texts, labels


@pytest.fixture(scope="module")
def by_desk():
    return Classifier().fit(*tickets(N, seed=0))


def test_classes_told_apart_by_a_word_raise_the_tfidf_weight_and_it_pays(by_desk):
    check = by_desk.manifest()["training"]["tfidf_check"]
    assert check["auto"] == 0.5724 and check["weight"] == 1.1447, check
    assert check["only_tfidf_right"] > check["only_embedding_right"], check
    assert check["hybrid_right_raised"] > check["hybrid_right_auto"], check
    assert by_desk.head.sparse.weight == 1.1447
    texts, labels = tickets(30, seed=1)
    raised = by_desk.score(texts, labels)
    kept = Classifier(tfidf_weight=0.5724).fit(*tickets(N, seed=0)).score(texts, labels)
    assert raised > kept, (raised, kept)


def test_classes_the_embedding_reads_better_keep_the_auto_weight():
    cats = [
        "my kitten purrs on the sofa",
        "the tabby chased a mouse",
        "she meows for her dinner",
        "a feline nap in sun",
        "whiskers twitch at the window",
        "the litter box needs cleaning",
        "he scratched the new couch",
        "a ball of yarn under the bed",
    ]
    dogs = [
        "the puppy fetched a stick",
        "he barks at the mailman",
        "a long walk in the park on a leash",
        "the hound sniffed the trail",
        "she wags her tail at guests",
        "we bought a chew toy",
        "the retriever swam in the lake",
        "a bone buried in the garden",
    ]
    clf = Classifier().fit(cats + dogs, ["cat"] * 8 + ["dog"] * 8)
    check = clf.manifest()["training"]["tfidf_check"]
    assert check["weight"] == check["auto"] == 0.5, check
    assert check["only_embedding_right"] >= check["only_tfidf_right"], check


def test_the_checks_faster_solver_finds_what_the_final_heads_would(by_desk, monkeypatch):
    """The check fits its folds with newton-cg, the final head with lbfgs: the same optimum, so the same counts."""
    assert tfidf_check.solver_for(3 * N) == "newton-cg"
    monkeypatch.setattr(tfidf_check, "solver_for", lambda rows: "lbfgs")
    with_lbfgs = Classifier().fit(*tickets(N, seed=0)).manifest()["training"]["tfidf_check"]
    assert with_lbfgs == by_desk.manifest()["training"]["tfidf_check"]


class Scripted:
    """A fold's head that gets each held-out text right or wrong as its test says, whatever it was fitted on."""

    def __init__(self, truth: dict[str, str], classes: list[str], is_right):
        self.truth, self.classes, self.is_right = truth, classes, is_right

    def logits(self, X, texts):
        out = np.zeros((len(texts), len(self.classes)))
        for row, text in enumerate(texts):
            label = self.truth[text] if self.is_right(text) else next(c for c in self.classes if c != self.truth[text])
            out[row, self.classes.index(label)] = 1.0
        return out


@pytest.mark.parametrize(("raised_right", "kept"), [(30, True), (29, True), (31, False)])
def test_where_the_hybrid_at_the_raised_weight_is_no_better_the_weight_stays(raised_right, kept):
    """TF-IDF alone beats the embedding alone on every text, but the raise must also pay in the hybrid itself:
    of 36 held-out texts the hybrid at the auto weight gets 30 right, at double it ``raised_right``."""
    texts = [f"ticket {i}" for i in range(36)]
    truth = {t: "ab"[i % 2] for i, t in enumerate(texts)}
    examples = [Example(t, truth[t], Source.USER) for t in texts]

    def fit(X, labels, classes, fold_texts, fold, weight, solver):
        if weight == 0:  # the embedding alone: always wrong
            return Scripted(truth, classes, lambda text: False)
        if X.shape[1] == 0:  # TF-IDF alone: always right
            return Scripted(truth, classes, lambda text: True)
        right = 30 if weight == 0.5 else raised_right
        return Scripted(truth, classes, lambda text: int(text.split()[1]) < right)

    check = tfidf_check.check_tfidf_weight(np.zeros((36, 4)), examples, ["a", "b"], 0.5, fit)
    assert (check["only_tfidf_right"], check["only_embedding_right"]) == (36, 0)
    assert (check["hybrid_right_auto"], check["hybrid_right_raised"]) == (30, raised_right)
    assert check["weight"] == (0.5 if kept else 1.0), check
    assert f"the hybrid was right 30 times at 0.5, {raised_right} times raised" in tfidf_check.summary(check)


def test_the_check_survives_a_save_and_a_retrain_checks_again(by_desk, tmp_path):
    path = by_desk.save(tmp_path / "tickets.model")
    assert read_manifest(path)["training"]["tfidf_check"] == by_desk.manifest()["training"]["tfidf_check"]
    loaded = Classifier.load(path)
    texts = tickets(5, seed=2)[0]
    np.testing.assert_allclose(loaded.predict_proba(texts), by_desk.predict_proba(texts), atol=1e-6)
    assert loaded.manifest()["training"]["tfidf_check"]["weight"] == 1.1447
    loaded.add_data_to_class("west", ["the lift is stuck, and the heating is far too high (reported at the west desk)"])
    loaded.prompt_train()
    assert loaded.manifest()["training"]["tfidf_check"]["held_out"] == 37  # the new example is held out too


def test_the_check_runs_only_where_it_can_say_something():
    texts, labels = tickets(N, seed=0)
    assert "tfidf_check" not in Classifier(tfidf_weight=0.5).fit(texts, labels).manifest()["training"]
    assert "tfidf_check" not in Classifier(tfidf_weight=0).fit(texts, labels).manifest()["training"]
    few = Classifier().fit(texts[:2] + texts[N : N + 2], labels[:2] + labels[N : N + 2])  # 4 labelled: too few to say
    assert "tfidf_check" not in few.manifest()["training"]
    zero_shot = Classifier().prompt_train({"cat": "Cats meow.", "dog": "Dogs bark."})
    assert "tfidf_check" not in zero_shot.manifest()["training"]


def test_the_check_never_raises_past_the_most_auto_gives(monkeypatch):
    from llmclf import tfidf_check

    monkeypatch.setattr(tfidf_check, "RAISE", 100.0)
    clf = Classifier().fit(*tickets(N, seed=0))
    assert clf.manifest()["training"]["tfidf_check"]["weight"] == AUTO_WEIGHT_MAX


def test_pseudo_labels_are_never_held_out_or_trained_on_by_the_check():
    texts, labels = tickets(N, seed=0)
    pool = tickets(10, seed=3)[0]
    clf = Classifier().fit(texts, labels, unlabeled=pool)
    assert clf.self_training["pseudo_labeled"] > 0
    assert clf.manifest()["training"]["tfidf_check"]["held_out"] == 36


def test_train_says_when_it_raised_the_weight_and_info_shows_the_check(tmp_path):
    data = tmp_path / "tickets.jsonl"
    data.write_text(
        "".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in zip(*tickets(N, seed=0), strict=True))
    )
    model = tmp_path / "t.model"
    trained = CliRunner().invoke(app, ["train", "--data", str(data), "--save", str(model)])
    assert trained.exit_code == 0, trained.output
    assert "notice: TF-IDF weight raised from 0.5724 to 1.1447: on 36 labelled examples" in trained.stderr
    info = CliRunner().invoke(app, ["info", str(model)])
    assert info.exit_code == 0 and "tfidf check: TF-IDF weight raised from 0.5724 to 1.1447" in info.stdout, info.output


@pytest.mark.parametrize(
    "change",
    [
        {"weight": -1.0},
        {"weight": "lots"},
        {"held_out": -3},
        {"folds": 1},
        {"weight": 101.0},
        {"only_tfidf_right": 2.5},
        {"hybrid_right_auto": -1},
        {"hybrid_right_raised": "many"},
    ],
)
def test_a_bundle_with_a_bad_check_record_is_refused_in_one_line(by_desk, tmp_path, change):
    path = by_desk.save(tmp_path / "ok.model")
    bad = tmp_path / "bad.model"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "manifest.json":
                manifest = json.loads(data)
                manifest["training"]["tfidf_check"].update(change)
                data = json.dumps(manifest).encode()
            dst.writestr(item, data)
    with pytest.raises(BundleError, match="tfidf_check") as raised:
        Classifier.load(bad)
    assert "\n" not in str(raised.value)
