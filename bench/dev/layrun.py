# Exploratory (2026-11-24, session 10), on DEV rows (common.data). See README.md here.
# The default head on concatenated (weighted) mean-pooled layers from layers.py; L6 alone is today's embedding.
import os, sys, numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
class Cat:
    def __init__(self, d, parts):
        p = np.load(f"{CACHE}/layers-{d}.npz", allow_pickle=True)
        V = np.hstack([p[k] * w for k, w in parts])
        self.vec = dict(zip(p["texts"].tolist(), V)); self.dim = V.shape[1]; self.id = "cat" + str(parts); self.normalized = False
    def embed(self, texts): return np.stack([self.vec[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)
d = sys.argv[1]; K = int(sys.argv[2]); variants = sys.argv[3].split(";"); seeds = [int(s) for s in os.environ.get("SEEDS", "0,1,2").split(",")]
labels, descs, pool, dev = data(d)
res = {}
for seed in seeds:
    rows = k_per_class(pool, K, seed=seed) if K else pool
    for v in variants:
        parts = [(p.split("*")[0], float(p.split("*")[1])) for p in v.split("+")]
        rep, *_ = run(Cat(d, parts), labels, descs, rows, dev)
        res.setdefault(v, []).append(rep.accuracy)
        print(d, K, seed, v, rep.accuracy, flush=True)
print(d, K, "\n".join(f"{v} {np.mean(a):.4f} ({min(a):.3f}-{max(a):.3f})" for v, a in res.items()), flush=True)
