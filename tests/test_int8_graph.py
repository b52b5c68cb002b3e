"""Real int8 MiniLM: the rewritten graph, its vectors against the float graph's, and bundles of either kind."""

import hashlib
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import llmclf.int8_graph as int8_graph
from llmclf import Classifier, LlmclfError, MiniLMEmbedder, MiniLMInt8Embedder
from llmclf.embedding import DEFAULT_EMBEDDER, _minilm_files, _onnx_session
from llmclf.int8_graph import (
    INTEGER_GRAPH_BYTES,
    INTEGER_GRAPH_SHA256,
    INTEGER_PRODUCTS,
    cpu_has_vnni,
    integer_graph,
    kept_integer_graph,
)

from .conftest import without_waiting_on

TEXTS = [
    "What is your phone number?",
    "my card has not arrived yet, it has been two weeks",
    "The stock market fell sharply after the announcement.",
    "i feel so happy today!!!",
    "How far is it from Denver to Aspen?",
    "Play some jazz music in the living room",
    "an utterly boring film with a clumsy plot",
    "x",
    "the " * 300,  # truncated at 256 tokens
]


@pytest.mark.parametrize("signed", [True, False], ids=["int8 weights", "uint8 weights"])
def test_the_weight_products_become_integer_and_the_ffn_outputs_stay_float(signed):
    shipped = onnx.load(str(_minilm_files()[0]))
    rewritten = onnx.load_from_string(integer_graph(_minilm_files()[0], signed=signed))
    kinds = [n.op_type for n in rewritten.graph.node]
    assert kinds.count("MatMulInteger") == INTEGER_PRODUCTS
    assert kinds.count("QuantizeLinear") == 18  # per layer: Q, K and V share their input; attention out; FFN in
    assert [n.op_type for n in shipped.graph.node].count("MatMul") == kinds.count("MatMul") + INTEGER_PRODUCTS
    int8 = {i.name: tuple(i.dims) for i in rewritten.graph.initializer if i.data_type == TensorProto.INT8}
    dequantised = [int8[n.input[0]] for n in rewritten.graph.node if n.op_type == "Cast" and n.input[0] in int8]
    assert dequantised.count((1536, 384)) == 6  # the six FFN-output weights are still made float
    assert (384, 384) not in dequantised and (384, 1536) not in dequantised  # no other product is
    uint8 = [i for i in rewritten.graph.initializer if i.data_type == TensorProto.UINT8]
    assert len(uint8) == (0 if signed else INTEGER_PRODUCTS + 1)  # the shifted weights and their zero point


def test_integer_vectors_stay_close_to_the_float_graphs():
    integer, float_ = MiniLMInt8Embedder().embed(TEXTS), MiniLMEmbedder().embed(TEXTS)
    assert integer.dtype == np.float32 and integer.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(integer, axis=1), 1, atol=1e-5)
    cosine = (integer * float_).sum(axis=1)
    assert cosine.mean() > 0.99 and cosine.min() > 0.98  # one-token "x" is the farthest: 0.988
    assert not np.allclose(integer, float_, atol=1e-4)  # and it is not the float graph


def test_a_text_gets_the_same_vector_alone_and_in_any_batch():
    """onnxruntime's DynamicQuantizeLinear takes one range for a whole batch: a text's vector moved with the texts
    batched beside it (0.027 at most, a probability by 0.013). Each text is quantised on its own now."""
    embedder = MiniLMInt8Embedder()
    together = embedder.embed(TEXTS)
    alone = np.stack([embedder.embed([text])[0] for text in TEXTS])
    reversed_ = embedder.embed(TEXTS[::-1])[::-1]
    padded = MiniLMInt8Embedder(batch_size=len(TEXTS)).embed(TEXTS)  # one batch: every text padded to the longest
    for other in (alone, reversed_, padded):
        np.testing.assert_allclose(other, together, atol=1e-6)


@pytest.mark.skipif(not cpu_has_vnni(), reason="u8 x s8 may saturate without VNNI: that is why it is not used there")
def test_signed_and_unsigned_weights_give_the_same_vectors_where_both_are_exact():
    import onnxruntime as ort

    from llmclf.embedding import _load_minilm

    vectors = []
    for signed in (True, False):
        embedder = MiniLMEmbedder()
        embedder._session = _onnx_session(ort, integer_graph(_minilm_files()[0], signed=signed), None)
        embedder._tokenizer = _load_minilm(embedder.max_length, None)[1]
        vectors.append(embedder.embed(TEXTS))
    assert np.array_equal(vectors[0], vectors[1])


def test_a_graph_it_was_not_made_for_is_refused_in_one_line(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])
    other = tmp_path / "other.onnx"
    onnx.save(helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])), other)
    with pytest.raises(LlmclfError, match="has 0 int8 weight products, not 30"):
        integer_graph(other, signed=False)


