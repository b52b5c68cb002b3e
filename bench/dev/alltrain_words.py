"""All-train on the word-decided tasks of tfidf_check.py: TF-IDF+LR against the default and the frozen anchor.

Development rows only (the 1,000 held out of each train split). python bench/dev/alltrain_words.py [--sets ...]
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tfidf_check import split, tfidf_lr  # noqa: E402

from llmclf import Classifier  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--sets", default="trec_wh,snips_first,ag_source")
ap.add_argument("--weights", default="auto")
args = ap.parse_args()
print("load", os.getloadavg())
for name in args.sets.split(","):
    pool, dev = split(name)
    texts, truth = [r["text"] for r in dev], np.array([r["label"] for r in dev])
    X, y = [r["text"] for r in pool], [r["label"] for r in pool]
    per = collections.Counter(y)
    t = time.perf_counter()
    tf = np.mean(tfidf_lr(X, y).predict(texts) == truth)
    row = [f"{name} n={len(X)} classes={len(per)} min/class={min(per.values())}", f"tfidf {tf:.4f} ({time.perf_counter()-t:.0f}s)"]
    for w in ["0", *args.weights.split(",")]:
        w = w if w == "auto" else float(w)
        t = time.perf_counter()
        clf = Classifier(tfidf_weight=w).fit(X, y)
        acc = clf.score(texts, list(truth))
        chk = clf.manifest()["training"].get("tfidf_check")
        row.append(f"w={w} {acc:.4f} ({time.perf_counter()-t:.0f}s) check={chk and (chk['auto'], chk['weight'], chk['only_tfidf_right'], chk['only_embedding_right'])}")
    print(" | ".join(row), flush=True)
print("load", os.getloadavg())
