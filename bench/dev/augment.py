# Exploratory (2026-11-25, session 11), on DEV rows (common.data). See README.md here.
# The default head with each labelled text joined by n copies with words dropped (p) : EDA-style augmentation.
import os, sys, random, numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
def drop(t, p, rng):
    w = t.split(); keep = [x for x in w if rng.random() > p]
    return " ".join(keep or w[:1])
ds = sys.argv[1].split(","); K = int(sys.argv[2]); variants = sys.argv[3].split(",")  # "n:p"
seeds = [int(s) for s in os.environ.get("SEEDS", "0,1,2").split(",")]
for d in ds:
    labels, descs, pool, dev = data(d)
    emb = NpzEmbedder(d)
    res = {}
    for seed in seeds:
        k = 10 if d == "banking77" and K == 8 else K
        rows = k_per_class(pool, k, seed=seed)
        rep, *_ = run(emb, labels, descs, rows, dev)
        res.setdefault("none", []).append(rep.accuracy)
        for v in variants:
            n, p = int(v.split(":")[0]), float(v.split(":")[1]); rng = random.Random(seed)
            aug = rows + [{"text": drop(r["text"], p, rng), "label": r["label"]} for r in rows for _ in range(n)]
            rep, *_ = run(emb, labels, descs, aug, dev)
            res.setdefault(v, []).append(rep.accuracy)
        print(d, k, seed, {v: round(a[-1], 4) for v, a in res.items()}, flush=True)
    print("MEAN", d, k, " ".join(f"{v}:{np.mean(a):.4f}" for v, a in res.items()), flush=True)
