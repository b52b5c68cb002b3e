# Exploratory (2026-11-24, session 7), on DEV rows (common.data). See README.md here.
import os, sys, numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
class Cat:
    def __init__(self, d, parts):
        z = np.load(f"{CACHE}/minilm-l6-v2-int8-onnx-{d}.npz", allow_pickle=True)
        p = np.load(f"{CACHE}/pools-{d}.npz", allow_pickle=True)
        assert z["texts"].tolist() == p["texts"].tolist()
        arrs = {"MEAN": z["V"], "MAX": p["MAX"], "CLS": p["CLS"], "NOSP": p["NOSP"]}
        V = np.hstack([arrs[k] * w for k, w in parts])
        self.vec = dict(zip(z["texts"].tolist(), V)); self.dim = V.shape[1]; self.id = "cat" + str(parts); self.normalized = False
    def embed(self, texts): return np.stack([self.vec[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)
d = sys.argv[1]; K = int(sys.argv[2]); variants = sys.argv[3].split(";")
labels, descs, pool, dev = data(d)
res = {}
for seed in (0, 1, 2):
    rows = k_per_class(pool, K, seed=seed)
    for v in variants:
        parts = [(p.split("*")[0], float(p.split("*")[1])) for p in v.split("+")]
        rep, *_ = run(Cat(d, parts), labels, descs, rows, dev)
        res.setdefault(v, []).append(rep.accuracy)
print(d, K, "\n".join(f"{v} {np.mean(a):.4f} ({min(a):.3f}-{max(a):.3f})" for v, a in res.items()), flush=True)
