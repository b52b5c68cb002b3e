# Exploratory (2026-11-25, session 11), on DEV rows (common.data). See README.md here.
# The default head on whitened embeddings: x -> normalise((x - mu) @ S^-1/2), S = (1-a) Cov + a (tr Cov / d) I,
# the covariance taken from the labelled texts (descriptions included: "lab") or from 2,000 unlabelled pool texts ("pool").
import os, sys, numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
class Whitened:
    def __init__(self, base, mu, W):
        self.base, self.mu, self.W = base, mu, W; self.dim = base.dim; self.id = f"w{id(W)}"; self.normalized = True
    def embed(self, texts):
        X = (self.base.embed(texts) - self.mu) @ self.W
        return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32) if len(X) else X
def whitener(X, a):
    mu = X.mean(0); C = np.cov((X - mu).T); d = C.shape[0]
    S = (1 - a) * C + a * np.trace(C) / d * np.eye(d)
    w, V = np.linalg.eigh(S)
    return mu, V @ np.diag(w ** -0.5) @ V.T
ds = sys.argv[1].split(","); K = int(sys.argv[2]); alphas = [float(a) for a in sys.argv[3].split(",")]
seeds = [int(s) for s in os.environ.get("SEEDS", "0,1,2").split(",")]
for d in ds:
    labels, descs, pool, dev = data(d)
    emb = NpzEmbedder(d)
    res = {}
    for seed in seeds:
        k = 10 if d == "banking77" and K == 8 else K
        rows = k_per_class(pool, k, seed=seed)
        taken = {r["text"] for r in rows}
        unl = [r["text"] for r in shuffled([r for r in pool if r["text"] not in taken], 7 + seed)[:2000]]
        rep, _, _, clf = run(emb, labels, descs, rows, dev)
        res.setdefault("none", []).append(rep.accuracy)
        lab = [e.text for e in clf.training_examples()]
        for src, texts in (("lab", lab), ("pool", unl)):
            X = emb.embed(texts)
            for a in alphas:
                mu, W = whitener(X, a)
                rep, *_ = run(Whitened(emb, mu, W), labels, descs, rows, dev)
                res.setdefault(f"{src}{a}", []).append(rep.accuracy)
        print(d, k, seed, {v: round(a[-1], 4) for v, a in res.items()}, flush=True)
    print("MEAN", d, k, " ".join(f"{v}:{np.mean(a):.4f}" for v, a in res.items()), flush=True)
