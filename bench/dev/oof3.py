# Exploratory (session 8): like oof2.py, but with stratified k folds instead of leave-one-out (argv[3] = folds list).
import os
CACHE = os.environ.get("LLMCLF_DEV_CACHE", "/tmp/llmclf-dev")
import sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
import llmclf.calibration as CAL
ds = sys.argv[1].split(","); seeds = [int(s) for s in sys.argv[2].split(",")]; foldss = [int(f) for f in sys.argv[3].split(",")]
CAL.LEAVE_ONE_OUT_UP_TO = 0
for folds in foldss:
    CAL.FOLDS = folds
    os.makedirs(f"{CACHE}/oof3/{folds}", exist_ok=True)
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
            z = dict(np.load(f"{CACHE}/oof2/{d}-{K}-{seed}.npz"))
            np.savez(f"{CACHE}/oof3/{folds}/{d}-{K}-{seed}.npz", dev_z=z["dev_z"], dev_y=z["dev_y"], oof_z=cap["z"], oof_y=cap["y"], T=clf.head.temperature)
            print(folds, d, K, seed, "T", round(clf.head.temperature, 3), "oofacc", round((cap["z"].argmax(1) == cap["y"]).mean(), 3), "acc", round(rep.accuracy, 3), "ece", round(rep.ece, 3), flush=True)
