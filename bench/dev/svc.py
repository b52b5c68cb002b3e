# Exploratory, run as-is on 2026-11-25 (session 16); see README.md here. Development rows only (seed-1 shuffle of
# the train split, first 1,000 rows); k-shot samples from the rest. Not adopted: LR beat every LinearSVC tried.
"""Dev-row experiment: the hybrid head's linear model, LR (today) against LinearSVC and others, banking77 10-shot."""
import json, random, sys, time, os
import numpy as np
import yaml
os.environ.setdefault("LLMCLF_CACHE_DIR", os.environ.get("LLMCLF_DEV_CACHE", "/tmp/llmclf-dev") + "/home")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import sklearn.linear_model as lm
from sklearn.svm import LinearSVC
import llmclf.head as head
from llmclf import Classifier

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data")
ds = sys.argv[1] if len(sys.argv) > 1 else "banking77"
k = int(sys.argv[2]) if len(sys.argv) > 2 else 10
variants = sys.argv[3].split(",") if len(sys.argv) > 3 else ["lr", "svc1", "svc0.1"]
rows = [json.loads(l) for l in open(f"{DATA}/{ds}/train.jsonl")]
random.Random(1).shuffle(rows)
dev, pool = rows[:1000], rows[1000:]
desc = yaml.safe_load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "descriptions", f"{ds}.yaml")))
RealLR = lm.LogisticRegression

class SVCasLR:
    def __init__(self, C=1.0, class_weight=None, max_iter=1000, **kw):
        self.m = LinearSVC(C=C, class_weight=class_weight, max_iter=5000)
    def fit(self, X, y, sample_weight=None):
        self.m.fit(X, y, sample_weight=sample_weight)
        self.coef_, self.intercept_ = self.m.coef_, self.m.intercept_
        return self

def make(variant):
    if variant == "lr":
        return RealLR
    if variant.startswith("svc"):
        c = float(variant[3:])
        return lambda C=1.0, class_weight=None, max_iter=1000: SVCasLR(C=c, class_weight=class_weight)
    if variant.startswith("lrC"):
        c = float(variant[3:])
        return lambda C=1.0, class_weight=None, max_iter=1000: RealLR(C=c, class_weight=class_weight, max_iter=max_iter)
    raise SystemExit(variant)

out = {v: [] for v in variants}
for seed in (0, 1, 2):
    by = {}
    rng = random.Random(seed)
    sample = []
    for label in sorted({r["label"] for r in pool}):
        items = [r for r in pool if r["label"] == label]
        sample += rng.sample(items, min(k, len(items)))
    for v in variants:
        lm.LogisticRegression = make(v)
        t = time.time()
        clf = Classifier()
        for name, d in desc.items():
            clf.add_class(name, d)
        clf.fit([r["text"] for r in sample], [r["label"] for r in sample])
        pred = clf.predict([r["text"] for r in dev])
        acc = float(np.mean([p == r["label"] for p, r in zip(pred, dev)]))
        out[v].append(acc)
        print(f"seed {seed} {v}: {acc:.4f} ({time.time()-t:.0f} s)", flush=True)
    lm.LogisticRegression = RealLR
print({v: round(float(np.mean(a)), 4) for v, a in out.items()}, "load", os.getloadavg()[0])
