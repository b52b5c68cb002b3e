# Exploratory (session 12): the fast embedder fitted to a pool of unlabelled train texts, against today's fast
# embedder and the default, with and without self-training on the same pool. Hybrid head, development rows.
# The token vectors of the pool's tokens move (Adam, cosine loss through a linear map that is then dropped) so that a
# text's mean vector points where MiniLM puts the text: model2vec's "tokenlearn" idea, small, in numpy.
#   POOLN=1000 python tokenlearn2.py banking77 0,1,2 10:0.01,20:0.01
import os, sys, time, numpy as np
os.environ["HF_HUB_OFFLINE"] = "1"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
from model2vec import StaticModel
from llmclf.fast_embedder import fast_model_dir
from collections.abc import Sequence
from dataclasses import dataclass
import numpy as np
import scipy.sparse as sp

MAX_TOKENS = 512  # what model2vec's encode reads of a text


@dataclass(frozen=True)
class AdaptSettings:
    epochs: int = 10
    lr: float = 1e-2
    batch_size: int = 256
    seed: int = 0
    pull: float = 0.0  # decoupled decay of each row towards its shipped vector, per step x lr


def _mean_matrix(ids: Sequence[Sequence[int]], local: dict[int, int]) -> sp.csr_matrix:
    """A (texts x corpus tokens) matrix whose product with the token vectors gives each text's mean vector."""
    indptr, cols, vals = [0], [], []
    for row in ids:
        row = list(row)[:MAX_TOKENS]
        cols.extend(local[t] for t in row)
        vals.extend([1.0 / len(row)] * len(row) if row else [])
        indptr.append(len(cols))
    return sp.csr_matrix(
        (np.asarray(vals, np.float32), np.asarray(cols, np.int64), np.asarray(indptr, np.int64)),
        shape=(len(ids), len(local)),
    )


class _Adam:
    def __init__(self, lr: float) -> None:
        self.lr, self.t, self.state = lr, 0, {}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        b1, b2, eps = 0.9, 0.999, 1e-8
        for name, g in grads.items():
            m, v = self.state.setdefault(name, (np.zeros_like(g), np.zeros_like(g)))
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            step = self.lr * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
            params[name] -= step * m / (np.sqrt(v) + eps)


def adapt_rows(
    vectors: np.ndarray,
    ids: Sequence[Sequence[int]],
    targets: np.ndarray,
    settings: AdaptSettings = AdaptSettings(),
) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and their new vectors, fitted so each text's mean vector maps onto its ``targets`` row.

    ``vectors`` is the embedder's (vocabulary x dim) matrix, ``ids`` each text's token ids, ``targets`` the
    teacher's vector of each text. Texts without tokens are skipped. Returns the sorted ids that occur in the
    corpus and their fitted vectors (float32); every other row is left as it was.
    """
    keep = [i for i, row in enumerate(ids) if len(row)]
    ids = [ids[i] for i in keep]
    targets = np.asarray(targets, np.float32)[keep]
    used = np.unique(np.fromiter((t for row in ids for t in list(row)[:MAX_TOKENS]), dtype=np.int64))
    if not len(used):
        return used, np.zeros((0, vectors.shape[1]), np.float32)
    local = {int(t): i for i, t in enumerate(used)}
    A = _mean_matrix(ids, local)
    Y = targets / np.maximum(np.linalg.norm(targets, axis=1, keepdims=True), 1e-12)
    rng = np.random.default_rng(settings.seed)
    dim, out = vectors.shape[1], Y.shape[1]
    bound = 1.0 / np.sqrt(dim)
    params = {
        "rows": vectors[used].astype(np.float32),
        "map": rng.uniform(-bound, bound, (dim, out)).astype(np.float32),
        "bias": rng.uniform(-bound, bound, out).astype(np.float32),
    }
    shipped = params["rows"].copy()
    adam = _Adam(settings.lr)
    for _ in range(settings.epochs):
        order = rng.permutation(len(ids))
        for start in range(0, len(order), settings.batch_size):
            batch = order[start : start + settings.batch_size]
            a, y = A[batch], Y[batch]
            pooled = np.asarray(a @ params["rows"])
            o = pooled @ params["map"] + params["bias"]
            norm = np.maximum(np.linalg.norm(o, axis=1, keepdims=True), 1e-12)
            cos = np.sum(o * y, axis=1, keepdims=True) / norm
            # loss = mean(1 - cos): its gradient with respect to each output
            grad_o = -(y / norm - cos * o / norm**2) / len(batch)
            grad_pooled = grad_o @ params["map"].T
            adam.step(
                params,
                {"rows": np.asarray(a.T @ grad_pooled), "map": pooled.T @ grad_o, "bias": grad_o.sum(axis=0)},
            )
            if settings.pull:
                params["rows"] -= settings.lr * settings.pull * (params["rows"] - shipped)
    return used, params["rows"]



M = StaticModel.from_pretrained(str(fast_model_dir()), force_download=False)
W0 = np.asarray(M.embedding, np.float32)
POOLN = int(os.environ.get("POOLN", "1000")); ST = os.environ.get("ST", "0,1")


class E:
    def __init__(s, W, name): s.W = W; s.id = "tl-" + name; s.dim = W.shape[1]; s.normalized = True; s.c = {}
    def embed(s, texts):
        miss = [t for t in dict.fromkeys(texts) if t not in s.c]
        for t, tk in zip(miss, M.tokenize(miss)):
            v = s.W[tk[:512]].mean(0) if tk else np.zeros(s.dim, np.float32)
            s.c[t] = (v / max(np.linalg.norm(v), 1e-12)).astype(np.float32)
        return np.stack([s.c[t] for t in texts]) if texts else np.zeros((0, s.dim), np.float32)


d = sys.argv[1]; seeds = [int(x) for x in sys.argv[2].split(",")]
cfgs = [tuple(c.split(":")) for c in sys.argv[3].split(",")]
labels, descs, pool, dev = data(d); K = 10 if d == "banking77" else 8
POOLT = [r["text"] for r in (shuffled(pool, 1)[:POOLN] if POOLN else pool)]
z = np.load(f"{CACHE}/minilm-l6-v2-int8-onnx-{d}.npz", allow_pickle=True); tv = dict(zip(z["texts"].tolist(), z["V"]))
variants = {"today": W0}
for cfg in cfgs:
    ep, lr, pull = (cfg + ("0",))[:3]
    t0 = time.time()
    used, rows = adapt_rows(W0, M.tokenize(POOLT), np.stack([tv[t] for t in POOLT]), AdaptSettings(int(ep), float(lr), pull=float(pull)))
    W = W0.copy(); W[used] = rows.astype(np.float16).astype(np.float32); variants[f"e{ep}lr{lr}p{pull}"] = W
    print(f"  e{ep} lr{lr} p{pull}: {time.time()-t0:.1f}s, {len(used)} tokens", flush=True)
res = {}
default = NpzEmbedder(d)
for seed in seeds:
    rows = k_per_class(pool, K, seed=seed)
    for st in [s == "1" for s in ST.split(",")]:
        for name, W in [("default", None)] + list(variants.items()):
            emb = default if W is None else E(W, name)
            rep, *_ = run(emb, labels, descs, rows, dev, unlabeled=POOLT if st else None)
            res.setdefault(f"{name}{'+st' if st else ''}", []).append(rep.accuracy)
    print(d, seed, " | ".join(f"{n} {v[-1]:.3f}" for n, v in res.items()), flush=True)
print(d, f"POOLN={POOLN} K={K} seeds={seeds}", " | ".join(f"{n} {np.mean(v):.3f}" for n, v in res.items()), flush=True)
