# Exploratory, run as-is from a scratch folder on 2026-11-24 (see README.md here); only paths were edited.
# It patches private names of that day: rerun it on a checkout of commit df3aa4e.
import os
CACHE = os.environ.get("LLMCLF_DEV_CACHE", "/tmp/llmclf-dev")
import sys, os; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
from llmclf.head import fit_temperature, softmax
import llmclf.classifier as C
os.makedirs(f"{CACHE}/oof", exist_ok=True)
C.MIN_CALIBRATION_EXAMPLES = 8
ds = sys.argv[1].split(","); Ks = [int(k) for k in sys.argv[2].split(",")]
for d in ds:
    labels, descs, pool, dev = data(d)
    emb = NpzEmbedder(d)
    for K in Ks:
      for seed in (0, 1, 2):
        rows = k_per_class(pool, K, seed=seed)
        rep, fit, pt, clf = run(emb, labels, descs, rows, dev)
        texts = [r["text"] for r in dev]
        z = clf.head.logits(emb.embed(texts), texts)
        idx = {c: i for i, c in enumerate(clf.class_names)}
        y = np.array([idx[r["label"]] for r in dev])
        saved = {"dev_z": z, "dev_y": y}
        for f in ([8, 1000] if K <= 10 else [5, 10]):
            C.CALIBRATION_FOLDS = f
            # capture OOF logits by wrapping fit_temperature
            cap = {}
            orig = C.fit_temperature
            C.fit_temperature = lambda l, yy, cap=cap: (cap.update(z=l, y=yy), orig(l, yy))[1]
            clf._fit_temperature(emb.embed([e.text for e in clf.examples]), clf.examples, clf.class_names)
            C.fit_temperature = orig
            saved[f"oof{f}_z"], saved[f"oof{f}_y"] = cap["z"], cap["y"]
        np.savez(f"{CACHE}/oof/{d}-{K}-{seed}.npz", **saved)
        print(d, K, seed, "oracle", round(fit_temperature(z, y), 2), flush=True)
