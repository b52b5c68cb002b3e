# Exploratory (2026-11-25, session 11), on DEV rows (common.data). See README.md here.
# Real int8 against the float graph (today's "minilm-l6-v2-int8-onnx"), per data set: 8-shot (banking77 10) seeds 0-2
# and 64-shot seed 0. Without Q8=path.onnx it runs llmclf's own MiniLMInt8Embedder (llmclf/int8_graph.py: each text
# quantised on its own); the session-11 runs used Q8= graphs written by scratch prototypes: per-batch
# DynamicQuantizeLinear, per-text symmetric, and per-text asymmetric (which gives llmclf's vectors exactly).
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
import onnxruntime as ort
from llmclf.embedding import MiniLMEmbedder, _onnx_session
class RW:
    def __init__(s, path):
        from llmclf.embedding import MiniLMInt8Embedder
        s.e = MiniLMEmbedder(); s.e.embed(["x"])
        if path: s.e._session = _onnx_session(ort, path, None)
        else: s.e = MiniLMInt8Embedder()
        s.id = "rw"; s.dim = 384; s.normalized = True; s.c = {}
    def embed(s, texts):
        miss = [t for t in dict.fromkeys(texts) if t not in s.c]
        if miss:
            for t, v in zip(miss, s.e.embed(miss)): s.c[t] = v
        return np.stack([s.c[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)
path = os.environ.get("Q8")
allres = []
for d in sys.argv[1].split(","):
    labels, descs, pool, dev = data(d)
    cur, rw = NpzEmbedder(d), RW(path)
    out, diffs = [], {}
    for K, seeds in ((8, (0, 1, 2)), (64, (0,))):
        for seed in seeds:
            rows = k_per_class(pool, 10 if (d == "banking77" and K == 8) else K, seed=seed)
            a = run(cur, labels, descs, rows, dev)[0].accuracy
            b = run(rw, labels, descs, rows, dev)[0].accuracy
            diffs.setdefault(K, []).append(b - a); allres.append(b - a)
            out.append(f"k{K}s{seed} {a:.3f}->{b:.3f}")
    print(d, " ".join(out), "| mean diff 8-shot %+.4f 64-shot %+.4f" % (np.mean(diffs[8]), np.mean(diffs[64])), flush=True)
print("all runs mean diff %+.4f, min %+.4f, max %+.4f" % (np.mean(allres), min(allres), max(allres)))
