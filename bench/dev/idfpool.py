# Exploratory (session 12): MiniLM's token outputs pooled with weights from the labelled texts' own token
# statistics (IDF or SIF), in place of or beside the mean. Hybrid head, development rows.
#   python idfpool.py banking77 10 0,1,2 "mean;idf;sif:0.001;mean+idf"
import os, sys, numpy as np, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
from llmclf.embedding import get_embedder, l2_normalize
d, K = sys.argv[1], int(sys.argv[2]); seeds = [int(s) for s in sys.argv[3].split(",")]; variants = sys.argv[4].split(";")
labels, descs, pool, dev = data(d)
path = f"{CACHE}/tokens-{d}.npz"
if not os.path.exists(path):
    z = np.load(f"{CACHE}/minilm-l6-v2-int8-onnx-{d}.npz", allow_pickle=True)
    texts = z["texts"].tolist()
    e = get_embedder(None); e._load(); tok, sess = e._tokenizer, e._session
    encs = tok.encode_batch(texts); order = np.argsort([len(x.ids) for x in encs], kind="stable")
    H = [None] * len(texts); IDS = [None] * len(texts); t = time.time()
    for s in range(0, len(order), 32):
        idx = order[s:s+32]; b = [encs[i] for i in idx]; w = max(len(x.ids) for x in b)
        ids = np.zeros((len(b), w), np.int64); m = np.zeros_like(ids)
        for r, x in enumerate(b): ids[r, :len(x.ids)] = x.ids; m[r, :len(x.ids)] = 1
        (h,) = sess.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": m, "token_type_ids": np.zeros_like(ids)})
        for r, i in enumerate(idx):
            n = len(b[r].ids); H[i] = h[r, :n].astype(np.float16); IDS[i] = np.array(b[r].ids, np.int32)
    print("tokens in", round(time.time() - t), "s", flush=True)
    lens = np.array([len(x) for x in IDS]); off = np.concatenate([[0], np.cumsum(lens)])
    np.savez(path, texts=np.array(texts, dtype=object), H=np.concatenate(H), IDS=np.concatenate(IDS), off=off)
z = np.load(path, allow_pickle=True)
TEXTS = z["texts"].tolist(); HH = z["H"]; II = z["IDS"]; OFF = z["off"]; AT = {t: i for i, t in enumerate(TEXTS)}


def pooled(texts, weight):
    out = np.zeros((len(texts), HH.shape[1]), np.float32)
    for j, t in enumerate(texts):
        i = AT[t]; h = HH[OFF[i]:OFF[i+1]].astype(np.float32); ids = II[OFF[i]:OFF[i+1]]
        w = weight(ids)
        out[j] = (w[:, None] * h).sum(0) / max(w.sum(), 1e-9)
    return l2_normalize(out)


class E:
    def __init__(s, name, parts): s.id = "pool-" + name; s.parts = parts; s.normalized = True; s.dim = 384 * len(parts)
    def embed(s, texts):
        texts = list(texts)
        if not texts: return np.zeros((0, s.dim), np.float32)
        return np.hstack([scale * pooled(texts, w) for w, scale in s.parts]) / np.sqrt(sum(sc**2 for _, sc in s.parts))


def weights_from(texts, kind, a=1e-3):
    df = {}; cnt = {}; total = 0
    for t in texts:
        ids = II[OFF[AT[t]]:OFF[AT[t]+1]][1:-1]
        for x in set(ids.tolist()): df[x] = df.get(x, 0) + 1
        for x in ids.tolist(): cnt[x] = cnt.get(x, 0) + 1; total += 1
    N = len(texts)
    if kind == "idf":
        f = lambda x: np.log((1 + N) / (1 + df.get(x, 0))) + 1
    else:
        f = lambda x: a / (a + cnt.get(x, 0) / total)
    def weight(ids):
        w = np.array([f(x) for x in ids.tolist()], np.float32)
        w[0] = w[-1] = np.mean(w[1:-1]) if len(w) > 2 else 1.0  # [CLS], [SEP]: the mean weight
        return w
    return weight


res = {}
for seed in seeds:
    rows = k_per_class(pool, K, seed=seed)
    corpus = [r["text"] for r in rows] + [descs[l] for l in labels if descs and descs.get(l)]
    mean = lambda ids: np.ones(len(ids), np.float32)
    for v in variants:
        parts = []
        for p in v.split("+"):
            name, _, arg = p.partition(":")
            sc = 1.0
            if "*" in name: name, sc = name.split("*"); sc = float(sc)
            w = mean if name == "mean" else weights_from(corpus, name, float(arg or 1e-3))
            parts.append((w, sc))
        rep, *_ = run(E(v + str(seed), parts), labels, descs, rows, dev)
        res.setdefault(v, []).append(rep.accuracy)
    print(d, seed, " | ".join(f"{n} {a[-1]:.3f}" for n, a in res.items()), flush=True)
print(d, K, seeds, " | ".join(f"{n} {np.mean(a):.3f}" for n, a in res.items()), flush=True)
