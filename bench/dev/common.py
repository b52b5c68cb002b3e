# Exploratory, run as-is from a scratch folder on 2026-11-24 (see README.md here); only paths were edited.
import os
CACHE = os.environ.get("LLMCLF_DEV_CACHE", "/tmp/llmclf-dev")
import sys, os, time, json, numpy as np, yaml
os.environ["LLMCLF_VECTOR_CACHE"] = "0"
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from _util import load_split, shuffled, DATA, k_per_class
from llmclf import Classifier
from llmclf.evaluation import evaluate_proba

class NpzEmbedder:
    def __init__(self, d, eid="minilm-l6-v2-int8-onnx"):
        z = np.load(f"{CACHE}/{eid}-{d}.npz", allow_pickle=True)
        self.vec = dict(zip(z["texts"].tolist(), z["V"]))
        self.id = "npz-" + eid; self.dim = z["V"].shape[1]; self.normalized = True
        from llmclf.embedding import get_embedder
        self._inner = None; self.eid = eid
    def embed(self, texts):
        miss = [t for t in texts if t not in self.vec]
        if miss:
            from llmclf.embedding import get_embedder
            if self._inner is None: self._inner = get_embedder("minilm-float" if self.eid.startswith("minilm") else "fast")
            for t, v in zip(miss, self._inner.embed(miss)): self.vec[t] = v
        return np.stack([self.vec[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

def data(d):
    labels = (DATA / d / "labels.txt").read_text().split()
    descs = yaml.safe_load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "descriptions", f"{d}.yaml")))
    train = load_split(d, "train")
    sh = shuffled(train, 1)
    dev = sh[:1000]; devset = {r["text"] for r in dev}
    pool = [r for r in train if r["text"] not in devset]
    return labels, descs, pool, dev

def run(emb, labels, descs, rows, evalrows, unlabeled=None, **kw):
    clf = Classifier(emb, **kw)
    for l in labels: clf.add_class(l, descs.get(l) if descs else None)
    by = {}
    for r in rows: by.setdefault(r["label"], []).append(r["text"])
    for l, t in by.items(): clf.add_data_to_class(l, t)
    t0 = time.perf_counter()
    if unlabeled is not None:
        clf.prompt_train(unlabeled=unlabeled) 
    else:
        clf.prompt_train()
    fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    p = clf.predict_proba([r["text"] for r in evalrows])
    pt = time.perf_counter() - t0
    rep = evaluate_proba(p, clf.class_names, [r["label"] for r in evalrows])
    return rep, fit, pt, clf

def tfidf_lr(rows, evalrows):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    X = vec.fit_transform([r["text"] for r in rows])
    m = LogisticRegression(C=10.0, max_iter=2000).fit(X, [r["label"] for r in rows])
    p = m.predict_proba(vec.transform([r["text"] for r in evalrows]))
    return evaluate_proba(p, list(m.classes_), [r["label"] for r in evalrows])
