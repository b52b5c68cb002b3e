# Exploratory (session 13): does self-training (--unlabeled) gain or lose with a bigger pool than the 1,000 texts
# it was measured with? 8-shot (banking77 10) + descriptions, seeds 0-2, pools drawn as st3.py draws them.
#   python poolsize.py trec,ag_news,emotion,banking77 1000,4000,15000   (KSHOT=64 for 64 per class)
# "4000w" takes 4,000 texts with the pseudo-label weight scaled by 1,000/4,000 (the same total weight as 1,000).
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
os.environ["LLMCLF_VECTOR_CACHE"] = "1"  # the product's own vector cache: each pool text is embedded once
os.environ.setdefault("LLMCLF_HOME", "/tmp/llmclf-dev/home")
import llmclf.self_training as S
W = S.PSEUDO_WEIGHT
ds = sys.argv[1].split(","); sizes = sys.argv[2].split(",")
for d in ds:
    labels, descs, pool, dev = data(d); K = int(os.environ.get("KSHOT", 10 if d == "banking77" else 8))
    accs = {}
    for seed in (0, 1, 2):
        rows = k_per_class(pool, K, seed=seed)
        used = {r["text"] for r in rows}
        unl = [r["text"] for r in shuffled(pool, 50 + seed) if r["text"] not in used]
        accs.setdefault("none", []).append(run(None, labels, descs, rows, dev)[0].accuracy)
        for size in sizes:
            n = int(size.rstrip("w"))
            if n > len(unl):
                continue
            S.PSEUDO_WEIGHT = W * 1000 / n if size.endswith("w") else W
            rep, fit, _, _ = run(None, labels, descs, rows, dev, unlabeled=unl[:n])
            accs.setdefault(size, []).append(rep.accuracy)
        print(d, seed, {k: round(float(np.mean(v)), 3) for k, v in accs.items()}, flush=True)
    print("==", d, " | ".join(f"{k}: {np.mean(v):.3f}" for k, v in accs.items()), flush=True)
