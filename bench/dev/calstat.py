# Exploratory (session 20): can a statistic of the labelled examples' geometry (no held-out predictions) say
# which temperature an 8-shot head wants? Saves, per data set and seed: the out-of-fold logits --calibrate
# fits on, the head's dev-row logits (before temperature), and statistics of the labelled embeddings.
# The product's default embedder, through its vector cache under $LLMCLF_DEV_CACHE/home. Development rows only.
import os
CACHE = os.environ.get("LLMCLF_DEV_CACHE", "/tmp/llmclf-dev")
os.environ.setdefault("LLMCLF_HOME", f"{CACHE}/home")
import sys; sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy as np, yaml
from _util import load_split, shuffled, DATA, k_per_class
from llmclf import Classifier
import llmclf.calibration as CAL

HERE = os.path.dirname(os.path.abspath(__file__))
os.makedirs(f"{CACHE}/calstat", exist_ok=True)


def data(d):
    labels = (DATA / d / "labels.txt").read_text().split()
    descs = yaml.safe_load(open(os.path.join(HERE, "..", "descriptions", f"{d}.yaml")))
    train = load_split(d, "train")
    dev = shuffled(train, 1)[:1000]
    devset = {r["text"] for r in dev}
    return labels, descs, [r for r in train if r["text"] not in devset], dev


def stats(V, y):
    """Geometry of the labelled vectors (rows L2-normalised): within/between cosine, silhouette, centroid LOO."""
    S = V @ V.T
    same = y[:, None] == y[None, :]
    off = ~np.eye(len(y), dtype=bool)
    within = S[same & off].mean()
    between = S[~same].mean()
    classes = np.unique(y)
    # silhouette with cosine distance
    D = 1 - S
    a = np.array([D[i, same[i] & off[i]].mean() for i in range(len(y))])
    b = np.array([min(D[i, y == c].mean() for c in classes if c != y[i]) for i in range(len(y))])
    sil = np.mean((b - a) / np.maximum(a, b))
    # nearest centroid, leave-one-out
    cent = np.stack([V[y == c].sum(0) for c in classes])
    cnt = np.array([(y == c).sum() for c in classes])
    hits, margins = [], []
    for i in range(len(y)):
        C = cent.copy(); n = cnt.astype(float).copy()
        k = np.searchsorted(classes, y[i]); C[k] -= V[i]; n[k] -= 1
        C = C / np.linalg.norm(C, axis=1, keepdims=True)
        s = C @ V[i]
        hits.append(s.argmax() == k)
        margins.append(s[k] - np.max(np.delete(s, k)))
    return dict(within=within, between=between, gap=within - between, sil=sil,
                ncacc=np.mean(hits), ncmargin=np.mean(margins))


ds = sys.argv[1].split(","); seeds = [int(s) for s in sys.argv[2].split(",")]
for d in ds:
    labels, descs, pool, dev = data(d)
    K = 10 if d == "banking77" else 8
    for seed in seeds:
        out = f"{CACHE}/calstat/{d}-{K}-{seed}.npz"
        if os.path.exists(out):
            continue
        rows = k_per_class(pool, K, seed=seed)
        clf = Classifier(calibrate=True)
        for l in labels:
            clf.add_class(l, descs.get(l))
        by = {}
        for r in rows:
            by.setdefault(r["label"], []).append(r["text"])
        for l, t in by.items():
            clf.add_data_to_class(l, t)
        cap = {}
        orig = CAL.fit_temperature
        CAL.fit_temperature = lambda z, yy, prior=None, cap=cap: (cap.update(z=z, y=yy), orig(z, yy, prior=prior))[1]
        clf.prompt_train()
        CAL.fit_temperature = orig
        texts = [r["text"] for r in dev]
        idx = {c: i for i, c in enumerate(clf.class_names)}
        dev_y = np.array([idx[r["label"]] for r in dev])
        dev_z = clf._scores(texts) * clf.head.temperature
        V = clf.embed([r["text"] for r in rows])
        ty = np.array([idx[r["label"]] for r in rows])
        st = stats(V.astype(np.float64), ty)
        np.savez(out, dev_z=dev_z, dev_y=dev_y, oof_z=cap["z"], oof_y=cap["y"], T=clf.head.temperature, **st)
        acc = (dev_z.argmax(1) == dev_y).mean()
        print(d, K, seed, "T", round(clf.head.temperature, 3), "acc", round(acc, 3),
              " ".join(f"{k} {v:.3f}" for k, v in st.items()), flush=True)
