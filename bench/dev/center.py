# Exploratory (session 8), DEV rows: the default head on centred embeddings (v - mean, renormalised), the mean
# taken over the texts the head is trained on (examples + descriptions) or, as an upper bound, over 2,000 pool texts.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
import numpy as np
class Centred:
    def __init__(self, inner, mu): self.inner, self.mu = inner, mu; self.id = inner.id + "-c"; self.dim = inner.dim; self.normalized = True
    def embed(self, texts):
        v = self.inner.embed(texts) - self.mu
        return v / np.linalg.norm(v, axis=1, keepdims=True)
ds = sys.argv[1].split(","); K = int(sys.argv[2])
for d in ds:
    labels, descs, pool, dev = data(d)
    base = NpzEmbedder(d)
    res = {}
    for seed in (0, 1, 2):
        rows = k_per_class(pool, K, seed=seed)
        rep, *_ = run(base, labels, descs, rows, dev); res.setdefault("plain", []).append(rep.accuracy)
        mu_rows = base.embed([r["text"] for r in rows]).mean(0)
        rep, *_ = run(Centred(base, mu_rows), labels, descs, rows, dev); res.setdefault("centred on examples", []).append(rep.accuracy)
        mu_pool = base.embed([r["text"] for r in shuffled(pool, seed)[:2000]]).mean(0)
        rep, *_ = run(Centred(base, mu_pool), labels, descs, rows, dev); res.setdefault("centred on pool", []).append(rep.accuracy)
    print(d, K, " | ".join(f"{v} {np.mean(a):.4f} ({min(a):.3f}-{max(a):.3f})" for v, a in res.items()), flush=True)
