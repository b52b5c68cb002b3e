"""The hybrid head's TF-IDF half: the numpy/scipy transform equals scikit-learn's, and the head uses it."""

import json
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from llmclf import Classifier
from llmclf.bundle import read_manifest
from llmclf.tfidf import BLOCKS, char_wb_ngrams, fit_tfidf, word_ngrams

from .conftest import PETS, dataset, shuffled_sample

# letters, digits, accents, a dotless i, CJK, emoji, punctuation and every kind of whitespace sklearn meets
ALPHABET = st.sampled_from(
    [*list("abcXYZ019_-.,!?'éÉßİıø中文😀"), " ", "  ", "\t", "\n", "\r\n", "\xa0", "\u2003", "\x1c"]
)
texts = st.lists(ALPHABET, max_size=40).map("".join)


def sklearn_blocks(train):
    return [
        TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, sublinear_tf=True).fit(train)
        for analyzer, ngrams in BLOCKS
    ]


def assert_same_matrix(ours_features, theirs, docs):
    for block, vec in zip(ours_features.blocks, theirs, strict=True):
        assert block.terms == list(vec.get_feature_names_out())
        np.testing.assert_allclose(block.idf, vec.idf_)
        np.testing.assert_allclose(block.transform(docs).toarray(), vec.transform(docs).toarray(), atol=1e-6)


def test_transform_equals_sklearn_on_real_training_vocabulary():
    train = [r["text"] for r in shuffled_sample(dataset("banking77", "train"), 2000)]
    unseen = [r["text"] for r in shuffled_sample(dataset("emotion", "test"), 300)] + ["", "   ", "a", "??"]
    assert_same_matrix(fit_tfidf(train), sklearn_blocks(train), train[:300] + unseen)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(train=st.lists(texts, min_size=1, max_size=8), docs=st.lists(texts, max_size=8))
def test_transform_equals_sklearn_on_any_text(train, docs):
    try:
        theirs = sklearn_blocks(train)
    except ValueError:  # sklearn: "empty vocabulary" (no term at all); ours is then an empty block
        assert fit_tfidf(train).n_features < sum(1 for _ in train) * 1000
        return
    assert_same_matrix(fit_tfidf(train), theirs, train + docs)


@settings(max_examples=100, deadline=None)
@given(text=texts)
def test_analyzers_give_sklearns_terms(text):
    word = TfidfVectorizer(analyzer="word", ngram_range=(1, 2)).build_analyzer()
    assert word_ngrams(text, 1, 2) == word(text)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).build_analyzer()
    ours, theirs = char_wb_ngrams(text, 2, 5), char(text)
    # ours also holds n-grams across two padded words; each has two spaces in a row, which no term has
    assert sorted(g for g in ours if "  " not in g) == sorted(theirs)


def test_examples_make_a_hybrid_head_and_descriptions_alone_do_not(tmp_path):
    zero = Classifier().prompt_train(PETS)
    assert zero.head.sparse is None and zero.manifest()["training"]["tfidf"] is None
    assert zero.manifest()["training"]["tfidf_weight"] == "auto"  # the parameter, for a later retrain with data
    clf = Classifier().add_data_to_class("cat", "i like milk").add_data_to_class("dog", "i like bones")
    clf.prompt_train(PETS)
    training = clf.manifest()["training"]
    assert training["head"] == "hybrid" and training["tfidf"]["weight"] > 0
    assert [(b["analyzer"], tuple(b["ngram_range"])) for b in training["tfidf"]["blocks"]] == list(BLOCKS)
    dense = Classifier(tfidf_weight=0).add_data_to_class("cat", "i like milk").add_data_to_class("dog", "bones")
    assert dense.prompt_train(PETS).head.sparse is None

    path = clf.save(tmp_path / "h.model")
    with zipfile.ZipFile(path) as zf:
        stored = json.loads(zf.read("tfidf.json"))
    assert [len(b["terms"]) for b in stored["blocks"]] == [len(b.terms) for b in clf.head.sparse.blocks]
    assert read_manifest(path)["training"]["head"] == "hybrid"
    again = Classifier.load(path)
    docs = ["woof", "i like milk", "a purring kitten on the sofa"]
    np.testing.assert_allclose(again.predict_proba(docs), clf.predict_proba(docs), atol=1e-6)
    assert again.tfidf_weight == clf.tfidf_weight


def test_hybrid_beats_the_frozen_encoder_and_tfidf_with_many_examples():
    """emotion, 2,000 train rows, scored on its validation split: the case where a frozen encoder
    fell 22 points behind TF-IDF+LR. The hybrid must beat both."""
    train = shuffled_sample(dataset("emotion", "train"), 2000)
    held = shuffled_sample(dataset("emotion", "validation"), 500)
    X, y = [r["text"] for r in train], [r["label"] for r in train]
    truth = np.array([r["label"] for r in held])
    texts = [r["text"] for r in held]
    hybrid = (Classifier().fit(X, y).predict(texts) == truth).mean()
    dense = (Classifier(tfidf_weight=0).fit(X, y).predict(texts) == truth).mean()
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    tfidf = LogisticRegression(C=10, max_iter=2000).fit(vec.fit_transform(X), y).predict(vec.transform(texts)) == truth
    assert hybrid > dense + 0.05 and hybrid >= tfidf.mean(), (hybrid, dense, tfidf.mean())


