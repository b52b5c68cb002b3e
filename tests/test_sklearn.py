"""Classifier inside scikit-learn's own machinery: clone, pickle, CV, grid search, pipelines, estimator checks.

``parametrize_with_checks`` yields no check for an estimator whose input tag is
text (``two_d_array=False``): sklearn's generic checks feed random 2-d float
arrays, which a text classifier rightly refuses. So the API checks that need no
data run as they are, and the data checks that matter (fit resets, idempotent
fit, unfitted errors, sample-order and subset invariance, dtype of ``classes_``)
are written here with texts.
"""

import copy
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import FunctionTransformer, make_pipeline
from sklearn.utils import estimator_checks as checks
from sklearn.utils.validation import check_is_fitted

from llmclf import Classifier, InputError
from llmclf.classifier import NotFittedError

ANIMALS = {
    "cat": ["my cat purrs", "the kitten meows", "cats chase mice", "a tabby naps in the sun", "the cat scratched me",
            "kittens love yarn", "she adopted a stray cat", "the cat licks its paws", "meow meow", "litter box duty"],
    "dog": ["the dog barks", "puppies love fetch", "walk the dog", "a loyal hound", "my dog wags its tail",
            "the puppy chewed my shoe", "woof woof", "dog park visit", "the retriever fetched the ball", "a dog's leash"],
    "bird": ["the bird sings", "a parrot talks", "eagles soar high", "the sparrow built a nest", "tweet tweet",
             "feathers on the ground", "a robin hopped by", "the canary chirps", "the owl hoots at night", "birdseed"],
}  # fmt: skip
X = [t for texts in ANIMALS.values() for t in texts]
Y = [label for label, texts in ANIMALS.items() for _ in texts]


@pytest.fixture(scope="module")
def fitted():
    return Classifier().fit(X, Y)


def test_is_a_classifier_with_params_and_clone():
    clf = Classifier(C=3.0, calibrate=True)
    assert is_classifier(clf)
    assert clf.get_params() == {
        "C": 3.0,
        "calibrate": True,
        "class_weight": "balanced",
        "embedder": None,
        "finetune": False,
        "finetune_pairs": 4000,
        "generator": None,
        "keep_vectors": False,
        "threads": None,
        "tfidf_weight": "auto",
    }
    twin = clone(clf)
    assert twin is not clf and twin.get_params() == clf.get_params()
    assert clf.set_params(C=1.0) is clf and clf.C == 1.0
    with pytest.raises(ValueError, match="invalid parameter"):
        clf.set_params(nope=1)
    assert repr(Classifier(C=2.0)) == "Classifier(C=2.0)" and repr(Classifier(C=10.0)) == "Classifier()"


def test_clone_of_a_fitted_classifier_is_unfitted(fitted):
    twin = clone(fitted)
    with pytest.raises(NotFittedError):
        twin.predict(["woof"])
    assert not hasattr(twin, "classes_")


