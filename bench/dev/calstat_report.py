# Exploratory (session 20): after calstat.py. Dev-row ECE (15 bins) of --calibrate as it is, against a prior
# temperature predicted from one statistic of the labelled embeddings, fitted leave-one-data-set-out
# (the data set scored never helps choose its own prior). Development rows only.
import os, glob, collections
import numpy as np
from llmclf.head import softmax, fit_temperature, prior_temperature, PRIOR_STRENGTH
from llmclf.evaluation import expected_calibration_error as ECE
CACHE = os.environ.get("LLMCLF_DEV_CACHE", "/tmp/llmclf-dev")
STATS = ["gap", "sil", "ncacc", "ncmargin", "within", "between"]
recs = []
for f in sorted(glob.glob(f"{CACHE}/calstat/*.npz")):
    z = dict(np.load(f)); d = os.path.basename(f).split("-")[0]
    K = z["dev_z"].shape[1]; n = len(z["oof_y"]) / K
    z["d"] = d; z["oracle"] = fit_temperature(z["dev_z"], z["dev_y"]); z["prior"] = prior_temperature(n)
    recs.append(z)
def ece(r, T): p = softmax(r["dev_z"] / T); return ECE(p.max(1), p.argmax(1) == r["dev_y"])[0]
sets = sorted({r["d"] for r in recs})
print("seeds per set:", {d: sum(r["d"] == d for r in recs) for d in sets})
print("\ncorrelation with log(oracle T), over all runs / over set means")
lo = np.log([r["oracle"] for r in recs])
for s in STATS:
    x = np.array([float(r[s]) for r in recs])
    xm = [x[[r["d"] == d for r in recs]].mean() for d in sets]; lm = [lo[[r["d"] == d for r in recs]].mean() for d in sets]
    print(f"  {s:9s} {np.corrcoef(x, lo)[0,1]:+.2f} {np.corrcoef(xm, lm)[0,1]:+.2f}")
print("  set means: " + ", ".join(f"{d} T*={np.exp(np.mean([np.log(r['oracle']) for r in recs if r['d']==d])):.2f} " + " ".join(f"{s}={np.mean([float(r[s]) for r in recs if r['d']==d]):.3f}" for s in ("gap","sil","ncacc")) for d in sets))
rows = collections.OrderedDict()
def add(name, Tof):
    rows[name] = {d: np.mean([ece(r, Tof(r)) for r in recs if r["d"] == d]) for d in sets}
add("today (LOO + prior)", lambda r: float(r["T"]))
add("oracle T (unreachable)", lambda r: r["oracle"])
add("prior alone", lambda r: r["prior"])
for s in STATS:
    def fitted(r, s=s):
        others = [q for q in recs if q["d"] != r["d"]]
        x = np.array([float(q[s]) for q in others]); y = np.log([q["oracle"] for q in others])
        b, a = np.polyfit(x, y, 1)
        return float(np.exp(a + b * float(r[s])))
    add(f"{s}: predicted T", fitted)
    for strength in (PRIOR_STRENGTH, 4 * PRIOR_STRENGTH):
        add(f"{s}: as prior, strength {strength:g}", lambda r, fitted=fitted, st=strength: fit_temperature(r["oof_z"], r["oof_y"], prior=fitted(r), strength=st))
print("\nmean dev-row ECE".ljust(40) + " ".join(d[:9].rjust(9) for d in sets) + "    worst")
for name, v in rows.items():
    print(name.ljust(40) + " ".join(f"{v[d]:9.3f}" for d in sets) + f"    {max(v.values()):.3f}")
