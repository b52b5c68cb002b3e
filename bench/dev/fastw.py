# Exploratory, run as-is from a scratch folder on 2026-11-24 (see README.md here); only paths were edited.
import os
CACHE = os.environ.get("LLMCLF_DEV_CACHE", "/tmp/llmclf-dev")
import sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
from llmclf.embedding import get_embedder
class E:
    def __init__(s): s.inner=get_embedder("fast"); s.id=s.inner.id; s.dim=s.inner.dim; s.normalized=True; s.c={}
    def embed(s, texts):
        miss=[t for t in dict.fromkeys(texts) if t not in s.c]
        if miss:
            for t,v in zip(miss, s.inner.embed(miss)): s.c[t]=v
        return np.stack([s.c[t] for t in texts]) if texts else np.zeros((0,s.dim),np.float32)
for d in sys.argv[1].split(","):
    labels, descs, pool, dev = data(d)
    emb = E(); K = 10 if d == "banking77" else 8
    acc = {}
    for seed in (0,1):
        rows = k_per_class(pool, K, seed=seed)
        for w in (0, 0.5, 1.0, 2.0):
            for C in (10, 30):
                rep, *_ = run(emb, labels, descs, rows, dev, tfidf_weight=w, C=C)
                acc.setdefault((w, C), []).append(rep.accuracy)
    print(d, " | ".join(f"w{w} C{C} {np.mean(v):.3f}" for (w, C), v in acc.items()), flush=True)
