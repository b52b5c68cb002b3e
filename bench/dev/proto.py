# Exploratory (session 9), DEV rows: adding a prototype term to the default head's logits,
# z = z_head + lam * X @ M.T, M the unit-length mean embedding of each class's labelled examples (linear in X, so it
# could be folded into the head's dense weights). k-shot, seeds 0-2, accuracy and the best lam per set.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
LAMS = [0, 2, 5, 10, 20]
for d in sys.argv[1].split(","):
    labels, descs, pool, dev = data(d)
    emb = NpzEmbedder(d)
    K = int(sys.argv[2]) if len(sys.argv) > 2 else (10 if d == "banking77" else 8)
    acc = {l: [] for l in LAMS}
    texts = [r["text"] for r in dev]
    Xd = emb.embed(texts)
    for seed in (0, 1, 2):
        rows = k_per_class(pool, K, seed=seed)
        rep, fit, pt, clf = run(emb, labels, descs, rows, dev)
        names = clf.class_names
        y = np.array([names.index(r["label"]) for r in dev])
        z = clf.head.logits(Xd, texts)
        M = np.stack([emb.embed([r["text"] for r in rows if r["label"] == c]).mean(0) for c in names])
        M /= np.linalg.norm(M, axis=1, keepdims=True)
        S = Xd @ M.T
        for l in LAMS:
            acc[l].append(((z + l * S).argmax(1) == y).mean())
    print(d, K, " | ".join(f"lam{l} {np.mean(v):.3f}" for l, v in acc.items()), flush=True)