def test_cross_val_score_and_grid_search_over_C():
    scores = cross_val_score(Classifier(), X, Y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.6
    grid = GridSearchCV(Classifier(), {"C": [1.0, 10.0]}, cv=3).fit(X, Y)
    assert grid.best_params_["C"] in (1.0, 10.0)
    assert grid.predict(["the puppy barked"]).tolist() == ["dog"]


def test_pipeline_predicts():
    pipe = make_pipeline(FunctionTransformer(lambda texts: [t.lower() for t in texts]), Classifier()).fit(X, Y)
    assert pipe.predict(["THE DOG BARKS LOUDLY", "A PARROT SINGS"]).tolist() == ["dog", "bird"]


@pytest.mark.parametrize(
    "roundtrip", [lambda c: pickle.loads(pickle.dumps(c)), copy.deepcopy], ids=["pickle", "deepcopy"]
)
def test_a_used_classifier_survives_pickle_and_deepcopy(fitted, roundtrip):
    before = fitted.predict_proba(["woof", "tweet"])  # the ONNX session now exists
    again = roundtrip(fitted)
    np.testing.assert_allclose(again.predict_proba(["woof", "tweet"]), before, atol=1e-6)
    assert list(again.classes_) == list(fitted.classes_)


def test_pickle_carries_no_session_and_no_vector_cache(fitted):
    fitted.predict(["woof"])
    blob = pickle.dumps(fitted)
    assert b"onnxruntime" not in blob and b"InferenceSession" not in blob
    assert pickle.loads(blob)._vectors == {}


def test_loaded_bundle_pickles_by_embedder_id(pets_bundle):
    clf = Classifier.load(pets_bundle)
    clf.predict(["woof"])
    again = pickle.loads(pickle.dumps(clf))
    assert again.embedder == "minilm-l6-v2-int8-matmul" and again.predict(["woof"]).tolist() == ["dog"]


def test_integer_labels_come_back_as_integers():
    y = [{"cat": 0, "dog": 1, "bird": 2}[label] for label in Y]
    clf = Classifier().fit(X, y)
    assert clf.classes_.dtype.kind == "i" and clf.classes_.tolist() == [0, 1, 2]
    pred = clf.predict(X)
    assert isinstance(pred, np.ndarray) and pred.dtype.kind == "i"
    assert accuracy_score(y, pred) > 0.9 and clf.score(X, y) == accuracy_score(y, pred)


@pytest.mark.parametrize(
    "labels", [[0, 1, 2], [True, False, True], [0.5, 1.5, 2.5], np.array([3, 4, 5], dtype=np.int8)], ids=str
)
def test_labels_that_are_numbers_or_booleans_stay_so_after_a_save_and_load(tmp_path, labels):
    """A saved classifier fitted with int labels predicted '0', '1' ... after a load: accuracy_score(y, predict)
    then compared ints with strings and scored 0."""
    by_class = dict(
        zip(["cat", "dog", "bird"], labels.tolist() if isinstance(labels, np.ndarray) else labels, strict=True)
    )
    y = [by_class[label] for label in Y]
    Classifier().fit(X, y).save(tmp_path / "m.model")
    loaded = Classifier.load(tmp_path / "m.model")
    assert loaded.classes_.dtype.kind == np.asarray(labels).dtype.kind
    assert loaded.predict(X).tolist() == Classifier().fit(X, y).predict(X).tolist()
    assert np.mean(loaded.predict(X) == np.array(y)) > 0.9  # accuracy_score calls 0.5, 1.5, 2.5 continuous
    assert Classifier.load(tmp_path / "m.model").class_names == [str(label) for label in sorted(set(y))]


def test_labels_that_are_bytes_are_refused_as_sklearn_refuses_them():
    """h5py and numpy "S" arrays hold bytes: the class of b"cat" was named "b'cat'" (the CLI, eval and feedback knew
    no "cat"), and sklearn's metrics refuse such labels."""
    for y in (np.array([label.encode() for label in Y]), [label.encode() for label in Y]):
        with pytest.raises(InputError, match=r"label b'bird' is bytes: decode the labels first \(y.astype\(str\)\)"):
            Classifier().fit(X, y)


def test_fit_twice_forgets_the_first_fit():
    clf = Classifier().fit(X, Y)
    two = [label if label != "bird" else "dog" for label in Y]
    clf.fit(X, two)
    assert clf.classes_.tolist() == ["cat", "dog"] and clf.predict_proba(["tweet"]).shape == (1, 2)
    assert {e.label for e in clf.examples} == {"cat", "dog"}


def test_fit_is_idempotent_and_order_invariant(fitted):
    again = Classifier().fit(X, Y)
    np.testing.assert_allclose(again.predict_proba(X), fitted.predict_proba(X), atol=1e-5)
    order = np.random.default_rng(0).permutation(len(X))
    shuffled = np.asarray(X)[order]
    np.testing.assert_allclose(fitted.predict_proba(shuffled), fitted.predict_proba(X)[order], atol=1e-5)
    np.testing.assert_allclose(fitted.predict_proba(X[:5]), fitted.predict_proba(X)[:5], atol=1e-5)


def test_unfitted_use_raises_sklearns_kind_of_error():
    from sklearn.exceptions import NotFittedError as SklearnsNotFittedError

    clf = Classifier()
    for call in (lambda: clf.predict(["x"]), lambda: clf.predict_proba(["x"]), lambda: clf.classes_):
        with pytest.raises(NotFittedError):
            call()
        with pytest.raises(SklearnsNotFittedError):  # `except NotFittedError` with sklearn's class did not catch it
            call()
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)
    with pytest.raises(Exception, match=r"not fitted|not trained"):
        check_is_fitted(clf)
    check_is_fitted(Classifier().fit(X, Y))


