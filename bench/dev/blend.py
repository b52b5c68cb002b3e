# Exploratory (session 8), DEV rows: averaging the log-probabilities of the fine-tuned head (ftcal.py) and the frozen
# default (oof2.py) on banking77 10-shot, the same train samples (seeds 0, 1), each at T = 0.52.
import numpy as np
from llmclf.head import softmax
for seed in (0, 1):
    a = dict(np.load(f"/tmp/llmclf-dev/ftcal/banking77-10-{seed}.npz")); b = dict(np.load(f"/tmp/llmclf-dev/oof2/banking77-10-{seed}.npz"))
    assert (a["dev_y"] == b["dev_y"]).all()
    y = a["dev_y"]
    acc = lambda p: (p.argmax(1) == y).mean()
    pa, pb = softmax(a["dev_z"] / 0.52), softmax(b["dev_z"] / 0.52)
    print(seed, "tuned", acc(pa), "frozen", acc(pb), " ".join(f"w{w}:{acc(w*np.log(pa)+(1-w)*np.log(pb)):.3f}" for w in (0.3, 0.5, 0.7)))
