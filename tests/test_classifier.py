import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

import llmclf
from llmclf import Classifier, DataWarning, Example, InputError, Source
from llmclf.cli import app


def test_public_api_matches_all():
    import types

    exported = {
        name
        for name in dir(llmclf)
        if not name.startswith("_") and not isinstance(getattr(llmclf, name), types.ModuleType)
    }
    assert exported <= set(llmclf.__all__)
    for name in llmclf.__all__:
        assert getattr(llmclf, name) is not None  # lazy names resolve too


def test_pets_get_the_right_labels(pets):
    assert pets.predict(["woof", "meow", "the puppy barked at the mailman", "my kitten purrs on my lap"]).tolist() == [
        "dog",
        "cat",
        "dog",
        "cat",
    ]


def test_predict_proba_rows_sum_to_one_and_follow_classes(pets):
    proba = pets.predict_proba(["woof", "meow", "hello"])
    assert proba.shape == (3, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert list(pets.classes_) == ["cat", "dog"]
    assert pets.classes_[int(proba[0].argmax())] == "dog"


def test_round_trip_gives_identical_probabilities(pets, tmp_path):
    texts = ["woof", "meow", "a bird sings"]
    path = pets.save(tmp_path / "pets.model")
    loaded = Classifier.load(path)
    assert list(loaded.classes_) == list(pets.classes_)
    np.testing.assert_array_equal(loaded.predict_proba(texts), pets.predict_proba(texts))
    assert loaded.descriptions == pets.descriptions
    assert [e.to_dict() for e in loaded.examples] == [e.to_dict() for e in pets.examples]


def test_examples_record_their_source(pets):
    sources = {(e.label, e.source) for e in pets.examples}
    assert ("cat", Source.USER) in sources and ("cat", Source.DESCRIPTION) in sources
    assert any(e.text == "i like milk" and e.source is Source.USER for e in pets.examples)
    # every sentence of the description became an example
    assert any(e.text == "Dogs are loyal pack animals that bark and play fetch." for e in pets.examples)


def test_class_from_examples_alone_becomes_a_class():
    clf = Classifier()
    clf.add_data_to_class("bird", ["tweet tweet", "the parrot talks", "feathers and a beak"])
    clf.prompt_train({"fish": "Fish swim in water and breathe through gills."})
    assert list(clf.classes_) == ["bird", "fish"]
    assert clf.descriptions["bird"] is None
    assert any("no description" in note for note in clf.report.notes)
    assert clf.predict(["the canary sang a tweet"]).tolist() == ["bird"]


def test_fit_is_sklearn_shaped():
    X = ["great movie, loved it", "wonderful and fun", "terrible, boring film", "awful acting, hated it"]
    y = ["pos", "pos", "neg", "neg"]
    clf = Classifier().fit(X, y)
    assert list(clf.classes_) == ["neg", "pos"]
    assert clf.predict(["I loved this wonderful film"]).tolist() == ["pos"]
    assert all(e.source is not Source.USER or e.text in X for e in clf.examples)


def test_classify_returns_sorted_probabilities_and_threshold(pets):
    (pred,) = pets.classify(["woof"])
    assert pred.label == "dog" and list(pred.probabilities) == ["dog", "cat"]
    (abstain,) = pets.classify(["woof"], threshold=0.999)
    assert abstain.label is None and abstain.probabilities == pred.probabilities


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda c: c.prompt_train({"only": "one class here"}), "at least two classes"),
        (lambda c: c.add_data_to_class("", "text"), "class name is empty"),
        (lambda c: c.add_data_to_class("a", "   "), "is empty"),
        (lambda c: c.add_class("a", ""), "is empty"),
        (lambda c: c.predict(["x"]), "not trained"),
        (lambda c: c.fit(["a", "b"], ["x"]), "2 texts but y has 1"),
        (lambda c: c.add_data_to_class(5, "text"), "must be a string, got int 5"),  # said "class name is empty"
        (lambda c: c.add_class(None, "Cats meow."), "must be a string, got NoneType"),
        (lambda c: c.add_data_to_class("a", None), "expected texts .* got NoneType"),  # TypeError: not iterable
        (lambda c: c.fit(None, ["x"]), "expected texts .* got NoneType"),
        (
            lambda c: c.prompt_train(["cat: Cats meow.", "dog: Dogs bark."]),
            "must map each class name",
        ),  # AttributeError
    ],
)
def test_bad_library_input_raises_input_error(call, message):
    with pytest.raises(InputError, match=message):
        call(Classifier())