def test_one_class_and_2d_input_are_refused():
    with pytest.raises(ValueError, match="two classes"):
        Classifier().fit(["a", "b"], ["x", "x"])
    with pytest.raises(ValueError, match="1-d"):
        Classifier().fit(np.array([["a", "b"], ["c", "d"]]), ["x", "y"])


def test_one_text_column_of_a_dataframe_is_taken_as_in_a_column_transformer():
    """df[["text"]] (and a ColumnTransformer given ["text"]) hands over shape (n, 1): it was refused as not 1-d."""
    from sklearn.compose import make_column_transformer

    frame = pd.DataFrame({"text": X, "n": range(len(X))})
    clf = Classifier().fit(frame[["text"]], Y)
    assert clf.predict(frame[["text"]]).tolist() == clf.predict(X).tolist()
    assert clf.predict(frame[["text"]].to_numpy()).tolist() == clf.predict(X).tolist()
    picked = make_column_transformer(("passthrough", ["text"]))
    pipe = make_pipeline(picked, Classifier()).fit(frame, Y)
    assert pipe.predict(frame).tolist() == clf.predict(X).tolist()


def test_a_label_column_of_shape_n_1_is_taken_with_sklearns_warning():
    """df[["label"]] hands over y of shape (n, 1): LogisticRegression warns and takes it; it was refused."""
    from sklearn.exceptions import DataConversionWarning

    with pytest.warns(DataConversionWarning, match="column vector"):
        clf = Classifier().fit(X, pd.DataFrame({"label": Y})[["label"]])
    assert clf.classes_.tolist() == sorted(set(Y))
    assert clf.predict(X).tolist() == Classifier().fit(X, Y).predict(X).tolist()
    with pytest.raises(ValueError, match="one label per text"):
        Classifier().fit(X, np.array([Y, Y]).T)  # two columns stay an error


@pytest.mark.parametrize(
    "y",
    [
        [1.0, float("nan"), 2.0],
        [1.0, float("inf"), 2.0],
        ["x", None, "y"],
        pd.Series(["x", pd.NA, "y"], dtype="string"),
        pd.array([1, pd.NA, 2], dtype="Int64"),
        pd.Categorical(["x", None, "y"]),
        ["x", float("nan"), "y"],  # df.label.tolist() with a label missing: numpy made it the text 'nan'
        [["x"], [float("nan")], ["y"]],
    ],
    ids=["nan", "inf", "None", "string-NA", "Int64-NA", "categorical", "text-list-nan", "column-list-nan"],
)
def test_a_missing_label_is_refused_as_sklearn_does(y):
    """A NaN label became a class named 'nan', predicted for texts like any other."""
    with pytest.raises(ValueError, match=r"label 2 in y is .*every text needs a label"):
        Classifier().fit(["a cat", "a dog", "a bird"], y)


@pytest.mark.parametrize("y", [None, "pos", 1], ids=["None", "one-text", "one-number"])
def test_fit_without_one_label_per_text_is_refused_as_sklearn_does(y):
    """fit(X, None) was Python's "'NoneType' object is not iterable", and fit(X, "pos") three labels p, o and s."""
    with pytest.raises(ValueError, match=r"y must be one label per text"):
        Classifier().fit(["a cat", "a dog", "a bird"], y)