@pytest.mark.parametrize("weight", [-1.0, float("nan"), "big", 101.0])
def test_a_bad_tfidf_weight_is_refused(weight):
    clf = Classifier(tfidf_weight=weight).add_data_to_class("cat", "milk").add_data_to_class("dog", "bones")
    with pytest.raises(ValueError, match="tfidf_weight"):
        clf.prompt_train(PETS)


def test_a_huge_alphabet_falls_back_to_dict_lookups_with_the_same_result():
    """Over 4,095 distinct characters cannot be packed 5 to a 64-bit key: the Python path takes over."""
    train = ["".join(chr(0x4E00 + i + j) for j in range(3)) + " x" for i in range(0, 5000, 2)]
    ours = fit_tfidf(train)
    char = ours.blocks[1]
    assert char._char_index() is None
    docs = [*train[:50], "一丁七 x", "new words"]
    np.testing.assert_allclose(
        char.transform(docs).toarray(), sklearn_blocks(train)[1].transform(docs).toarray(), atol=1e-6
    )


def test_the_packed_index_and_the_dict_lookup_agree_on_real_text():
    train = [r["text"] for r in shuffled_sample(dataset("ag_news", "train"), 1000)]
    char = fit_tfidf(train).blocks[1]
    docs = [r["text"] for r in shuffled_sample(dataset("ag_news", "test"), 300)]
    packed = sorted(zip(*(a.tolist() for a in char._char_index().lookup(docs)), strict=True))
    plain = sorted(zip(*(a.tolist() for a in char._lookup(docs)), strict=True))
    assert packed == plain and len(packed) > 10_000


def test_many_classes_cap_the_tfidf_terms(monkeypatch):
    """The hybrid's weights are classes x terms: many classes get fewer, most frequent, terms (memory stays bounded)."""
    import llmclf.head

    monkeypatch.setattr(llmclf.head, "MAX_SPARSE_WEIGHTS", 20_000)
    rng = np.random.default_rng(1)
    words = [f"w{i}x{j}" for i in range(300) for j in range(3)]
    X = [" ".join(rng.choice(words, 6)) for _ in range(400)]
    y = [f"c{i % 100}" for i in range(400)]
    clf = Classifier().fit(X, y)
    assert 0 < clf.head.sparse.n_features <= 20_000 // 100
    assert clf.head.coef.shape == (100, 384 + clf.head.sparse.n_features)


def test_train_cli_tfidf_weight(tmp_path):
    from typer.testing import CliRunner

    from llmclf.cli import app

    args = ["train", "--train", "cat: i like milk", "--train", "dog: i like bones"]
    for flag, head in (("0", "logistic_regression"), ("1.5", "hybrid"), ("auto", "hybrid")):
        path = tmp_path / f"{flag}.model"
        result = CliRunner().invoke(app, [*args, "--tfidf-weight", flag, "--save", str(path)])
        assert result.exit_code == 0, result.output
        assert read_manifest(path)["training"]["head"] == head
    for bad in ("-1", "nan", "inf", "lots", "101"):
        result = CliRunner().invoke(app, [*args, "--tfidf-weight", bad, "--save", str(tmp_path / "x.model")])
        assert result.exit_code != 0 and "--tfidf-weight" in result.stderr and "Traceback" not in result.output


def test_texts_are_looked_up_in_chunks_with_the_same_result(monkeypatch):
    import llmclf.tfidf

    train = [r["text"] for r in shuffled_sample(dataset("trec", "train"), 300)]
    docs = [r["text"] for r in shuffled_sample(dataset("trec", "test"), 50)]
    whole = fit_tfidf(train).transform(docs).toarray()
    monkeypatch.setattr(llmclf.tfidf, "LOOKUP_CHUNK", 7)
    # each chunk's occurrences become its rows before the next is looked up: gathering every chunk's first, as
    # int64 pairs, took 7.3 GB for 48 MB of long texts
    made, real = [], llmclf.tfidf.TfidfBlock._rows
    monkeypatch.setattr(llmclf.tfidf.TfidfBlock, "_rows", lambda self, r, c, n: made.append(n) or real(self, r, c, n))
    chunked = fit_tfidf(train).transform(docs).toarray()
    assert made == [7] * 7 + [1] + [7] * 7 + [1]  # two blocks, 50 texts
    np.testing.assert_array_equal(chunked, whole)
    np.testing.assert_allclose(
        chunked[:, : len(fit_tfidf(train).blocks[0].terms)] * 2,
        sklearn_blocks(train)[0].transform(docs).toarray(),
        atol=1e-6,
    )


