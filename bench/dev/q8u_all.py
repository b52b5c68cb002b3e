# Exploratory (2026-11-25, session 11), on DEV rows (common.data). See README.md here.
# Real int8 (llmclf's MiniLMInt8Embedder) against the float graph with ALL train rows (the pool), per data set; and
# with 3 more 8-shot seeds (3-5) where asked. One run each: a difference of 0.1 point is one text in 1,000.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
from llmclf.embedding import MiniLMInt8Embedder
class Int8:
    def __init__(s):
        s.e = MiniLMInt8Embedder(); s.id = "int8"; s.dim = 384; s.normalized = True; s.c = {}
    def embed(s, texts):
        miss = [t for t in dict.fromkeys(texts) if t not in s.c]
        if miss:
            for t, v in zip(miss, s.e.embed(miss)): s.c[t] = v
        return np.stack([s.c[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)
seeds = [int(x) for x in os.environ.get("SEEDS", "").split(",") if x]
for d in sys.argv[1].split(","):
    labels, descs, pool, dev = data(d)
    cur, new = NpzEmbedder(d), Int8()
    out = []
    for seed in seeds:
        rows = k_per_class(pool, 10 if d == "banking77" else 8, seed=seed)
        a, b = run(cur, labels, descs, rows, dev)[0].accuracy, run(new, labels, descs, rows, dev)[0].accuracy
        out.append(f"8-shot s{seed} {a:.3f}->{b:.3f}")
    a, b = run(cur, labels, descs, pool, dev)[0].accuracy, run(new, labels, descs, pool, dev)[0].accuracy
    out.append(f"all train ({len(pool):,}) {a:.3f}->{b:.3f} ({(b - a) * 100:+.1f})")
    print(d, " | ".join(out), flush=True)