def test_one_string_is_one_text_everywhere(pets):
    """classify, predict_batch, evaluate, the embedders and the taggers took one string as one text per character."""
    from llmclf.embedding_tagger import EmbeddingTagger, tag_texts
    from llmclf.tagging import Tag

    assert [p.text for p in pets.classify("woof")] == ["woof"]
    assert pets.predict_batch("woof")["prediction"].tolist() == pets.predict(["woof"]).tolist()
    assert llmclf.evaluate(pets, "woof", "dog").n == 1
    with pytest.raises(InputError, match="no labelled texts to evaluate"):  # it reported accuracy 0.0
        llmclf.evaluate(pets, [], [])
    assert pets.embed("woof").shape == (1, 384) and pets.embedder_.embed("woof").shape == (1, 384)
    tags = [Tag("1", "dog", "about dogs"), Tag("2", "cat", "about cats")]
    assert [r.text for r in tag_texts("woof", tags)] == ["woof"]
    assert [r.text for r in EmbeddingTagger(tags).tag("meow")] == ["meow"]
    with pytest.raises(InputError, match="text 2 must be a string, got int"):
        tag_texts(["woof", 5], tags)
    X, y = ["a cat", "a dog", "cats meow", "dogs bark"], ["cat", "dog", "cat", "dog"]
    assert llmclf.Classifier().fit(X, y, unlabeled="the kitten purrs").self_training["pool"] == 1  # was 10 letters


@pytest.mark.parametrize("call", ["predict", "predict_proba", "classify"])
def test_no_texts_at_all_is_an_input_error(pets, call):
    with pytest.raises(InputError, match=r"expected texts .* got NoneType"):
        getattr(pets, call)(None)


@pytest.mark.parametrize("blank", ["", "  \t", "\x00", "\u200b\u200d", "\ufeff", "\u2066\u2069 \x1f"])
def test_empty_text_to_predict_is_refused(pets, blank):
    """Whitespace, control and format characters alone are an empty text: the tokenizer drops them all."""
    with pytest.raises(InputError, match="text 2 is empty"):
        pets.predict(["woof", blank])
    assert pets.predict_batch(["woof", blank])["error"].tolist() == [None, "text is empty"]
    with pytest.raises(InputError, match="is empty"):
        Classifier().add_data_to_class("cat", blank)


