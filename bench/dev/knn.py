# Exploratory (2026-11-24, session 10), on DEV rows (common.data). See README.md here.
# The default head's probabilities blended with a nearest-neighbour vote: per class, the best cosine between the text
# and that class's labelled examples (descriptions included), as a softmax at scale s; p = (1-a) p_head + a p_knn.
import os, sys, numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
from llmclf.head import softmax
ds = sys.argv[1].split(","); K = int(sys.argv[2]); seeds = [0, 1, 2]
for d in ds:
    labels, descs, pool, dev = data(d)
    emb = NpzEmbedder(d)
    res = {}
    for seed in seeds:
        rows = k_per_class(pool, 10 if d == "banking77" and K == 8 else K, seed=seed)
        rep, _, _, clf = run(emb, labels, descs, rows, dev)
        P = clf.predict_proba([r["text"] for r in dev]); names = list(clf.class_names)
        y = np.array([names.index(r["label"]) for r in dev])
        ex = clf.training_examples()
        E = emb.embed([e.text for e in ex]); lab = np.array([names.index(e.label) for e in ex])
        X = emb.embed([r["text"] for r in dev]); S = X @ E.T
        best = np.full((len(dev), len(names)), -1.0)
        for c in range(len(names)):
            m = lab == c
            if m.any(): best[:, c] = S[:, m].max(1)
        for s in (20, 50):
            Q = softmax(best * s)
            for a in (0.0, 0.2, 0.4, 0.6, 1.0):
                acc = ((1 - a) * P + a * Q).argmax(1) == y
                res.setdefault((s, a), []).append(acc.mean())
    print(d, K, " ".join(f"s{s}a{a}:{np.mean(v):.4f}" for (s, a), v in res.items()), flush=True)