def test_lookups_are_bounded_by_characters_too_with_the_same_result(monkeypatch):
    """One chunk of 1,024 texts could hold any number of characters: a 28 MB line took 2 GB."""
    import llmclf.tfidf

    train = [r["text"] for r in shuffled_sample(dataset("trec", "train"), 300)]
    docs = [r["text"] for r in shuffled_sample(dataset("trec", "test"), 50)]
    docs[10] = " ".join(docs[:10])  # one text longer than the budget: it goes alone
    features = fit_tfidf(train)
    whole = features.transform(docs).toarray()
    index = features.blocks[1]._char_index()
    sizes = []
    real = type(index).lookup
    monkeypatch.setattr(type(index), "lookup", lambda self, t: (sizes.append([len(x) for x in t]), real(self, t))[1])
    monkeypatch.setattr(llmclf.tfidf, "CHUNK_CHARS", 200)
    np.testing.assert_array_equal(features.transform(docs).toarray(), whole)
    assert sum(map(len, sizes)) == len(docs) and len(sizes) > 5
    assert all(sum(chunk) <= 200 or len(chunk) == 1 for chunk in sizes), sizes


def test_only_the_first_max_text_chars_of_a_text_count(monkeypatch):
    """A text past MAX_TEXT_CHARS counts as its first MAX_TEXT_CHARS characters, in training and in use alike."""
    import llmclf.tfidf

    monkeypatch.setattr(llmclf.tfidf, "MAX_TEXT_CHARS", 40)
    train = ["the cat sat on the mat and purred all day", "a dog barked at the postman every morning"]
    features = fit_tfidf(train)
    assert "morning" not in features.blocks[0].terms and "postman" in features.blocks[0].terms
    long = "the cat sat on the mat, then a dog barked at the postman every morning"
    np.testing.assert_array_equal(features.transform([long]).toarray(), features.transform([long[:40]]).toarray())


def test_a_bundle_from_before_the_hybrid_head_loads_and_stays_dense_on_retrain(tmp_path):
    from llmclf import Source
    from llmclf.examples import Example

    clf = Classifier(tfidf_weight=0).add_data_to_class("cat", "milk").add_data_to_class("dog", "bones")
    path = clf.prompt_train(PETS).save(tmp_path / "new.model")
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(members["manifest.json"])
    for key in ("tfidf_weight", "tfidf", "self_training"):  # what an older llmclf wrote: none of these
        del manifest["training"][key]
    members["manifest.json"] = json.dumps(manifest).encode()
    old = tmp_path / "old.model"
    with zipfile.ZipFile(old, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    loaded = Classifier.load(old)
    assert loaded.tfidf_weight == 0.0 and loaded.predict(["woof"]).tolist() == ["dog"]
    loaded.retrain_with_feedback([Example("woof woof", "dog", Source.FEEDBACK)])
    assert loaded.head.sparse is None  # the same head it was trained with: no silent change of model kind


def test_a_word_typed_composed_or_decomposed_is_one_term(tmp_path):
    """ "café" with é as one character and as e + U+0301 were two TF-IDF words (the embedder's normaliser makes
    them one): data typed on one machine and texts sent from another did not meet in the sparse half."""
    import unicodedata

    nfd = unicodedata.normalize("NFD", "un café crème, s'il vous plaît")
    assert nfd != unicodedata.normalize("NFC", nfd)
    train = ["un café crème", "le thé vert", "un café noir", "une tisane"]
    features = fit_tfidf(train)
    assert features.unicode == "NFC" and features.info()["unicode"] == "NFC"
    np.testing.assert_allclose(
        features.transform([nfd]).toarray(), features.transform([unicodedata.normalize("NFC", nfd)]).toarray()
    )
    nfc_first = [TfidfVectorizer(analyzer=a, ngram_range=r, sublinear_tf=True,
                                 preprocessor=lambda t: unicodedata.normalize("NFC", t).lower())
                 for a, r in BLOCKS]  # fmt: skip
    decomposed = [unicodedata.normalize("NFD", t) for t in train]
    ours = fit_tfidf(decomposed, weight=1.0)
    assert [b.terms for b in ours.blocks] == [list(v.fit(decomposed).get_feature_names_out()) for v in nfc_first]
    theirs = np.hstack([v.transform([nfd]).toarray() for v in nfc_first])
    np.testing.assert_allclose(ours.transform([nfd]).toarray(), theirs, atol=1e-6)
    # a bundle records the form, and one from before (no form recorded) reads texts as they come, as it was fitted
    clf = Classifier().add_data_to_class("drink", "un café crème").add_data_to_class("food", "une crêpe")
    path = clf.prompt_train({"drink": "Something to drink.", "food": "Something to eat."}).save(tmp_path / "c.model")
    assert read_manifest(path)["training"]["tfidf"]["unicode"] == "NFC"
    assert Classifier.load(path).head.sparse.unicode == "NFC"
    old = fit_tfidf(train, unicode=None)
    assert old.unicode is None and "unicode" not in old.info()
    assert (
        old.transform([nfd]).toarray().tolist() != old.transform([unicodedata.normalize("NFC", nfd)]).toarray().tolist()
    )
