# Exploratory, run as-is from a scratch folder on 2026-11-24 (see README.md here); only paths were edited.
import os
CACHE = os.environ.get("LLMCLF_DEV_CACHE", "/tmp/llmclf-dev")
exec(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "anal.py")).read().split("files = sorted")[0])
import glob, collections
for K in ("8", "64"):
    files = sorted(f for f in glob.glob(f"{CACHE}/oof/*.npz") if f"-{K}-" in f)
    data = {f: dict(np.load(f)) for f in files}
    keys = ["oof8", "oof1000"] if K == "8" else ["oof10"]
    for key in keys:
        for T0, lam in ((1.0, 0), (0.5 if K == "8" else 0.68, 20)):
            per = collections.defaultdict(list); raw = collections.defaultdict(list)
            for f, z in data.items():
                T = mapT(z[key+"_z"], z[key+"_y"], T0, lam)
                d = f.split("/")[-1].split("-")[0]
                per[d].append(ece(z["dev_z"], z["dev_y"], T)); raw[d].append(ece(z["dev_z"], z["dev_y"], 1.0))
            print(K, key, T0, lam, " ".join(f"{d} {np.mean(v):.3f}" for d, v in per.items()), "| raw", " ".join(f"{d} {np.mean(v):.3f}" for d, v in raw.items()))
