# Exploratory (session 8): out-of-fold logits of today's --calibrate (llmclf/calibration.py) and dev-row logits,
# 8-shot (banking77 10-shot), seeds 0-4, saved for cal2.py. Development rows only.
import os
CACHE = os.environ.get("LLMCLF_DEV_CACHE", "/tmp/llmclf-dev")
import sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
import llmclf.calibration as CAL
os.makedirs(f"{CACHE}/oof2", exist_ok=True)
ds = sys.argv[1].split(","); seeds = [int(s) for s in sys.argv[2].split(",")]
for d in ds:
    labels, descs, pool, dev = data(d)
    emb = NpzEmbedder(d)
    K = 10 if d == "banking77" else 8
    for seed in seeds:
        rows = k_per_class(pool, K, seed=seed)
        cap = {}
        orig = CAL.fit_temperature
        CAL.fit_temperature = lambda l, yy, prior=None, cap=cap: (cap.update(z=l, y=yy), orig(l, yy, prior=prior))[1]
        rep, fit, pt, clf = run(emb, labels, descs, rows, dev, calibrate=True)
        CAL.fit_temperature = orig
        texts = [r["text"] for r in dev]
        T = clf.head.temperature
        z = clf.head.logits(emb.embed(texts), texts)  # logits before temperature
        idx = {c: i for i, c in enumerate(clf.class_names)}
        y = np.array([idx[r["label"]] for r in dev])
        np.savez(f"{CACHE}/oof2/{d}-{K}-{seed}.npz", dev_z=z, dev_y=y, oof_z=cap["z"], oof_y=cap["y"], T=T)
        print(d, K, seed, "T", round(T, 3), "acc", round(rep.accuracy, 3), "ece", round(rep.ece, 3), flush=True)