def test_score_and_evaluate_without_labels_are_refused_not_scored_zero(fitted):
    """score(X, None) answered 0.0, every prediction wrong, and evaluate(clf, X, None) was a TypeError."""
    from llmclf import evaluate

    for call in (lambda: fitted.score(X, None), lambda: evaluate(fitted, X, None)):
        with pytest.raises(ValueError, match=r"labels must be one per text, got NoneType"):
            call()
    with pytest.raises(ValueError, match=rf"{len(X)} texts but 2 labels"):
        fitted.score(X, Y[:2])
    assert fitted.score(X, pd.DataFrame({"label": Y})[["label"]]) == fitted.score(X, Y)


def test_labels_of_text_and_number_mixed_in_a_list_are_refused_as_sklearn_does():
    """numpy made [1, 2, "2"] the classes '1' and '2': the int 2 and the text "2" became one class, and
    predictions came back as text."""
    with pytest.raises(ValueError, match=r"y mixes text and number labels \(1 and '2'\): give every label as one"):
        Classifier().fit(["a cat", "a dog", "a bird"], [1, 2, "2"])
    assert Classifier().fit(["a cat", "a dog", "a bird"], [1, 2, np.int64(2)]).classes_.tolist() == [1, 2]


def test_metadata_routing_takes_sample_weight_where_it_is_requested():
    """With sklearn's metadata routing on, set_fit_request was an AttributeError: sample_weight could not reach fit
    through GridSearchCV or cross_validate at all."""
    import sklearn
    from sklearn.model_selection import cross_validate

    from llmclf.examples import WEIGHT

    weights = np.full(len(X), 2.0)
    with sklearn.config_context(enable_metadata_routing=True):
        asks = Classifier().set_fit_request(sample_weight=True).set_score_request(sample_weight=False)
        assert pickle.loads(pickle.dumps(clone(asks))).get_metadata_routing().fit.requests == {"sample_weight": True}
        grid = GridSearchCV(asks, {"C": [1, 10]}, cv=2).fit(X, Y, sample_weight=weights)
        assert {e.meta.get(WEIGHT) for e in grid.best_estimator_.examples if e.source.value == "user"} == {2.0}
        declines = Classifier().set_fit_request(sample_weight=False).set_score_request(sample_weight=True)
        fitted = cross_validate(declines, X, Y, cv=2, params={"sample_weight": weights}, return_estimator=True)
        assert all(WEIGHT not in e.meta for e in fitted["estimator"][0].examples)
        with pytest.raises(ValueError, match=r"set_fit_request"):  # as sklearn's own estimators: asked, not guessed
            GridSearchCV(Classifier(), {"C": [1, 10]}, cv=2).fit(X, Y, sample_weight=weights)


def test_decision_function_is_logistic_regressions(fitted):
    """sklearn's LogisticRegression has decision_function, which ROC and calibration code reaches for; it was an
    AttributeError here. Two classes: one score, the log-odds of classes_[1]; more: one column per class."""
    from scipy.special import expit, softmax

    texts = ["woof", "meow", "tweet"]
    scores = fitted.decision_function(texts)
    assert scores.shape == (3, 3) and np.allclose(softmax(scores, axis=1), fitted.predict_proba(texts), atol=1e-5)
    two = Classifier().fit(X[:20], Y[:20])
    scores = two.decision_function(texts)
    assert scores.shape == (3,) and np.allclose(expit(scores), two.predict_proba(texts)[:, 1], atol=1e-5)
    assert ((scores > 0) == (two.predict(texts) == two.classes_[1])).all()


def test_predict_log_proba_is_the_log_of_predict_proba(fitted):
    texts = ["woof", "meow"]
    np.testing.assert_allclose(np.exp(fitted.predict_log_proba(texts)), fitted.predict_proba(texts), rtol=1e-6)


def test_tags_declare_text_input():
    from sklearn.utils import get_tags

    tags = get_tags(Classifier())
    assert tags.estimator_type == "classifier" and tags.input_tags.string and not tags.input_tags.two_d_array


