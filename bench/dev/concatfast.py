# Exploratory (session 12): MiniLM's vector joined by the fast (static) embedder's, weighted, under the hybrid head.
#   python concatfast.py banking77 10 0,1,2 0,0.3,0.5,1
import os, sys, numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
from llmclf.embedding import get_embedder
d, K = sys.argv[1], int(sys.argv[2]); seeds = [int(s) for s in sys.argv[3].split(",")]; ws = [float(w) for w in sys.argv[4].split(",")]
labels, descs, pool, dev = data(d)
mini = NpzEmbedder(d); fast = get_embedder("fast"); fc = {}
class E:
    def __init__(s, w): s.w = w; s.id = f"cat-{w}"; s.dim = 384 + 256; s.normalized = True
    def embed(s, texts):
        texts = list(texts)
        if not texts: return np.zeros((0, s.dim), np.float32)
        miss = [t for t in dict.fromkeys(texts) if t not in fc]
        if miss:
            for t, v in zip(miss, fast.embed(miss)): fc[t] = v
        F = np.stack([fc[t] for t in texts])
        return np.hstack([mini.embed(texts), s.w * F]) / np.sqrt(1 + s.w**2)
res = {}
for seed in seeds:
    rows = k_per_class(pool, K, seed=seed)
    for w in ws:
        rep, *_ = run(E(w), labels, descs, rows, dev)
        res.setdefault(w, []).append(rep.accuracy)
    print(d, seed, " | ".join(f"w{n} {a[-1]:.3f}" for n, a in res.items()), flush=True)
print(d, K, seeds, " | ".join(f"w{n} {np.mean(a):.3f}" for n, a in res.items()), flush=True)
