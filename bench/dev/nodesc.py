# Exploratory (2026-11-24, session 7), on DEV rows (common.data): the default against the frozen head and TF-IDF+LR
# with data and NO descriptions (as `llmclf train --data` alone). python nodesc.py trec,ag_news,sst2,emotion,snips,banking77
import sys, os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
for d in sys.argv[1].split(","):
    labels, descs, pool, dev = data(d)
    emb = NpzEmbedder(d)
    for K in ([10] if d == "banking77" else [8]) + [64]:
        acc = {}
        for seed in (0, 1, 2):
            rows = k_per_class(pool, K, seed=seed)
            for name, kw in (("frozen", dict(tfidf_weight=0)), ("default", {})):
                rep, *_ = run(emb, labels, None, rows, dev, **kw)
                acc.setdefault(name, []).append(rep.accuracy)
            acc.setdefault("tfidf", []).append(tfidf_lr(rows, dev).accuracy)
        print(d, K, "no descriptions", " | ".join(f"{k} {np.mean(v):.3f}" for k, v in acc.items()), flush=True)
