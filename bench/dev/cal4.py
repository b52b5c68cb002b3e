# Exploratory (2026-11-25, session 11): --calibrate's temperature fitted by Brier score, and a temperature plus a
# share of the uniform distribution, on oof2.py's saved out-of-fold logits (8-shot), scored by dev-row ECE.
import os, glob, collections, numpy as np
from scipy.optimize import minimize_scalar, minimize
from llmclf.head import softmax, fit_temperature, prior_temperature
from llmclf.evaluation import expected_calibration_error as ECE
files = sorted(glob.glob("/tmp/llmclf-dev/oof2/*.npz"))
def ece_p(p, y): return ECE(p.max(1), p.argmax(1) == y)[0]
def brier_T(z, y, prior, strength):
    K = z.shape[1]; Y = np.eye(K)[y]
    def loss(lt):
        p = softmax(z / np.exp(lt)); return ((p - Y) ** 2).sum() + strength * (lt - np.log(prior)) ** 2
    return float(np.exp(minimize_scalar(loss, bounds=(-4, 4), method="bounded").x))
def mix_fit(z, y, prior, strength):
    K = z.shape[1]
    def loss(v):
        lt, le = v; eps = 1 / (1 + np.exp(-le))
        p = (1 - eps) * softmax(z / np.exp(lt)) + eps / K
        return -np.log(p[np.arange(len(y)), y]).sum() + strength * (lt - np.log(prior)) ** 2 + 5 * (le + 3) ** 2
    r = minimize(loss, [np.log(prior), -3.0], method="Nelder-Mead"); lt, le = r.x
    return float(np.exp(lt)), float(1 / (1 + np.exp(-le)))
rows = collections.defaultdict(lambda: collections.defaultdict(list))
for f in files:
    d = os.path.basename(f).split("-")[0]
    z = dict(np.load(f)); dz, dy, oz, oy = z["dev_z"], z["dev_y"], z["oof_z"], z["oof_y"]
    K = dz.shape[1]; n = len(oy) / K
    if n > 9: continue
    prior = prior_temperature(n); r = rows[d]
    r["today"].append(ece_p(softmax(dz / float(z["T"])), dy))
    r["oracle"].append(ece_p(softmax(dz / fit_temperature(dz, dy)), dy))
    for s in (2, 5, 10):
        r[f"brier s{s}"].append(ece_p(softmax(dz / brier_T(oz, oy, prior, s)), dy))
    for s in (20,):
        T, e = mix_fit(oz, oy, prior, s); r[f"mix s{s}"].append(ece_p((1 - e) * softmax(dz / T) + e / K, dy))
keys = list(next(iter(rows.values())).keys())
print("set".ljust(10), " ".join(k.rjust(9) for k in keys))
for d, r in rows.items():
    print(d.ljust(10), " ".join(f"{np.mean(r[k]):9.3f}" for k in keys), len(r["today"]))
