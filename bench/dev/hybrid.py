# Exploratory, run as-is from a scratch folder on 2026-11-24 (see README.md here); only paths were edited.
import os
CACHE = os.environ.get("LLMCLF_DEV_CACHE", "/tmp/llmclf-dev")
import sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
ds = sys.argv[1:] or ["trec","ag_news","sst2","banking77","snips","emotion"]
for d in ds:
    labels, descs, pool, dev = data(d)
    emb = NpzEmbedder(d)
    for name, rows, de in [("zero", [], descs), ("8+desc", k_per_class(pool, 8), descs), ("64+desc", k_per_class(pool, 64), descs), ("all", pool[:20000], None)]:
        out = []
        for w in (0.0, 0.5):
            rep, fit, pt, clf = run(emb, labels, de, rows, dev, tfidf_weight=w)
            out.append(f"w={w}: {rep.accuracy:.3f} ece {rep.ece:.3f} fit {fit:.1f}s pred {pt:.2f}s nf {clf.head.coef.shape[1]}")
        if rows:
            out.append(f"tfidf {tfidf_lr(rows, dev).accuracy:.3f}")
        print(d, name, " | ".join(out), flush=True)
