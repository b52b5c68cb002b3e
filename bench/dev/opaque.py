# Exploratory (session 15), DEV rows: train --data with opaque labels ("0", "1", ...): do the label-name templates
# ("0", "This text is about 0.") hurt at 8-shot? A: as today; B: no templates for such labels; D: the bare label only;
# C: the real names. Labels are made opaque by their place in labels.txt.
import os, sys, numpy as np
HERE = os.path.dirname(os.path.abspath(__file__)); sys.path.insert(0, HERE); sys.path.insert(0, os.path.dirname(HERE))
os.environ["LLMCLF_VECTOR_CACHE"] = "0"
from common import data, k_per_class
from llmclf import Classifier
from llmclf.embedding import get_embedder
import llmclf.descriptions as D
base = get_embedder()
class Cached:
    def __init__(self): self.v = {}; self.id = base.id; self.dim = base.dim; self.normalized = True
    def embed(self, texts):
        miss = [t for t in dict.fromkeys(texts) if t not in self.v]
        if miss:
            for t, x in zip(miss, base.embed(miss)): self.v[t] = x
        return np.stack([self.v[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)
emb = Cached()
orig = D.description_examples
def bare_only(name, description):
    out = orig(name, description)
    return out[:1] if D.humanize_label(name).isdigit() else out
def no_templates(name, description):
    out = orig(name, description)
    return [e for e in out if not D.humanize_label(name).isdigit()] or out[:0]
K = int(sys.argv[2]) if len(sys.argv) > 2 else 8
for d in sys.argv[1].split(","):
    labels, descs, pool, dev = data(d)
    k = 10 if d == "banking77" and K == 8 else K
    idx = {l: str(i) for i, l in enumerate(labels)}
    res = {"A opaque": [], "B opaque, no templates": [], "D opaque, bare label only": [], "C names": []}
    for seed in [int(s) for s in os.environ.get("SEEDS", "0,1,2").split(",")]:
        rows = k_per_class(pool, k, seed=seed)
        for variant in res:
            import llmclf.classifier as C
            C.description_examples = no_templates if variant.startswith("B") else bare_only if variant.startswith("D") else orig
            name = (lambda l: l) if variant.startswith("C") else (lambda l: idx[l])
            clf = Classifier(emb).fit([r["text"] for r in rows], [name(r["label"]) for r in rows])
            pred = clf.predict([r["text"] for r in dev])
            res[variant].append(np.mean([p == name(r["label"]) for p, r in zip(pred, dev)]))
    print(d, k, " | ".join(f"{v} {np.mean(a):.4f}" for v, a in res.items()), flush=True)
