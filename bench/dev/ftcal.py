# Exploratory (session 8): how --finetune's head is calibrated, on DEV rows: its dev logits (before any
# temperature) and the examples per class, saved for ftcal_report.py. python ftcal.py banking77,trec 0,1
# (NCLS=10: banking77's first 10 classes only)
import os
CACHE = os.environ.get("LLMCLF_DEV_CACHE", "/tmp/llmclf-dev")
import sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
os.makedirs(f"{CACHE}/ftcal", exist_ok=True)
ds = sys.argv[1].split(","); seeds = [int(s) for s in sys.argv[2].split(",")]
for d in ds:
    labels, descs, pool, dev = data(d)
    tag = ""
    if os.environ.get("NCLS"):  # the first NCLS classes only (sorted by name), as ft_loss.py
        keep = set(sorted(labels)[:int(os.environ["NCLS"])]); tag = "-first" + os.environ["NCLS"]
        labels = [l for l in labels if l in keep]; descs = {l: v for l, v in descs.items() if l in keep}
        pool = [r for r in pool if r["label"] in keep]; dev = [r for r in dev if r["label"] in keep]
    K = int(os.environ.get("KSHOT", 10 if d == "banking77" else 8))  # KSHOT=64: 64 per class
    for seed in seeds:
        rows = k_per_class(pool, K, seed=seed)
        rep, fit, pt, clf = run(None, labels, descs, rows, dev, finetune=True)
        texts = [r["text"] for r in dev]
        z = clf.head.logits(clf.embed(texts), texts)
        idx = {c: i for i, c in enumerate(clf.class_names)}
        y = np.array([idx[r["label"]] for r in dev])
        np.savez(f"{CACHE}/ftcal/{d}{tag}-{K}-{seed}.npz", dev_z=z, dev_y=y, per_class=K)
        print(d, K, seed, "acc", round(rep.accuracy, 3), "ece", round(rep.ece, 3), "fit s", round(fit), flush=True)
