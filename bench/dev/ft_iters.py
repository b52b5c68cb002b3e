# Exploratory (2026-11-24, session 6): fine-tune pair iterations on DEV rows (common.data), 8-shot + descriptions.
# python ft_iters.py trec,emotion 5,15 0,1,2     ("fill": as many iterations as MAX_PAIRS holds)
import sys
from common import *
import llmclf.finetune as ft

sets, iters, seeds = sys.argv[1].split(","), [10000 if x == "fill" else int(x) for x in sys.argv[2].split(",")], [int(x) for x in sys.argv[3].split(",")]
for d in sets:
    labels, descs, pool, dev = data(d)
    k = 10 if d == "banking77" else 8
    for it in iters:
        if hasattr(ft, "MAX_ROUNDS"):  # after the change: rounds fill a budget of pairs within MIN/MAX_ROUNDS
            fixed = it != 10000
            ft.MIN_ROUNDS, ft.MAX_ROUNDS = (it, it) if fixed else (5, 40)
            ft.finetune_minilm.__kwdefaults__["pairs"] = 10**9 if fixed else 4000
        else:
            ft.finetune_minilm.__kwdefaults__["iterations"] = it
        accs, fits = [], []
        for seed in seeds:
            rows = k_per_class(pool, k, seed=seed)
            rep, fit, _, clf = run(None, labels, descs, rows, dev, finetune=True)
            accs.append(rep.accuracy); fits.append(fit)
            print(d, it, seed, f"{rep.accuracy:.3f}", f"ece {rep.ece:.3f}", f"fit {fit:.0f}s", clf.manifest()["training"].get("finetune"), flush=True)
        print("==", d, "iterations", it, "mean", f"{np.mean(accs):.3f}", "fit", f"{np.mean(fits):.0f}s", flush=True)
