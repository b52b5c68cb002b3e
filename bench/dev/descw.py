# Exploratory (2026-11-25, session 11), on DEV rows (common.data). See README.md here.
# The weight of description-derived examples (the label templates and description sentences) when the user gave data:
# "w:x" weighs them x (1 = today), "nt:x" drops the three label templates and weighs the sentences x.
import os, sys, numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
import llmclf.classifier as C
from llmclf.descriptions import description_examples as orig, TEMPLATES
from llmclf.examples import WEIGHT
def variant(v):
    kind, x = v.split(":"); x = float(x)
    def f(name, desc):
        out = orig(name, desc)
        if kind == "nt":
            from llmclf.descriptions import humanize_label
            tmpl = {t.format(name=humanize_label(name)).casefold() for t in TEMPLATES}
            out = [e for e in out if e.text.casefold() not in tmpl] or out
        for e in out: e.meta[WEIGHT] = x
        return out
    return f
ds = sys.argv[1].split(","); K = int(sys.argv[2]); variants = sys.argv[3].split(",")
seeds = [int(s) for s in os.environ.get("SEEDS", "0,1,2").split(",")]
for d in ds:
    labels, descs, pool, dev = data(d)
    emb = NpzEmbedder(d)
    res = {}
    for seed in seeds:
        k = 10 if d == "banking77" and K == 8 else K
        rows = k_per_class(pool, k, seed=seed)
        for v in variants:
            C.description_examples = variant(v)
            rep, *_ = run(emb, labels, descs, rows, dev)
            res.setdefault(v, []).append(rep.accuracy)
        print(d, k, seed, {v: round(a[-1], 4) for v, a in res.items()}, flush=True)
    print("MEAN", d, k, " ".join(f"{v}:{np.mean(a):.4f}" for v, a in res.items()), flush=True)
