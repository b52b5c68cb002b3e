# Exploratory (session 8): calibration variants on oof2.py's saved logits, scored by dev-row ECE (15 bins).
import os, glob, collections, sys
import numpy as np
from scipy.optimize import minimize, minimize_scalar
from llmclf.head import softmax, fit_temperature, prior_temperature
from llmclf.evaluation import expected_calibration_error as ECE
CACHE = os.environ.get("LLMCLF_DEV_CACHE", "/tmp/llmclf-dev")
files = sorted(glob.glob(f"{CACHE}/oof2/*.npz"))
def ece_p(p, y): return ECE(p.max(1), p.argmax(1) == y)[0]
def ece(z, y, T): return ece_p(softmax(z / T), y)
rows = collections.defaultdict(lambda: collections.defaultdict(list))
for f in files:
    d = f.split("/")[-1].split("-")[0]
    z = dict(np.load(f))
    dz, dy, oz, oy = z["dev_z"], z["dev_y"], z["oof_z"], z["oof_y"]
    K = dz.shape[1]; n = len(oy) / K
    prior = prior_temperature(n)
    r = rows[d]
    r["T=1"].append(ece(dz, dy, 1.0))
    To = fit_temperature(dz, dy); r["oracle T"].append(ece(dz, dy, To)); r["oracleT"].append(To)
    r["today"].append(ece(dz, dy, float(z["T"]))); r["todayT"].append(float(z["T"]))
    r["prior only"].append(ece(dz, dy, prior))
    r["plain LOO"].append(ece(dz, dy, fit_temperature(oz, oy)))
    for s in (10, 40, 80):
        r[f"strength {s}"].append(ece(dz, dy, fit_temperature(oz, oy, prior=prior, strength=s)))
    # oof acc vs dev acc
    r["oof acc"].append((oz.argmax(1) == oy).mean()); r["dev acc"].append((dz.argmax(1) == dy).mean())
    r["oofconf@oracle"].append(softmax(oz / To).max(1).mean())
    r["devconf@oracle"].append(softmax(dz / To).max(1).mean())
keys = list(next(iter(rows.values())).keys())
print("variant".ljust(16), " ".join(d[:9].rjust(9) for d in rows))
for k in keys:
    print(k.ljust(16), " ".join(f"{np.mean(rows[d][k]):9.3f}" for d in rows), "  max", " ".join(f"{np.max(rows[d][k]):.3f}" for d in rows) if "T" not in k or k=="T=1" else "")

# --- estimators beyond today's
def acc_match(oz, oy, target):
    f = lambda lt: (softmax(oz / np.exp(lt)).max(1).mean() - target) ** 2
    return float(np.exp(minimize_scalar(f, bounds=(-4, 4), method="bounded").x))
est = collections.defaultdict(lambda: collections.defaultdict(list))
for f in files:
    d = f.split("/")[-1].split("-")[0]
    z = dict(np.load(f)); dz, dy, oz, oy = z["dev_z"], z["dev_y"], z["oof_z"], z["oof_y"]
    K = dz.shape[1]; n = len(oy); prior = prior_temperature(n / K)
    a = (oz.argmax(1) == oy).mean()
    e = est[d]
    e["accmatch"].append(ece(dz, dy, acc_match(oz, oy, a)))
    for m in (5, 10, 20):  # Beta-shrunk OOF accuracy toward the confidence at the prior T
        c0 = softmax(oz / prior).max(1).mean()
        e[f"accmatch shrink{m}"].append(ece(dz, dy, acc_match(oz, oy, (a * n + c0 * m) / (n + m))))
    Tn = fit_temperature(oz, oy, prior=prior)
    Ta = acc_match(oz, oy, a)
    e["geo(today,accm)"].append(ece(dz, dy, float(np.sqrt(Tn * Ta))))
    for T0 in (0.4, 0.5, 0.6, 0.7):
        e[f"fixed {T0}"].append(ece(dz, dy, T0))
print()
for k in next(iter(est.values())):
    v = [np.mean(est[d][k]) for d in est]
    print(k.ljust(20), " ".join(f"{x:9.3f}" for x in v), f"  worst {max(v):.3f}  maxseed", " ".join(f"{np.max(est[d][k]):.3f}" for d in est))