@pytest.mark.parametrize(
    "check",
    [
        checks.check_estimator_cloneable,
        checks.check_estimator_tags_renamed,
        checks.check_valid_tag_types,
        checks.check_estimator_repr,
        checks.check_no_attributes_set_in_init,
        checks.check_do_not_raise_errors_in_init_or_set_params,
        checks.check_parameters_default_constructible,
        checks.check_get_params_invariance,
        checks.check_set_params,
    ],
    ids=lambda c: c.__name__,
)
def test_sklearn_api_checks_that_need_no_numeric_data(check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "does not inherit from BaseEstimator": by design, see Classifier's docstring
        check("Classifier", Classifier())


def test_sample_weight_weighs_texts_survives_a_bundle_and_is_checked(tmp_path):
    """sklearn's `fit(X, y, sample_weight=...)`, which cross_val_score, Pipeline and ensembles pass on."""
    from sklearn.model_selection import cross_val_score
    from sklearn.utils.validation import has_fit_parameter

    assert has_fit_parameter(Classifier(), "sample_weight")
    X = ["my kitten purrs", "the cat meows", "she naps in the sun", "woof woof", "the dog barks", "he fetches sticks"]
    y = ["cat", "cat", "cat", "cat", "dog", "dog"]  # "woof woof" labelled cat: its weight decides
    as_cat = Classifier().fit(X, y, sample_weight=[1, 1, 1, 1, 1, 1])
    ignored = Classifier().fit(X, y, sample_weight=[1, 1, 1, 0, 1, 1])
    assert as_cat.predict(["woof woof"])[0] == "cat" and ignored.predict(["woof woof"])[0] == "dog"
    saved = ignored.save(tmp_path / "w.model")
    loaded = Classifier.load(saved)
    assert [e.weight for e in loaded.examples if e.text == "woof woof"] == [0.0]
    loaded.prompt_train()  # a retrain from the bundle keeps the weights
    assert loaded.predict(["woof woof"])[0] == "dog"
    scores = cross_val_score(Classifier(), X * 2, y * 2, cv=2, params={"sample_weight": np.ones(12)})
    assert scores.shape == (2,)
    for bad, message in [([1, 1], "shape"), ([1, 1, 1, -1, 1, 1], "finite and 0 or more"), ([0] * 6, "every text")]:
        with pytest.raises(ValueError, match=message):
            Classifier().fit(X, y, sample_weight=bad)
    with pytest.raises(ValueError, match="finite"):
        Classifier().fit(X, y, sample_weight=[1, 1, 1, float("nan"), 1, 1])


def test_lamini_style_api_still_works(tmp_path):
    clf = Classifier()
    clf.add_data_to_class("cat", ["i like milk"])
    clf.prompt_train({"cat": "Cats meow and purr.", "dog": "Dogs bark and fetch."})
    assert clf.predict(["woof"]).tolist() == ["dog"] and clf.predict_proba(["woof"]).shape == (1, 2)
    loaded = Classifier.load(clf.save(tmp_path / "p.model"))
    assert loaded.predict(["meow"]).tolist() == ["cat"]


def test_class_weight_as_a_dict_of_labels_works_as_in_sklearn(tmp_path):
    """class_weight={"dog": 5.0} failed mid-fit with "The classes, [0, 1, 2], are not in class_weight"."""
    plain = Classifier(class_weight=None).fit(X, Y)
    heavy = Classifier(class_weight={"dog": 5.0}).fit(X, Y)  # classes it leaves out weigh 1, as in sklearn
    dog = list(heavy.classes_).index("dog")
    texts = ["a pet at home", "an animal outside", "it made a noise"]
    assert (heavy.predict_proba(texts)[:, dog] > plain.predict_proba(texts)[:, dog]).all()
    heavy.save(tmp_path / "w.model")
    loaded = Classifier.load(tmp_path / "w.model")
    assert loaded.class_weight == {"dog": 5.0}
    np.testing.assert_allclose(loaded.predict_proba(texts), heavy.predict_proba(texts), atol=1e-6)
    assert clone(heavy).class_weight == {"dog": 5.0}
    numbers = Classifier(class_weight={0: 1.0, 1: 5.0}).fit(X, [{"cat": 0, "dog": 1, "bird": 2}[y] for y in Y])
    assert numbers.classes_.tolist() == [0, 1, 2]
    with pytest.raises(
        ValueError, match=r"class_weight names 'fish', which is not a class \(classes: bird, cat, dog\)"
    ):
        Classifier(class_weight={"fish": 2.0}).fit(X, Y)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"C": -1}, "C must be a number above 0, not -1"),
        ({"C": "10"}, "C must be a number above 0, not '10'"),
        ({"C": float("nan")}, "C must be a number above 0, not nan"),
        ({"class_weight": "auto"}, 'class_weight must be "balanced", None or a dict'),
        ({"class_weight": {"dog": -1.0}}, r"class_weight\['dog'\] must be a number, 0 or more"),
        ({"calibrate": "no"}, "calibrate must be True or False, not 'no'"),  # a non-empty string was true
        ({"keep_vectors": 1}, "keep_vectors must be True or False"),
        ({"finetune_pairs": 0}, "finetune_pairs must be a whole number, 1 or more"),
        ({"generator": "gpt-4o"}, "generator must have a generate"),
    ],
)
def test_bad_parameters_are_refused_before_any_work_naming_the_parameter(params, message):
    """LogisticRegression refused a bad C or class_weight after the embedding, naming itself; others went through."""
    for train in (lambda c: c.fit(X, Y), lambda c: c.prompt_train({"cat": "Cats.", "dog": "Dogs."})):
        clf = Classifier(**params)
        with pytest.raises(ValueError, match=message):
            train(clf)