def test_without_the_onnx_package_it_is_one_line(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx raises ImportError
    with pytest.raises(LlmclfError, match="needs the onnx package"):
        integer_graph(_minilm_files()[0], signed=False)


def test_only_an_x86_cpu_that_says_vnni_gets_the_signed_form(monkeypatch, tmp_path):
    monkeypatch.setattr(int8_graph.platform, "machine", lambda: "arm64")
    int8_graph.cpu_has_vnni.cache_clear()
    try:
        assert cpu_has_vnni() is False
    finally:
        int8_graph.cpu_has_vnni.cache_clear()


def test_new_bundles_use_integer_products_and_old_bundles_keep_float_ones(tmp_path):
    assert MiniLMInt8Embedder.id == DEFAULT_EMBEDDER
    texts, labels = ["woof woof", "the dog barks", "meow", "the cat purrs"], ["dog", "dog", "cat", "cat"]
    new = Classifier().fit(texts, labels)
    old = Classifier(embedder=MiniLMEmbedder.id).fit(texts, labels)
    for clf, kind in ((new, MiniLMInt8Embedder), (old, MiniLMEmbedder)):
        loaded = Classifier.load(clf.save(tmp_path / f"{kind.__name__}.model"))
        assert type(loaded.embedder_) is kind and loaded.manifest()["embedder"]["id"] == kind.id
        assert np.allclose(loaded.predict_proba(["a barking dog"]), clf.predict_proba(["a barking dog"]), atol=1e-6)
    assert not np.allclose(new.predict_proba(["a barking dog"]), old.predict_proba(["a barking dog"]), atol=1e-6)


@pytest.mark.parametrize("signed", [True, False], ids=["int8 weights", "uint8 weights"])
def test_the_rewrite_gives_the_bytes_whose_digest_is_pinned(signed):
    """A kept graph is trusted only by this digest: a change to the rewrite must change the pin too."""
    graph = integer_graph(_minilm_files()[0], signed=signed)
    assert hashlib.sha256(graph).hexdigest() == INTEGER_GRAPH_SHA256[signed]
    assert len(graph) == INTEGER_GRAPH_BYTES[signed]


def _in_a_new_process(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_new_process_finds_the_kept_graph_and_never_imports_onnx(tmp_path, monkeypatch):
    """Importing onnx took 0.8 s of a fresh `llmclf classify`'s 1.4: the graph it makes is kept instead."""
    monkeypatch.setenv("LLMCLF_CACHE_DIR", str(tmp_path / "cache"))  # empty: nothing kept yet
    code = (
        "import sys, numpy as np; from llmclf import MiniLMInt8Embedder; "
        "v = MiniLMInt8Embedder().embed(['my card has not arrived']); "
        "print('onnx' in sys.modules, np.round(v[0, :4], 6).tolist())"
    )
    first = _in_a_new_process(code)
    kept = list((tmp_path / "cache" / "graphs").iterdir())
    assert [p.name for p in kept] == [f"minilm-integer-{INTEGER_GRAPH_SHA256[cpu_has_vnni()][:16]}.onnx"]
    assert hashlib.sha256(kept[0].read_bytes()).hexdigest() == INTEGER_GRAPH_SHA256[cpu_has_vnni()]
    second = _in_a_new_process(code)
    assert first.startswith("True ") and second.startswith("False ")
    assert first.split(" ", 1)[1] == second.split(" ", 1)[1]  # the same vector either way


@pytest.mark.parametrize(
    "damage",
    [
        lambda good, other: good[: len(good) // 2],  # cut short
        lambda good, other: good[:-1] + bytes([good[-1] ^ 1]),  # one bit changed
        lambda good, other: other,  # a whole, valid graph, but not this one
        lambda good, other: b"",
    ],
    ids=["cut short", "one bit", "another graph", "empty"],
)
def test_a_kept_graph_that_is_not_the_pinned_one_is_made_again(tmp_path, damage):
    good, other = (integer_graph(_minilm_files()[0], signed=s) for s in (True, False))
    name = f"minilm-integer-{INTEGER_GRAPH_SHA256[True][:16]}.onnx"
    (tmp_path / name).write_bytes(damage(good, other))
    assert kept_integer_graph(_minilm_files()[0], signed=True, folder=tmp_path) == good
    assert (tmp_path / name).read_bytes() == good  # and the good one is kept in its place


def test_a_cache_dir_it_cannot_write_only_costs_the_time_to_make_the_graph(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    graph = kept_integer_graph(_minilm_files()[0], signed=False, folder=blocker / "graphs")
    assert hashlib.sha256(graph).hexdigest() == INTEGER_GRAPH_SHA256[False]
    assert blocker.read_text() == "not a folder"


def test_a_fifo_or_a_folder_where_the_graph_is_kept_neither_blocks_nor_fails(tmp_path):
    """Reading a FIFO blocks until someone writes to it: only a plain file of the pinned size is read."""
    name = f"minilm-integer-{INTEGER_GRAPH_SHA256[False][:16]}.onnx"
    (tmp_path / "folder" / name).mkdir(parents=True)
    os.mkfifo(tmp_path / name)
    for folder in (tmp_path / "folder", tmp_path):
        graph = without_waiting_on(
            tmp_path / name, lambda f=folder: kept_integer_graph(_minilm_files()[0], signed=False, folder=f)
        )
        assert hashlib.sha256(graph).hexdigest() == INTEGER_GRAPH_SHA256[False]
    assert (tmp_path / "folder" / name).is_dir()  # what was there stays; the FIFO is replaced by the graph
    assert (tmp_path / name).read_bytes() == graph
