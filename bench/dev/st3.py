# Exploratory, run as-is from a scratch folder on 2026-11-24 (see README.md here); only paths were edited.
# It patches private names of that day: rerun it on a checkout of commit df3aa4e.
import os
CACHE = os.environ.get("LLMCLF_DEV_CACHE", "/tmp/llmclf-dev")
import sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
import llmclf.classifier as C
from llmclf import self_training as S
from llmclf.examples import Example, Source
orig_select = S.select_confident
def proportional(proba, texts, classes, per_class, round_, R=3, share=1.0):
    top = proba.argmax(1); conf = proba.max(1); out = []
    for k, name in enumerate(classes):
        idx = np.flatnonzero(top == k)
        take = int(np.ceil(len(idx) * share * round_ / R))
        idx = idx[np.argsort(-conf[idx], kind="stable")][:take]
        out += [Example(texts[i], name, Source.PSEUDO, {"round": round_, "confidence": float(conf[i])}) for i in idx]
    return out
ds = sys.argv[1].split(","); K = int(sys.argv[2])
for d in ds:
    labels, descs, pool, dev = data(d)
    emb = NpzEmbedder(d)
    accs = {}
    for seed in (0, 1, 2):
        rows = k_per_class(pool, K, seed=seed)
        used = {r["text"] for r in rows}
        unl = [r["text"] for r in shuffled(pool, 50 + seed) if r["text"] not in used][:1000]
        accs.setdefault("none", []).append(run(emb, labels, descs, rows, dev)[0].accuracy)
        C.select_confident = orig_select
        accs.setdefault("equal", []).append(run(emb, labels, descs, rows, dev, unlabeled=unl)[0].accuracy)
        C.select_confident = proportional
        accs.setdefault("proportional", []).append(run(emb, labels, descs, rows, dev, unlabeled=unl)[0].accuracy)
        C.select_confident = lambda p, t, c, q, r: proportional(p, t, c, q, r, share=0.5)
        accs.setdefault("prop0.5", []).append(run(emb, labels, descs, rows, dev, unlabeled=unl)[0].accuracy)
    print(d, K, " | ".join(f"{k} {np.mean(v):.3f}" for k, v in accs.items()), flush=True)
