# Exploratory, run as-is from a scratch folder on 2026-11-24 (see README.md here); only paths were edited.
import os
CACHE = os.environ.get("LLMCLF_DEV_CACHE", "/tmp/llmclf-dev")
import sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
import onnxruntime as ort
from llmclf.embedding import MiniLMEmbedder, _onnx_session
class RW:
    def __init__(s):
        s.e = MiniLMEmbedder(); s.e.embed(["x"]); s.e._session = _onnx_session(ort, "" + CACHE + "/q8/rw.onnx", None)
        s.id = "rw"; s.dim = 384; s.normalized = True; s.c = {}
    def embed(s, texts):
        miss = [t for t in dict.fromkeys(texts) if t not in s.c]
        if miss:
            for t, v in zip(miss, s.e.embed(miss)): s.c[t] = v
        return np.stack([s.c[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)
tot = {"cur": [], "rw": []}
for d in sys.argv[1].split(","):
    labels, descs, pool, dev = data(d)
    cur, rw = NpzEmbedder(d), RW()
    out = []
    for K, seeds in ((8, (0, 1)), (64, (0,))):
        for seed in seeds:
            rows = k_per_class(pool, 10 if (d == "banking77" and K == 8) else K, seed=seed)
            a = run(cur, labels, descs, rows, dev)[0].accuracy
            b = run(rw, labels, descs, rows, dev)[0].accuracy
            tot["cur"].append(a); tot["rw"].append(b)
            out.append(f"k{K}s{seed} {a:.3f}->{b:.3f}")
    print(d, " ".join(out), flush=True)
print("mean", np.mean(tot["cur"]), np.mean(tot["rw"]), "diff", np.mean(tot["rw"]) - np.mean(tot["cur"]))
