# Exploratory (2026-11-24, session 7), on DEV rows (common.data). See README.md here.
import os, sys, numpy as np, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
from llmclf.embedding import get_embedder, l2_normalize
d = sys.argv[1]
z = np.load(f"{CACHE}/minilm-l6-v2-int8-onnx-{d}.npz", allow_pickle=True)
texts = z["texts"].tolist()
e = get_embedder(None); e._load()
tok, sess = e._tokenizer, e._session
encs = tok.encode_batch(texts)
order = np.argsort([len(x.ids) for x in encs], kind="stable")
MAX = np.zeros((len(texts), 384), np.float32); CLS = MAX.copy(); NOSP = MAX.copy()
t = time.time()
for s in range(0, len(order), 32):
    idx = order[s:s+32]; b = [encs[i] for i in idx]; w = max(len(x.ids) for x in b)
    ids = np.zeros((len(b), w), np.int64); m = np.zeros_like(ids)
    for r, x in enumerate(b): ids[r, :len(x.ids)] = x.ids; m[r, :len(x.ids)] = 1
    (h,) = sess.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": m, "token_type_ids": np.zeros_like(ids)})
    mm = m[:, :, None].astype(bool)
    MAX[idx] = np.where(mm, h, -1e9).max(axis=1)
    CLS[idx] = h[:, 0]
    inner = m.copy(); inner[:, 0] = 0
    for r, x in enumerate(b): inner[r, len(x.ids)-1] = 0
    mi = inner[:, :, None].astype(np.float32)
    NOSP[idx] = (h * mi).sum(1) / np.maximum(mi.sum(1), 1)
print(d, time.time() - t)
np.savez(f"{CACHE}/pools-{d}.npz", texts=np.array(texts, dtype=object), MAX=l2_normalize(MAX), CLS=l2_normalize(CLS), NOSP=l2_normalize(NOSP))
