# Exploratory (session 18), DEV rows. Run from bench/dev as shown in README.md here.
# DEV rows: the default (fit, as train --data) against a plain frozen anchor (sklearn LR on MiniLM vectors of the
# labelled texts alone, no templates) and TF-IDF+LR, with label names and with labels that are numbers.
import os, sys, numpy as np
HERE = os.path.dirname(os.path.abspath(__file__)); sys.path.insert(0, HERE); sys.path.insert(0, os.path.dirname(HERE))
os.environ["LLMCLF_VECTOR_CACHE"] = "0"
from common import data, k_per_class, tfidf_lr
from llmclf import Classifier
from llmclf.embedding import get_embedder
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
K = int(sys.argv[2]) if len(sys.argv) > 2 else 8
for d in sys.argv[1].split(","):
    labels, descs, pool, dev = data(d)
    k = 10 if d == "banking77" and K == 8 else K
    idx = {l: str(i) for i, l in enumerate(labels)}
    res = {}
    dev_t = [r["text"] for r in dev]
    for seed in (0, 1, 2):
        rows = k_per_class(pool, k, seed=seed) if K else pool
        X = [r["text"] for r in rows]
        for kind, name in (("names", lambda l: l), ("numbers", lambda l: idx[l])):
            y = [name(r["label"]) for r in rows]
            gold = [name(r["label"]) for r in dev]
            pred = Classifier(emb).fit(X, y).predict(dev_t)
            res.setdefault(f"default/{kind}", []).append(np.mean([p == g for p, g in zip(pred, gold)]))
            if kind == "numbers":
                continue
            for C in (1.0, 10.0):
                m = LogisticRegression(C=C, max_iter=2000).fit(emb.embed(X), y)
                res.setdefault(f"frozen C={C:g}", []).append(np.mean(m.predict(emb.embed(dev_t)) == np.array(gold)))
            res.setdefault("tfidf", []).append(tfidf_lr(rows, dev).accuracy)
    print(d, k, " | ".join(f"{v} {np.mean(a):.3f}" for v, a in res.items()), flush=True)
