"""Real int8 for the shipped MiniLM: its weight matrix products rewritten to integer ones, in memory, at load.

The shipped ``model.onnx`` stores int8 weights but computes in float: each weight
is ``Cast(int8) * scale`` before a float ``MatMul``, which onnxruntime folds into
a float32 matrix once. Here each such product takes its input to uint8 and runs
``MatMulInteger`` on the same int8 weights, then scales back. The six FFN-output
products (1536 x 384) stay float: quantising them too dropped the cosine to float
from 0.995 to 0.955.

**Each text is quantised on its own.** onnxruntime's ``DynamicQuantizeLinear``
picks one scale for a whole batch, so a text's vector depended on the texts
batched with it (up to 0.027 apart, alone or in a batch; a probability moved by
0.013). Here the range is taken per text, over its real tokens only (the
attention mask), so a text gets the same vector alone, in any batch, with any
padding. The range is asymmetric (a zero point per text): the zero point's
share, ``zero_point * column sums of W``, is taken off after the integer
product, since ``MatMulInteger`` takes one zero point per tensor.

Integer products are exact, so the weights' form only picks the kernel:

- ``signed=True`` keeps the int8 weights (u8 x s8): fastest where the CPU has VNNI
  (AVX512-VNNI or AVX-VNNI), which adds u8 x s8 products into int32 directly.
- ``signed=False`` stores them as uint8 with zero point 128 (u8 x u8). Without VNNI,
  onnxruntime's u8 x s8 kernel sums pairs in int16 and can saturate (its own
  documentation says so); u8 x u8 widens first and cannot.

On a VNNI CPU the two give the same vectors bit for bit (tests/test_int8_graph.py).
The rewrite takes about 0.06 s and needs the ``onnx`` package, whose import took 0.8 s
here (more than half of a fresh ``llmclf classify``). So :func:`kept_integer_graph`
keeps the rewritten graph in the user cache dir, and a process that finds it there
never imports ``onnx``. The bytes are read back only if they hash to the digest
pinned here for the pinned MiniLM file, as the file itself is checked.
"""

from __future__ import annotations

import functools
import hashlib
import platform
from pathlib import Path

import numpy as np

from .atomic import atomic_writer
from .errors import LlmclfError
from .paths import read_kept, user_cache_dir

__all__ = [
    "INTEGER_GRAPH_BYTES",
    "INTEGER_GRAPH_SHA256",
    "INTEGER_PRODUCTS",
    "cpu_has_vnni",
    "integer_graph",
    "kept_integer_graph",
]

INTEGER_PRODUCTS = 30  # 6 layers x (Q, K, V, attention output, FFN input); the FFN outputs stay float
FLOAT_SHAPES = {(1536, 384)}  # FFN output: kept float
# integer_graph's bytes for model_files.MINILM_ONNX_SHA256's file, by ``signed``: the same from onnx 1.16.2 with
# protobuf 4.25 and onnx 1.23.2 with protobuf 7.36. A change to the rewrite changes them (tests/test_int8_graph.py).
INTEGER_GRAPH_SHA256 = {
    True: "52e0384ccc90888384e872d36fa6b3fce696cca446bdbc11ecbb84c314cd9dce",
    False: "4059eb3356f18a78d8a00d8a500a8d3a58fa3e03bc51673c867adb77958c7a82",
}
INTEGER_GRAPH_BYTES = {True: 23_029_568, False: 23_030_739}  # their sizes: a file of another size is not read


