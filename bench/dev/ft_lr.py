# Exploratory (session 12): --finetune's learning rate (2e-5 today) on banking77 10-shot development rows.
#   python ft_lr.py banking77 0 2e-5,5e-5
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
import llmclf.finetune as ft
d = sys.argv[1]; seeds = [int(s) for s in sys.argv[2].split(",")]; lrs = [float(x) for x in sys.argv[3].split(",")]
labels, descs, pool, dev = data(d); K = 10 if d == "banking77" else 8
from llmclf.embedding import get_embedder
for seed in seeds:
    rows = k_per_class(pool, K, seed=seed)
    out = []
    for lr in lrs:
        ft.LEARNING_RATE = lr
        rep, fit, _, _ = run(None, labels, descs, rows, dev, finetune=True)
        out.append(f"lr {lr:g}: {rep.accuracy:.3f} ({fit:.0f}s)")
        print(d, seed, " | ".join(out), flush=True)
