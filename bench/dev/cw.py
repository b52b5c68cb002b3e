# Exploratory (session 9): class_weight "balanced" (today) against None at all-train, on development rows, and on
# a skewed copy of sst2 (90/10). Accuracy and macro-F1 of the default (hybrid, auto weight) head.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
for d in sys.argv[1].split(","):
    skew = d.endswith("-skew")
    name = d.removesuffix("-skew")
    labels, descs, pool, dev = data(name)
    rows = pool[:20000]
    if skew:  # keep every negative, a ninth as many positives: 90/10 in training and in the scored rows
        def skewed(rs):
            neg = [r for r in rs if r["label"] == labels[0]]; pos = [r for r in rs if r["label"] != labels[0]]
            return neg + pos[: len(neg) // 9]
        rows, dev = skewed(rows), skewed(dev)
    emb = NpzEmbedder(name)
    out = []
    for cw in ("balanced", None):
        rep, fit, pt, clf = run(emb, labels, None, rows, dev, class_weight=cw)
        out.append(f"{cw}: acc {rep.accuracy:.3f} F1 {rep.macro_f1:.3f} ece {rep.ece:.3f}")
    t = tfidf_lr(rows, dev)
    print(d, len(rows), " | ".join(out), f"| tfidf+lr acc {t.accuracy:.3f} F1 {t.macro_f1:.3f}", flush=True)
