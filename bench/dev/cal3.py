# Exploratory (session 8): dev-row ECE of --calibrate's temperature with leave-one-out (oof2.py) against
# stratified 8, 4 and 2 folds (oof3.py), and the oracle temperature fitted on the dev rows themselves.
import os, glob, collections
import numpy as np
from llmclf.head import softmax, fit_temperature
from llmclf.evaluation import expected_calibration_error as ECE
CACHE = os.environ.get("LLMCLF_DEV_CACHE", "/tmp/llmclf-dev")
def ece(z, y, T):
    p = softmax(z / T); return ECE(p.max(1), p.argmax(1) == y)[0]
res = collections.defaultdict(lambda: collections.defaultdict(list))
for name, folder in [("leave-one-out (today)", "oof2")] + [(f"stratified {k}-fold", f"oof3/{k}") for k in (8, 4, 2)]:
    for f in sorted(glob.glob(f"{CACHE}/{folder}/*.npz")):
        d = f.split("/")[-1].split("-")[0]
        if d == "banking77": continue
        z = dict(np.load(f))
        res[name][d].append(ece(z["dev_z"], z["dev_y"], float(z["T"])))
        res["oracle T (dev rows)"][d].append(ece(z["dev_z"], z["dev_y"], fit_temperature(z["dev_z"], z["dev_y"]))) if folder == "oof2" else None
ds = sorted(res["leave-one-out (today)"])
print("| out-of-fold | " + " | ".join(ds) + " |")
for name, per in res.items():
    print(f"| {name} | " + " | ".join(f"{np.mean(per[d]):.3f}" for d in ds) + " |")
