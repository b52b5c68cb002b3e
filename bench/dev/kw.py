# Exploratory, run as-is from a scratch folder on 2026-11-24 (see README.md here); only paths were edited.
import os
CACHE = os.environ.get("LLMCLF_DEV_CACHE", "/tmp/llmclf-dev")
import sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
ds = sys.argv[1].split(",")
ws = [float(w) for w in sys.argv[2].split(",")]
for d in ds:
    labels, descs, pool, dev = data(d)
    emb = NpzEmbedder(d)
    for K in (8, 64):
        accs = {}
        for seed in (0, 1):
            rows = k_per_class(pool, K, seed=seed)
            for w in ws:
                rep, *_ = run(emb, labels, descs, rows, dev, tfidf_weight=w)
                accs.setdefault(w, []).append(rep.accuracy)
            accs.setdefault("tfidf", []).append(tfidf_lr(rows, dev).accuracy)
        print(d, f"k={K}", " | ".join(f"{k} {np.mean(v):.3f}" for k, v in accs.items()), flush=True)
