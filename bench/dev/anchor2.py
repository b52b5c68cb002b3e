# Exploratory (session 18), DEV rows, run at f5ee0f4 (before the change it chose: there the shipped
# description_examples is A; from the next commit on it is D). Run from bench/dev as shown in README.md here.
# DEV rows, labels that are numbers: A today (templates), B no templates for such names, D bare label only,
# against a plain frozen anchor (sklearn LR on MiniLM vectors of the texts alone) and TF-IDF+LR.
import os, sys, numpy as np
HERE = os.path.dirname(os.path.abspath(__file__)); sys.path.insert(0, HERE); sys.path.insert(0, os.path.dirname(HERE))
os.environ["LLMCLF_VECTOR_CACHE"] = "0"
from common import data, k_per_class, tfidf_lr
from llmclf import Classifier
from llmclf.embedding import get_embedder
import llmclf.descriptions as D, llmclf.classifier as CL
from sklearn.linear_model import LogisticRegression
base = get_embedder()
class Cached:
    def __init__(self): self.v = {}; self.id = base.id; self.dim = base.dim; self.normalized = True
    def embed(self, texts):
        miss = [t for t in dict.fromkeys(texts) if t not in self.v]
        if miss:
            for t, x in zip(miss, base.embed(miss)): self.v[t] = x
        return np.stack([self.v[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)
emb = Cached()
orig = D.description_examples
variants = {"A": orig, "B": lambda n, d: [e for e in orig(n, d) if not n.isdigit()], "D": lambda n, d: orig(n, d)[:1] if n.isdigit() else orig(n, d)}
K = int(sys.argv[2]) if len(sys.argv) > 2 else 8
seeds = [int(s) for s in os.environ.get("SEEDS", "0,1,2").split(",")]
for d in sys.argv[1].split(","):
    labels, descs, pool, dev = data(d)
    k = 10 if d == "banking77" and K == 8 else K
    idx = {l: str(i) for i, l in enumerate(labels)}
    res = {}
    dev_t = [r["text"] for r in dev]
    gold = np.array([idx[r["label"]] for r in dev])
    for seed in seeds:
        rows = k_per_class(pool, k, seed=seed)
        X = [r["text"] for r in rows]; y = [idx[r["label"]] for r in rows]
        for v, f in variants.items():
            CL.description_examples = f
            res.setdefault(v, []).append(np.mean(Classifier(emb).fit(X, y).predict(dev_t) == gold))
        CL.description_examples = orig
        for C in (1.0, 10.0):
            m = LogisticRegression(C=C, max_iter=2000).fit(emb.embed(X), y)
            res.setdefault(f"frozen C={C:g}", []).append(np.mean(m.predict(emb.embed(dev_t)) == gold))
        res.setdefault("tfidf", []).append(tfidf_lr(rows, dev).accuracy)
    print(d, k, " | ".join(f"{v} {np.mean(a):.3f}" for v, a in res.items()), flush=True)