@functools.cache
def cpu_has_vnni() -> bool:
    """Whether this x86 CPU adds u8 x s8 products into int32 in one step (Linux's /proc/cpuinfo says)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            flags = next((line for line in fh if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


def kept_integer_graph(path: str | Path, signed: bool, folder: Path | None = None) -> bytes:
    """:func:`integer_graph` of ``path`` (the verified MiniLM file), from ``folder`` (the user cache dir's
    ``graphs``) when a copy there hashes to :data:`INTEGER_GRAPH_SHA256`; else made, and kept there if it hashes
    to it. A copy that does not (cut short, altered, another rewrite's) is never used, and one that cannot be
    read or written only costs the time to make the graph again."""
    expected = INTEGER_GRAPH_SHA256[signed]
    kept = (folder or user_cache_dir() / "graphs") / f"minilm-integer-{expected[:16]}.onnx"
    graph = read_kept(kept, INTEGER_GRAPH_BYTES[signed])  # of another size, not read: a huge file would be whole
    if graph is not None and hashlib.sha256(graph).hexdigest() == expected:
        return graph
    graph = integer_graph(path, signed)
    if hashlib.sha256(graph).hexdigest() == expected:
        try:
            with atomic_writer(kept, follow=False) as fh:
                fh.write(graph)
        except OSError:
            pass
    return graph


def integer_graph(path: str | Path, signed: bool) -> bytes:
    """The serialised graph of ``path`` with its int8 weight products made integer (see the module docstring)."""
    try:
        import onnx
        from onnx import TensorProto, numpy_helper
    except ImportError:
        raise LlmclfError(
            "the default embedder needs the onnx package: pip install 'onnx>=1.16' (or use --embedder minilm-float)"
        ) from None

    model = onnx.load(str(path))
    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    made_by = {out: node for node in graph.node for out in node.output}
    rewrite = _Rewrite(signed)
    rewrites = []
    for node in graph.node:
        mul = made_by.get(node.input[1]) if node.op_type == "MatMul" else None
        cast = made_by.get(mul.input[0]) if mul is not None and mul.op_type == "Mul" else None
        if cast is None or cast.op_type != "Cast" or mul.input[1] not in weights:
            continue
        stored = weights.get(cast.input[0])
        if stored is None or stored.data_type != TensorProto.INT8 or tuple(stored.dims) in FLOAT_SHAPES:
            continue
        rewrites.append((node, rewrite.product(node, numpy_helper.to_array(stored), stored.name, mul.input[1])))
    if len(rewrites) != INTEGER_PRODUCTS:
        raise LlmclfError(
            f"the MiniLM graph at {path} has {len(rewrites)} int8 weight products, not {INTEGER_PRODUCTS}: "
            "it is not the graph this rewrite was made for"
        )
    nodes = list(graph.node)
    for old, new in rewrites:
        at = nodes.index(old)
        nodes[at : at + 1] = new
    graph.ClearField("node")
    graph.node.extend(_live(rewrite.prelude() + nodes, {out.name for out in graph.output}))
    graph.initializer.extend(rewrite.constants)
    used = {name for node in graph.node for name in node.input}
    kept = [init for init in graph.initializer if init.name in used]
    graph.ClearField("initializer")
    graph.initializer.extend(kept)
    return model.SerializeToString()


class _Rewrite:
    """The nodes and constants that replace one weight product; an input read by several products (Q, K and V
    read the same one) is quantised once."""

    def __init__(self, signed: bool) -> None:
        from onnx import numpy_helper

        self.signed = signed
        constant = numpy_helper.from_array
        self.constants = [
            constant(np.array(128, dtype=np.uint8), "llmclf.int8.zero_point"),
            constant(np.array(0.0, dtype=np.float32), "llmclf.int8.zero"),
            constant(np.array(255.0, dtype=np.float32), "llmclf.int8.levels"),
            constant(np.array(1e-8, dtype=np.float32), "llmclf.int8.tiny"),
            constant(np.array([2], dtype=np.int64), "llmclf.int8.last_axis"),
            constant(np.array([-1], dtype=np.int64), "llmclf.int8.flat"),
        ]
        self.quantized: dict[str, tuple[str, str, str]] = {}  # input -> (uint8 input, scale, zero point as float)

    def prelude(self) -> list:
        """The attention mask as (batch, tokens, 1) booleans: which positions are a text's own tokens."""
        from onnx import TensorProto, helper

        return [
            helper.make_node("Cast", ["attention_mask"], ["llmclf.int8.mask"], to=TensorProto.BOOL),
            helper.make_node("Unsqueeze", ["llmclf.int8.mask", "llmclf.int8.last_axis"], ["llmclf.int8.mask3"]),
        ]

    def product(self, node, w: np.ndarray, w_name: str, w_scale: str) -> list:
        from onnx import TensorProto, helper, numpy_helper

        p = node.name or node.output[0]
        nodes = [] if node.input[0] in self.quantized else self._quantize(node.input[0], p)
        q, scale, zero = self.quantized[node.input[0]]
        column_sums = numpy_helper.from_array(w.astype(np.float32).sum(axis=0), f"{w_name}.column_sums")
        self.constants.append(column_sums)
        inputs = [q, w_name]
        if not self.signed:
            shifted = numpy_helper.from_array((w.astype(np.int16) + 128).astype(np.uint8), f"{w_name}.uint8")
            self.constants.append(shifted)
            inputs = [q, shifted.name, "", "llmclf.int8.zero_point"]
        return [
            *nodes,
            helper.make_node("MatMulInteger", inputs, [f"{p}.int32"]),
            helper.make_node("Cast", [f"{p}.int32"], [f"{p}.sum"], to=TensorProto.FLOAT),
            helper.make_node("Mul", [zero, column_sums.name], [f"{p}.zero_share"]),
            helper.make_node("Sub", [f"{p}.sum", f"{p}.zero_share"], [f"{p}.centred"]),
            helper.make_node("Mul", [f"{p}.centred", scale], [f"{p}.unscaled"]),
            helper.make_node("Mul", [f"{p}.unscaled", w_scale], [node.output[0]]),
        ]

    def _quantize(self, x: str, p: str) -> list:
        """uint8 per text: its range over its own tokens (and 0), 255 levels, a zero point of its own."""
        from onnx import TensorProto, helper

        self.quantized[x] = (f"{p}.q", f"{p}.scale", f"{p}.zero")
        return [
            helper.make_node("Where", ["llmclf.int8.mask3", x, "llmclf.int8.zero"], [f"{p}.own"]),
            helper.make_node("ReduceMin", [f"{p}.own"], [f"{p}.low"], axes=[1, 2], keepdims=1),
            helper.make_node("ReduceMax", [f"{p}.own"], [f"{p}.high"], axes=[1, 2], keepdims=1),
            helper.make_node("Sub", [f"{p}.high", f"{p}.low"], [f"{p}.range"]),
            helper.make_node("Max", [f"{p}.range", "llmclf.int8.tiny"], [f"{p}.span"]),
            helper.make_node("Div", [f"{p}.span", "llmclf.int8.levels"], [f"{p}.scale"]),
            helper.make_node("Div", [f"{p}.low", f"{p}.scale"], [f"{p}.low_steps"]),
            helper.make_node("Neg", [f"{p}.low_steps"], [f"{p}.minus_low"]),
            helper.make_node("Round", [f"{p}.minus_low"], [f"{p}.zero"]),  # 0..255: low <= 0 <= high
            helper.make_node("Cast", [f"{p}.zero"], [f"{p}.zero_u8"], to=TensorProto.UINT8),
            helper.make_node("Reshape", [f"{p}.scale", "llmclf.int8.flat"], [f"{p}.scale_1d"]),
            helper.make_node("Reshape", [f"{p}.zero_u8", "llmclf.int8.flat"], [f"{p}.zero_1d"]),
            helper.make_node("QuantizeLinear", [x, f"{p}.scale_1d", f"{p}.zero_1d"], [f"{p}.q"], axis=0),
        ]


def _live(nodes: list, outputs: set[str]) -> list:
    """``nodes`` without those whose outputs nothing reads (the float dequantisation of the rewritten weights)."""
    while True:
        read = {name for node in nodes for name in node.input} | outputs
        live = [node for node in nodes if any(out in read for out in node.output)]
        if len(live) == len(nodes):
            return live
        nodes = live
