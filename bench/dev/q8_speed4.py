# Exploratory (2026-11-25, session 11), a scratch script kept as run (see README.md here); writes/reads /tmp/llmclf-dev/q8.
import json, time, os, numpy as np, onnxruntime as ort
from llmclf.embedding import MiniLMEmbedder, _onnx_session, _load_minilm
tok = _load_minilm(256, None)[1]
def emb(path):
    e = MiniLMEmbedder(); e._tokenizer = tok; e._session = _onnx_session(ort, path, None); return e
E = {"float": MiniLMEmbedder(), "dql-batch": emb("/tmp/llmclf-dev/q8/rw.onnx"), "text-sym": emb("/tmp/llmclf-dev/q8/rows8.onnx"), "text-asym": emb("/tmp/llmclf-dev/q8/rowas8.onnx")}
for name, n in (("banking77", 1000), ("ag_news", 400)):
    T = [json.loads(l)["text"] for l in open(f"/work/shared/data/{name}/test.jsonl")][:n]
    for e in E.values(): e.embed(T[:16])
    best = {k: 1e9 for k in E}
    for _ in range(5):
        for k, e in E.items():
            t = time.perf_counter(); e.embed(T); best[k] = min(best[k], time.perf_counter() - t)
    print(name, " ".join(f"{k} {n/best[k]:.0f}/s ({best['float']/best[k]:.2f}x)" for k in E), "load %.2f" % os.getloadavg()[0], flush=True)