def test_embedder_sorts_by_length_but_keeps_input_order():
    emb = llmclf.MiniLMEmbedder(batch_size=2)
    texts = ["a much longer sentence about dogs and cats and birds", "hi", "medium length text", "x"]
    together = emb.embed(texts)
    alone = np.vstack([emb.embed([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, rtol=1e-5)
    assert together.dtype == np.float32 and together.shape == (4, 384)


def test_a_huge_text_is_cut_by_characters_before_tokenising(pets, monkeypatch):
    from llmclf.embedding import CHARS_PER_TOKEN_MAX, MiniLMEmbedder, _load_minilm

    embedder = MiniLMEmbedder()
    _, tokenizer = _load_minilm(embedder.max_length, embedder.threads)
    lengths = []
    real = type(tokenizer).encode_batch

    class Spy:
        def __getattr__(self, name):
            return getattr(tokenizer, name)

        def encode_batch(self, texts):
            lengths.extend(len(t) for t in texts)
            return real(tokenizer, texts)

    embedder._session, embedder._tokenizer = _load_minilm(embedder.max_length, embedder.threads)[0], Spy()
    vectors = embedder.embed(["woof " * 2_000_000])  # a 10 MB line
    assert vectors.shape == (1, 384) and lengths == [embedder.max_length * CHARS_PER_TOKEN_MAX]


def test_many_texts_are_tokenised_a_few_thousand_at_a_time_with_the_same_vectors(monkeypatch):
    """An encoding keeps the tokens past the 256th too (65 KB for a 1,900-character text): fit or predict_proba on
    100,000 long texts tokenised them all at once and held 6.5 GB of encodings."""
    import llmclf.embedding
    from llmclf.embedding import MiniLMEmbedder, _load_minilm

    embedder = MiniLMEmbedder()
    session, tokenizer = _load_minilm(embedder.max_length, embedder.threads)
    sizes = []

    class Spy:
        def encode_batch(self, texts):
            sizes.append(len(texts))
            return tokenizer.encode_batch(texts)

    texts = [" ".join(["the cat sat"] * (i % 7 + 1)) + f" {i}" for i in range(23)]
    whole = embedder.embed(texts)
    embedder._session, embedder._tokenizer = session, Spy()
    monkeypatch.setattr(llmclf.embedding, "TOKENISED_AT_ONCE", 5)
    np.testing.assert_allclose(embedder.embed(texts), whole, atol=1e-5)
    assert sizes == [5, 5, 5, 5, 3]


def test_a_text_with_two_labels_is_kept_and_said(tmp_path):
    clf = Classifier().fit(["woof", "woof", "meow", "bark"], ["dog", "cat", "cat", "dog"])
    assert any(n.startswith("labels disagree: 1 text(s)") and "'woof': cat, dog" in n for n in clf.report.notes)
    assert not [n for n in Classifier().fit(["woof", "meow"], ["dog", "cat"]).report.notes if "disagree" in n]
    data = tmp_path / "data.csv"
    data.write_text("text,label\nwoof,dog\nwoof,cat\nmeow,cat\n")
    result = CliRunner().invoke(app, ["train", "--data", str(data), "--save", str(tmp_path / "m.model")])
    assert result.exit_code == 0 and "notice: labels disagree: 1 text(s)" in result.stderr


def test_add_examples_checks_what_it_takes_and_takes_exported_records():
    """add_examples trusted its Examples: None text, a label with spaces around it or a source given as a string
    failed later as an AttributeError or a KeyError, and an empty text trained."""

    bad = [
        ([Example("", "a")], "example for class 'a' is empty"),
        ([Example(None, "a")], "must be a string, got NoneType"),
        ([Example("y", "a", "nope")], "example 1 has source 'nope'"),
        (["y"], "example 1 must be an Example or a mapping"),
    ]
    for examples, message in bad:
        with pytest.raises(InputError, match=message):
            Classifier().add_examples(examples)
    clf = Classifier().add_examples([Example("a cat", "cat "), Example("a dog", "dog", "feedback")])
    clf.add_examples([{"text": "the kitten", "label": "cat", "source": "user", "meta": {"run_id": "x"}}])
    clf.prompt_train()
    assert clf.classes_.tolist() == ["cat", "dog"]
    assert {(e.text, e.label, e.source.value) for e in clf.examples if e.source.value != "description"} == {
        ("a cat", "cat", "user"),
        ("a dog", "dog", "feedback"),
        ("the kitten", "cat", "user"),
    }


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.classify(["woof"], top_n=-1), "top_n must be a whole number, 1 or more, not -1"),
        (lambda c: c.classify(["woof"], top_n=0), "top_n must be a whole number, 1 or more, not 0"),
        (lambda c: c.classify(["woof"], top_n=1.5), "top_n must be a whole number, 1 or more, not 1.5"),
        (lambda c: c.classify(["woof"], threshold=5), "threshold must be a number from 0 to 1, not 5"),
        (lambda c: c.classify(["woof"], threshold=float("nan")), "threshold must be a number from 0 to 1, not nan"),
        (lambda c: c.predict_batch(["woof"], top_k=0), "top_k must be a whole number, 1 or more, not 0"),
        (lambda c: c.predict_batch(["woof"], threshold=-0.1), "threshold must be a number from 0 to 1, not -0.1"),
    ],
)
def test_top_n_and_threshold_out_of_range_are_input_errors(pets, call, message):
    """classify(top_n=-1) cut the last class off as a slice does, and threshold=5 made every text abstain."""
    with pytest.raises(InputError, match=f"^{message}$"):
        call(pets)
    top = pets.classify(["woof"], top_n=10**30, threshold=0.0)[0]  # past the classes: all of them
    assert set(top.probabilities) == {"cat", "dog"} and top.label == "dog"
    assert pets.predict_batch(["woof"], top_k=10**30)["top_k_labels"].shape == (1, 2)


class _FailingGenerator:
    def generate(self, descriptions, examples):
        raise RuntimeError("the LLM went away")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda c, X, y: c.fit([*X[:-1], ""], y), InputError, "text 8 of X is empty"),
        (lambda c, X, y: c.fit([*X[:-1], None], y), InputError, "text 8 of X must be a string, got NoneType"),
        (lambda c, X, y: c.fit(X, y, unlabeled=5), InputError, "expected texts"),
        (lambda c, X, y: c.prompt_train({"bird": "Birds sing.", "fish": " "}), InputError, "class 'fish' is empty"),
        (
            lambda c, X, y: c.add_examples([{"text": "a kitten", "label": "cat"}, {"text": "", "label": "cat"}]),
            InputError,
            "is empty",
        ),
        (
            lambda c, X, y: c.retrain_with_feedback([Example("woof", "dog"), Example("tweet", "bird")]),
            InputError,
            "labels the model does not have: bird",
        ),
        (lambda c, X, y: c.retrain_with_feedback([Example("woof", "dog"), Example("", "dog")]), InputError, "empty"),
        (
            lambda c, X, y: setattr(c, "generator", _FailingGenerator()) or c.prompt_train({"bird": "Birds sing."}),
            RuntimeError,
            "the LLM went away",
        ),
    ],
)
def test_a_call_that_fails_leaves_the_classifier_as_it_was(call, error, message):
    """A refit with one empty text wiped a trained classifier (predict then said "not trained"), and a class map
    with one bad description was half added: nothing the user had may be lost to an error."""
    X = ["i like milk", "meow meow", "purring softly", "the cat sat", "woof woof", "barking loud", "fetch it", "a dog"]
    y = ["cat"] * 4 + ["dog"] * 4
    clf = Classifier().fit(X, y)
    before = (clf.predict_proba(["woof", "meow"]), clf.model_id, list(clf.examples), dict(clf.descriptions))
    history = list(clf.history)
    with pytest.raises(error, match=message):
        call(clf, X, y)
    clf.generator = None
    np.testing.assert_array_equal(clf.predict_proba(["woof", "meow"]), before[0])
    assert (clf.model_id, clf.examples, clf.descriptions, clf.history) == (*before[1:], history)
    assert clf.classes_.tolist() == ["cat", "dog"]


