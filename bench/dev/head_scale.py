# Exploratory (2026-11-24, session 7), on DEV rows (common.data). See README.md here.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
import numpy as np
class Scaled:
    def __init__(self, inner, s): self.inner, self.s = inner, s; self.id = inner.id + f"-x{s}"; self.dim = inner.dim; self.normalized = False
    def embed(self, texts): return self.inner.embed(texts) * self.s
ds = sys.argv[1].split(","); K = int(sys.argv[2]); variants = sys.argv[3].split(",")
for d in ds:
    labels, descs, pool, dev = data(d)
    base = NpzEmbedder(d)
    res = {}
    for seed in (0, 1, 2):
        rows = k_per_class(pool, K, seed=seed)
        for v in variants:
            C, s = (float(x) for x in v.split(":"))
            emb = base if s == 1 else Scaled(base, s)
            rep, fit, *_ = run(emb, labels, descs, rows, dev, C=C)
            res.setdefault(v, []).append(rep.accuracy)
    print(d, K, " | ".join(f"C:s {v} {np.mean(a):.4f} ({min(a):.3f}-{max(a):.3f})" for v, a in res.items()), flush=True)
