# Exploratory, run as-is from a scratch folder on 2026-11-24 (see README.md here); only paths were edited.
import os
CACHE = os.environ.get("LLMCLF_DEV_CACHE", "/tmp/llmclf-dev")
import glob, numpy as np, sys

from llmclf.head import softmax
from llmclf.evaluation import expected_calibration_error as ECE
from scipy.optimize import minimize_scalar
def nll(z, y, T):
    zz = z / T; zz = zz - zz.max(1, keepdims=True)
    return -(zz[np.arange(len(y)), y] - np.log(np.exp(zz).sum(1))).sum()
def mapT(z, y, T0, lam):
    f = lambda lt: nll(z, y, np.exp(lt)) + lam * (lt - np.log(T0)) ** 2
    return float(np.exp(minimize_scalar(f, bounds=(-4, 4), method="bounded").x))
def ece(z, y, T):
    p = softmax(z / T); return ECE(p.max(1), p.argmax(1) == y)[0]
files = sorted(glob.glob(f"{CACHE}/oof/*.npz"))
K = sys.argv[1]
files = [f for f in files if f"-{K}-" in f]
for key in (["oof8", "oof1000"] if K in ("8","10") else ["oof5", "oof10"]):
  for T0 in ([0.5] if K in ("8","10") else [0.7, 1.0]):
    for lam in (0, 5, 20, 50, 1e9):
        eces = []
        for f in files:
            z = np.load(f)
            T = mapT(z[key+"_z"], z[key+"_y"], T0, lam)
            eces.append(ece(z["dev_z"], z["dev_y"], T))
        print(key, T0, lam, "max %.3f mean %.3f n>0.05: %d/%d" % (max(eces), np.mean(eces), sum(e > 0.05 for e in eces), len(eces)), " ".join(f"{e:.3f}" for e in eces))
print([f.split("/")[-1] for f in files])
from llmclf.head import fit_temperature
for f in files:
    z = np.load(f)
    o = fit_temperature(z["dev_z"], z["dev_y"])
    keys = ["oof8", "oof1000"] if K in ("8","10") else ["oof5", "oof10"]
    ts = [fit_temperature(z[k+"_z"], z[k+"_y"]) for k in keys]
    acc_oof = [(z[k+"_z"].argmax(1) == z[k+"_y"]).mean() for k in keys]
    print(f.split("/")[-1], "oracle %.2f" % o, "cv", " ".join("%.2f" % t for t in ts), "oof acc", " ".join("%.2f" % a for a in acc_oof), "dev acc %.2f" % (z["dev_z"].argmax(1) == z["dev_y"]).mean())
