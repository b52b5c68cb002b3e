# Exploratory, run as-is from a scratch folder on 2026-11-24 (see README.md here); only paths were edited.
# It patches private names of that day: rerun it on a checkout of commit 30844c7.
import os
CACHE = os.environ.get("LLMCLF_DEV_CACHE", "/tmp/llmclf-dev")
import sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
import llmclf.classifier as C
from llmclf import self_training as S
ds = sys.argv[1].split(",")
variants = [tuple(map(float, v.split(":"))) for v in sys.argv[2].split(",")]  # rounds:share:weight
for d in ds:
    labels, descs, pool, dev = data(d)
    emb = NpzEmbedder(d)
    K = 10 if d == "banking77" else 8
    accs = {}
    for seed in (0, 1, 2):
        rows = k_per_class(pool, K, seed=seed)
        used = {r["text"] for r in rows}
        unl = [r["text"] for r in shuffled(pool, 50 + seed) if r["text"] not in used][:1000]
        rep, *_ = run(emb, labels, descs, rows, dev)
        accs.setdefault("none", []).append(rep.accuracy)
        for R, share, w in variants:
            C.ROUNDS = int(R); S.PSEUDO_WEIGHT = w
            C.quota = lambda n, k, r, R=int(R), share=share: S.quota(n, k, r, R, share)
            rep, fit, *_ = run(emb, labels, descs, rows, dev, unlabeled=unl)
            accs.setdefault(f"{int(R)}:{share}:{w}", []).append(rep.accuracy)
    print(d, " | ".join(f"{k} {np.mean(v):.3f} (min {np.min(v):.3f})" for k, v in accs.items()), flush=True)
