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
    for w in ws:
        rep, fit, pt, clf = run(emb, labels, None, pool[:20000], dev, tfidf_weight=w)
        print(d, "all", f"w={w}: {rep.accuracy:.3f} ece {rep.ece:.3f} fit {fit:.1f}s", flush=True)