def test_a_class_with_neither_description_nor_examples_is_said_to_be_learned_from_its_name():
    """The note said "it is learned from its examples" of a class that had none."""
    clf = Classifier().add_data_to_class("fruit", "a yellow banana").prompt_train({"veg": None})
    assert clf.report.notes == [
        "class 'fruit' has no description; it is learned from its examples",
        "class 'veg' has no description and no examples: it is learned from its name",
    ]
    with pytest.raises(InputError, match=r"^feedback must be a list of Examples, not NoneType$"):
        clf.retrain_with_feedback(None)


def test_examples_added_after_training_are_said_to_wait_for_the_next_training():
    """add_data_to_class on a trained classifier changed nothing that predict used, without a word: a class added
    so was never predicted, and a save kept examples its head had not seen."""
    clf = Classifier().prompt_train({"cat": "Cats meow and purr.", "dog": "Dogs bark and fetch."})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.predict(["woof"])  # nothing added: no warning
    clf.add_data_to_class("bird", ["tweet tweet", "a parrot talks"])
    with pytest.warns(DataWarning, match=r"^2 example\(s\) were added after the last training") as said:
        assert clf.predict(["tweet tweet"])[0] != "bird"
    assert said[0].filename == __file__  # the caller's line, not one of llmclf's
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.predict_proba(["tweet tweet"])  # said once for that count
        clf.prompt_train()
        assert clf.predict(["tweet tweet"])[0] == "bird"  # trained on now: nothing to say
    clf.add_data_to_class("bird", ["a parrot squawks", "a robin sings"])
    with pytest.warns(DataWarning, match=r"^2 example\(s\) were added"):  # was silent: the count said before was 2
        clf.predict(["tweet tweet"])


def test_prompt_train_takes_class_names_pairs_and_a_series():
    """`prompt_train(["positive", "negative"])` (the names alone, as zero-shot pipelines take them), a list of
    (name, description) pairs and a pandas Series were "classes must map each class name to its description"."""
    import pandas as pd

    described = {"cat": "Cats meow and purr.", "dog": "Dogs bark and fetch."}
    for classes in (list(described.items()), pd.Series(described)):
        assert Classifier().prompt_train(classes).descriptions == described
    named = Classifier().prompt_train(["cat", "dog"])
    assert named.descriptions == {"cat": None, "dog": None} and named.predict(["my dog"]).tolist() == ["dog"]
    for bad, message in ((["cat", "cat"], "class 'cat' is given twice"), ("cat", "got a str"), (["cat", 5], "list")):
        with pytest.raises(InputError, match=message):
            Classifier().prompt_train(bad)


@pytest.mark.parametrize("labels", [["0", "1", "-1"], ["LABEL_0", "LABEL_1", "LABEL_2"], ["class 1", "class 2", "3.5"]])
def test_a_label_that_names_nothing_counts_once_bare_and_in_no_sentence(labels):
    """Labels that are numbers got "This text is about 0." and "A message about 0.": near-twins across classes,
    which cost the default 3.4 points at 8 per class against a plain frozen-embedding head (ag_news)."""
    texts = ["stocks fell", "the team won", "a new phone", "rates rose", "a late goal", "a faster chip"]
    clf = Classifier().fit(texts, [labels[i % 3] for i in range(6)])
    derived = {(e.text, e.label) for e in clf.training_examples() if e.source.value == "description"}
    assert derived == {(label.strip(), label) for label in labels}
    named = Classifier().fit(texts, [("business", "sports", "tech")[i % 3] for i in range(6)])
    assert ("This text is about sports.", "sports") in {(e.text, e.label) for e in named.training_examples()}
    stars = Classifier().fit(texts, [("1 star", "3 stars", "5 stars")[i % 3] for i in range(6)])  # a word: sentences
    assert ("A message about 3 stars.", "3 stars") in {(e.text, e.label) for e in stars.training_examples()}
