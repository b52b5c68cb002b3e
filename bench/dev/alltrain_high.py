"""All train rows: TF-IDF weights past 2 (the auto maximum), against TF-IDF+LR, on development rows.

python bench/dev/alltrain_high.py emotion,sst2 2,3,4   (ag_news's pool capped at 10,000 rows)
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tfidf_check import split, tfidf_lr  # noqa: E402

from llmclf import Classifier  # noqa: E402

sets, weights = sys.argv[1].split(","), [float(w) for w in sys.argv[2].split(",")]
print("load", os.getloadavg())
for name in sets:
    pool, dev = split(name)
    pool = pool[:10000] if name == "ag_news" else pool
    texts, truth = [r["text"] for r in dev], np.array([r["label"] for r in dev])
    X, y = [r["text"] for r in pool], [r["label"] for r in pool]
    row = [f"{name} n={len(X)}", f"tfidf {np.mean(tfidf_lr(X, y).predict(texts) == truth):.4f}"]
    for w in weights:
        t = time.perf_counter()
        acc = Classifier(tfidf_weight=w).fit(X, y).score(texts, list(truth))
        row.append(f"w={w:g} {acc:.4f} ({time.perf_counter() - t:.0f}s)")
    print(" | ".join(row), flush=True)
print("load", os.getloadavg())