def test_labels_with_spaces_around_them_fit_and_come_back_as_given():
    """fit(X, ["cat", "dog", "Cat "]) was an internal KeyError: the classes were named "Cat " but the examples "Cat"."""
    clf = Classifier().fit(X, [y if y != "bird" else "bird " for y in Y])
    assert clf.classes_.tolist() == ["bird ", "cat", "dog"] and clf.predict(["a parrot talks"]).tolist() == ["bird "]
    with pytest.raises(ValueError, match="labels 'cat' and 'cat ' in y have the same text form 'cat'"):
        Classifier().fit(["a", "b", "c"], ["cat", "cat ", "dog"])
    shouted = ["DOG" if label == "dog" and text.startswith("the") else label for text, label in zip(X, Y, strict=True)]
    assert any(note.startswith("classes alike") for note in Classifier().fit(X, shouted).report.notes)


def test_score_of_no_texts_is_an_error_not_nan(fitted):
    with pytest.raises(ValueError, match="no texts to score"):
        fitted.score([], [])


def test_whole_number_float_labels_are_named_as_the_data_files_name_them(tmp_path):
    """pandas makes a label column with a gap floats (1.0, 2.0): fit named the classes "1.0" and "2.0", while
    `llmclf train` and `llmclf eval` read the same rows as "1" and "2", so eval of the bundle found no known label."""
    import json

    from typer.testing import CliRunner

    from llmclf.cli import app

    y = [{"cat": 0.0, "dog": 1.0, "bird": 2.0}[label] for label in Y]
    clf = Classifier().fit(X, y)
    assert clf.class_names == ["0", "1", "2"] and clf.classes_.dtype.kind == "f"
    clf.save(tmp_path / "m.model")
    assert Classifier.load(tmp_path / "m.model").classes_.tolist() == [0.0, 1.0, 2.0]
    rows = tmp_path / "rows.jsonl"  # as df.to_json(lines=True) writes them
    rows.write_text("".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in zip(X, y, strict=True)))
    said = CliRunner().invoke(app, ["eval", "--load", str(tmp_path / "m.model"), str(rows), "--json"])
    assert said.exit_code == 0 and json.loads(said.stdout)["accuracy"] > 0.9, said.output
