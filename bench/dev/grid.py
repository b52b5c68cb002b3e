# Exploratory, run as-is from a scratch folder on 2026-11-24 (see README.md here); only paths were edited.
import os
CACHE = os.environ.get("LLMCLF_DEV_CACHE", "/tmp/llmclf-dev")
exec(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "anal.py")).read().split("files = sorted")[0])
import glob, collections
K = "8"
files = sorted(f for f in glob.glob(f"{CACHE}/oof/*.npz") if f"-{K}-" in f)
data = {f: dict(np.load(f)) for f in files}
res = []
for key in ("oof8", "oof1000"):
    for T0 in (0.4, 0.5, 0.6, 0.7):
        for lam in (10, 20, 50, 100, 200):
            per = collections.defaultdict(list)
            for f, z in data.items():
                T = mapT(z[key+"_z"], z[key+"_y"], T0, lam)
                per[f.split("/")[-1].split("-")[0]].append(ece(z["dev_z"], z["dev_y"], T))
            means = {d: np.mean(v) for d, v in per.items()}
            res.append((max(means.values()), key, T0, lam, " ".join(f"{d[:4]} {m:.3f}" for d, m in means.items())))
for r in sorted(res)[:10]: print(r)
