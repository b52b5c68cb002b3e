# Exploratory (session 12): the fast embedder's token vectors trained to reproduce MiniLM's sentence vectors on a
# corpus of texts (tokenlearn-style), against today's build. Hybrid head, development rows.
#   python tokenlearn.py banking77 0,1,2 other,labelled,pool
# corpus "other": the train texts of the five OTHER shared sets (never the evaluated set's, never any dev row);
# "labelled": only the k-shot texts and descriptions of that seed (what `train --embedder fast` could do);
# "pool": the evaluated set's own train texts with labels dropped (dev rows excluded), an in-domain bound.
import os, sys, time, numpy as np
os.environ["HF_HUB_OFFLINE"] = "1"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
import torch
from safetensors.numpy import load_file
from tokenizers import Tokenizer
from llmclf.fast_embedder import fast_model_dir

torch.set_num_threads(2)
SETS = ["banking77", "trec", "emotion", "sst2", "ag_news", "snips"]
FAST = fast_model_dir()
W0 = load_file(str(FAST / "model.safetensors"))["embeddings"].astype(np.float32)
TOK = Tokenizer.from_file(str(FAST / "tokenizer.json"))
TOK.no_padding(); TOK.no_truncation()
UNK = TOK.token_to_id("[UNK]")
EPOCHS = int(os.environ.get("EPOCHS", "3")); LR = float(os.environ.get("LR", "1e-3"))
LOSS = os.environ.get("LOSS", "cos")
POOLN = int(os.environ.get("POOLN", "0"))  # 0: the whole pool; else the first POOLN texts of a seed-1 shuffle
ST = os.environ.get("ST") == "1"  # also self-train the head on the same pool texts


def ids(texts):
    out = []
    for e in TOK.encode_batch(list(texts), add_special_tokens=False):
        out.append([i for i in e.ids[:512] if i != UNK] or [UNK])
    return out


def teacher(d):
    z = np.load(f"{CACHE}/minilm-l6-v2-int8-onnx-{d}.npz", allow_pickle=True)
    return dict(zip(z["texts"].tolist(), z["V"]))


def train(texts, targets, seed=0):
    torch.manual_seed(seed)
    emb = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(W0), freeze=False, mode="mean")
    head = torch.nn.Linear(W0.shape[1], targets.shape[1])
    opt = torch.optim.Adam(list(emb.parameters()) + list(head.parameters()), lr=LR)
    toks = ids(texts); Y = torch.tensor(targets)
    n = len(toks); bs = 256
    for ep in range(EPOCHS):
        order = np.random.default_rng(seed + ep).permutation(n)
        for s in range(0, n, bs):
            b = order[s:s + bs]
            flat = torch.tensor([i for j in b for i in toks[j]])
            offs = torch.tensor(np.cumsum([0] + [len(toks[j]) for j in b[:-1]]))
            out = head(emb(flat, offs))
            if LOSS == "cos":
                loss = 1 - torch.nn.functional.cosine_similarity(out, Y[b]).mean()
            else:
                loss = ((out - Y[b]) ** 2).sum(1).mean()
            opt.zero_grad(); loss.backward(); opt.step()
    return emb.weight.detach().numpy().copy()


class E:
    def __init__(s, W, name): s.W = W; s.id = "tl-" + name; s.dim = W.shape[1]; s.normalized = True; s.c = {}
    def embed(s, texts):
        miss = [t for t in dict.fromkeys(texts) if t not in s.c]
        for t, tk in zip(miss, ids(miss)):
            v = s.W[tk].mean(0); s.c[t] = (v / max(np.linalg.norm(v), 1e-12)).astype(np.float32)
        return np.stack([s.c[t] for t in texts]) if texts else np.zeros((0, s.dim), np.float32)


d = sys.argv[1]; seeds = [int(x) for x in sys.argv[2].split(",")]; corpora = sys.argv[3].split(",")
labels, descs, pool, dev = data(d); K = 10 if d == "banking77" else 8
devtexts = {r["text"] for r in dev}
POOLT = [r["text"] for r in (shuffled(pool, 1)[:POOLN] if POOLN else pool)]
res = {}
for seed in seeds:
    rows = k_per_class(pool, K, seed=seed)
    variants = {"today": W0}
    for c in corpora:
        t0 = time.time()
        if c == "other":
            key = f"{CACHE}/tl-other-{d}-{EPOCHS}-{LR}-{LOSS}.npy"
            if os.path.exists(key):
                variants[c] = np.load(key); continue
            T, Y = [], []
            for o in SETS:
                if o == d: continue
                _, _, opool, odev = data(o); tv = teacher(o)
                for r in opool:
                    T.append(r["text"]); Y.append(tv[r["text"]])
            W = train(T, np.stack(Y)); np.save(key, W)
        elif c == "pool":
            key = f"{CACHE}/tl-pool-{d}-{EPOCHS}-{LR}-{LOSS}-{POOLN}.npy"
            if os.path.exists(key):
                variants[c] = np.load(key); continue
            tv = teacher(d); T = POOLT
            W = train(T, np.stack([tv[t] for t in T]))
            np.save(key, W)
        elif c == "labelled":
            from llmclf.embedding import get_embedder
            tv = teacher(d)
            T = [r["text"] for r in rows] + [descs[l] for l in labels if descs and descs.get(l)]
            Y = np.stack([tv[t] if t in tv else get_embedder("minilm-float").embed([t])[0] for t in T])
            W = train(T, Y, seed)
        variants[c] = W
        print(f"  {c}: trained in {time.time() - t0:.0f}s", flush=True)
    for name, W in variants.items():
        rep, *_ = run(E(W, name + str(seed)), labels, descs, rows, dev, unlabeled=POOLT if ST else None)
        res.setdefault(name, []).append(rep.accuracy)
    print(d, seed, " | ".join(f"{n} {v[-1]:.3f}" for n, v in res.items()), flush=True)
print(d, f"EPOCHS={EPOCHS} LR={LR} LOSS={LOSS} POOLN={POOLN} ST={ST}", " | ".join(f"{n} {np.mean(v):.3f}" for n, v in res.items()), flush=True)
