"""Test models built with the `onnx` helpers, with data and ONNX Runtime Python's outputs on them.

`python ci/models.py OUTDIR` writes, per case, OUTDIR/<name>.onnx and OUTDIR/<name>.json:
  {"model": "<name>.onnx", "rows": R, "batched": true|false,
   "inputs":   {"<input>":  {"dtype": "<onnx element type>", "shape": [per-row shape], "values": [[row values...], ...]}},
   "expected": {"<output>": {"dtype": ..., "shape": [per-row shape], "values": [[row values...], ...]}}}
Every per-row value list is flattened row-major. Floats round-trip exactly (json writes repr).
A sequence-of-maps output has "dtype": "map", "key": "int64"|"string", "value": "float32", and per row
a list of [key, value] pairs in ONNX Runtime's order. An unbatched case (a model without a batch
dimension) runs each row on its own, its whole tensor per row.
Cases named in EXTERNAL keep their larger weights in an ONNX external data file, at the location
EXTERNAL gives, relative to OUTDIR.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # ONNX Runtime 1.23 loads up to IR 11; 8 keeps the models loadable by older runtimes too.
FLOAT = {np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE}


def _model(nodes, inputs, outputs, initializers, name, extra_opsets=()):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=initializers)
    opsets = [helper.make_opsetid("", OPSET), *extra_opsets]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="sparkort-tests")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def _value(name, dtype, dims):
    return helper.make_tensor_value_info(name, FLOAT[dtype], ["N", *dims])


def _dense(nodes, inits, x, weights, bias, tag):
    inits += [numpy_helper.from_array(weights, f"W{tag}"), numpy_helper.from_array(bias, f"b{tag}")]
    nodes += [helper.make_node("MatMul", [x, f"W{tag}"], [f"mm{tag}"]), helper.make_node("Add", [f"mm{tag}", f"b{tag}"], [f"h{tag}"])]
    return f"h{tag}"


def mlp_model(n_in=64, hidden=256, n_out=10, seed=7):
    """MLP n_in -> hidden -> hidden -> n_out with ReLU and a softmax: input "features", output "probabilities"."""
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    sizes = [n_in, hidden, hidden, n_out]
    x = "features"
    for layer, (a, b) in enumerate(zip(sizes, sizes[1:])):
        w = (rng.standard_normal((a, b)) * 0.1).astype(np.float32)
        x = _dense(nodes, inits, x, w, (rng.standard_normal(b) * 0.1).astype(np.float32), layer)
        if layer < 2:
            nodes.append(helper.make_node("Relu", [x], [f"r{layer}"]))
            x = f"r{layer}"
    nodes.append(helper.make_node("Softmax", [x], ["probabilities"], axis=-1))
    return _model(nodes, [_value("features", np.float32, [n_in])], [_value("probabilities", np.float32, [n_out])], inits, "mlp")


def linear_model(n_in=8, seed=3):
    """score = features @ W + b: input "features" [N, n_in], output "score" [N, 1]."""
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    out = _dense(nodes, inits, "features", rng.standard_normal((n_in, 1)).astype(np.float32), rng.standard_normal(1).astype(np.float32), 0)
    nodes.append(helper.make_node("Identity", [out], ["score"]))
    return _model(nodes, [_value("features", np.float32, [n_in])], [_value("score", np.float32, [1])], inits, "linear")


def build_mlp(path, n_in=64, hidden=256, n_out=10, seed=7):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    onnx.save(mlp_model(n_in, hidden, n_out, seed), str(path))


def build_linear(path, n_in=8, seed=3):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    onnx.save(linear_model(n_in, seed), str(path))


def _double_affine():
    rng = np.random.default_rng(11)
    nodes, inits = [], []
    out = _dense(nodes, inits, "x", rng.standard_normal((4, 3)), rng.standard_normal(3), 0)
    nodes.append(helper.make_node("Identity", [out], ["y"]))
    return _model(nodes, [_value("x", np.float64, [4])], [_value("y", np.float64, [3])], inits, "double_affine")


def _two_inputs():
    nodes = [
        helper.make_node("Add", ["a", "b"], ["sum"]),
        helper.make_node("ReduceSumSquare", ["a"], ["norm"], axes=[1], keepdims=0),
    ]
    inputs = [_value("a", np.float32, [3]), _value("b", np.float32, [1])]
    return _model(nodes, inputs, [_value("sum", np.float32, [3]), _value("norm", np.float32, [])], [], "two_inputs")


def _scalar_in():
    inits = [numpy_helper.from_array(np.array([2.5], np.float32), "k"), numpy_helper.from_array(np.array([1.0], np.float32), "c")]
    nodes = [helper.make_node("Mul", ["x", "k"], ["kx"]), helper.make_node("Add", ["kx", "c"], ["y"])]
    return _model(nodes, [_value("x", np.float32, [1])], [_value("y", np.float32, [1])], inits, "scalar_in")


def _unseen_mlp():
    """A hold-out architecture: 20 -> 16 tanh -> 5 sigmoid."""
    rng = np.random.default_rng(2024)
    nodes, inits = [], []
    inits += [numpy_helper.from_array(rng.standard_normal((20, 16)).astype(np.float32) * 0.3, "W0"),
              numpy_helper.from_array(rng.standard_normal((16, 5)).astype(np.float32) * 0.3, "W1")]
    nodes += [helper.make_node("MatMul", ["pixels", "W0"], ["m0"]), helper.make_node("Tanh", ["m0"], ["t0"]),
              helper.make_node("MatMul", ["t0", "W1"], ["m1"]), helper.make_node("Sigmoid", ["m1"], ["out"])]
    return _model(nodes, [_value("pixels", np.float32, [20])], [_value("out", np.float32, [5])], inits, "unseen_mlp")


# Models saved with external data: name -> data file location, relative to the .onnx file.
EXTERNAL = {"external_mlp": "external_mlp_data/weights.bin"}


def save(model, path):
    """Writes the model, and for an EXTERNAL case its weights (tensors of 256 bytes or more) to its data file."""
    path = Path(path)
    location = EXTERNAL.get(path.stem)
    if location is None:
        onnx.save(model, str(path))
        return
    (path.parent / location).parent.mkdir(parents=True, exist_ok=True)
    (path.parent / location).unlink(missing_ok=True)  # onnx appends to an existing data file
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    onnx.save_model(copy, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=location, size_threshold=256)


# Every element type sparkort exchanges, with numpy's type and ONNX's code.
ELEMENT_TYPES = {
    "float32": (np.float32, TensorProto.FLOAT),
    "float64": (np.float64, TensorProto.DOUBLE),
    "float16": (np.float16, TensorProto.FLOAT16),
    "int8": (np.int8, TensorProto.INT8),
    "int16": (np.int16, TensorProto.INT16),
    "int32": (np.int32, TensorProto.INT32),
    "int64": (np.int64, TensorProto.INT64),
    "uint8": (np.uint8, TensorProto.UINT8),
    "uint16": (np.uint16, TensorProto.UINT16),
    "uint32": (np.uint32, TensorProto.UINT32),
    "uint64": (np.uint64, TensorProto.UINT64),
    "bool": (np.bool_, TensorProto.BOOL),
    "string": (np.object_, TensorProto.STRING),
}


def _passthrough(dtype):
    """x: dtype [N, 3] -> same = x, first = x[:, 0] ([N]): every element type in and out, one scalar output."""
    code = ELEMENT_TYPES[dtype][1]
    nodes = [helper.make_node("Identity", ["x"], ["same"]), helper.make_node("Gather", ["x", "zero"], ["first"], axis=1)]
    inits = [numpy_helper.from_array(np.array(0, np.int64), "zero")]
    inputs = [helper.make_tensor_value_info("x", code, ["N", 3])]
    outputs = [helper.make_tensor_value_info("same", code, ["N", 3]), helper.make_tensor_value_info("first", code, ["N"])]
    return _model(nodes, inputs, outputs, inits, f"passthrough_{dtype}")


def _values(rng, dtype, shape):
    np_type = ELEMENT_TYPES[dtype][0]
    if dtype == "string":
        words = np.array(["", "a", "zebra", "naïve", "日本", "x" * 40])
        return rng.choice(words, size=shape).astype(object)
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if dtype.startswith("float"):
        return (rng.standard_normal(shape) * 100).astype(np_type)
    info = np.iinfo(np_type)
    # Spark has no unsigned 64-bit type: uint64 inputs come from bigint columns, so stay below 2^63.
    high = min(int(info.max), 2**63 - 1)
    values = rng.integers(int(info.min), high, size=shape, dtype=np.int64 if dtype != "uint64" else np.uint64, endpoint=True)
    values.flat[:2] = [info.min, high]  # the ends of the range must survive the trip
    return values.astype(np_type)


def _nd_transpose():
    """x: float32 [N, 2, 3] -> t = x transposed per row ([N, 3, 2]), total = sum per row ([N])."""
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 1]),
        helper.make_node("ReduceSum", ["x", "axes"], ["total"], keepdims=0),
    ]
    inits = [numpy_helper.from_array(np.array([1, 2], np.int64), "axes")]
    return _model(nodes, [_value("x", np.float32, [2, 3])], [_value("t", np.float32, [3, 2]), _value("total", np.float32, [])], inits, "nd_transpose")


def _unbatched():
    """No batch axis: x: float32 [3, 4] (one row's whole tensor) -> columns = sum over axis 0 ([4]), total ([])."""
    nodes = [
        helper.make_node("ReduceSum", ["x", "axis0"], ["columns"], keepdims=0),
        helper.make_node("ReduceSum", ["x"], ["total"], keepdims=0),
    ]
    inits = [numpy_helper.from_array(np.array([0], np.int64), "axis0")]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4])]
    outputs = [helper.make_tensor_value_info("columns", TensorProto.FLOAT, [4]), helper.make_tensor_value_info("total", TensorProto.FLOAT, [])]
    return _model(nodes, inputs, outputs, inits, "unbatched")


def _zipmap():
    """x: float32 [N, 3] -> softmax probabilities as ZipMaps keyed by int64 and by string labels."""
    nodes = [
        helper.make_node("Softmax", ["x"], ["p"], axis=1),
        helper.make_node("ZipMap", ["p"], ["by_id"], domain="ai.onnx.ml", classlabels_int64s=[10, 20, 30]),
        helper.make_node("ZipMap", ["p"], ["by_name"], domain="ai.onnx.ml", classlabels_strings=["cat", "dog", "émeu"]),
    ]
    outputs = [
        helper.make_value_info("by_id", helper.make_sequence_type_proto(helper.make_map_type_proto(TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, [])))),
        helper.make_value_info("by_name", helper.make_sequence_type_proto(helper.make_map_type_proto(TensorProto.STRING, helper.make_tensor_type_proto(TensorProto.FLOAT, [])))),
    ]
    return _model(nodes, [_value("x", np.float32, [3])], outputs, [], "zipmap", [helper.make_opsetid("ai.onnx.ml", 1)])


def _byte_sum():
    """x: uint8 [N, 8] (a binary column's bytes) -> total: int32 [N]."""
    nodes = [helper.make_node("Cast", ["x"], ["wide"], to=TensorProto.INT32), helper.make_node("ReduceSum", ["wide", "axes"], ["total"], keepdims=0)]
    inits = [numpy_helper.from_array(np.array([1], np.int64), "axes")]
    inputs = [helper.make_tensor_value_info("x", TensorProto.UINT8, ["N", 8])]
    return _model(nodes, inputs, [helper.make_tensor_value_info("total", TensorProto.INT32, ["N"])], inits, "byte_sum")


def _half_weights():
    """y = x + float(W), W a float16 and a bfloat16 weight [64]: initializers of 16-bit float types."""
    rng = np.random.default_rng(16)
    w16 = numpy_helper.from_array(rng.standard_normal(64).astype(np.float16), "w16")
    bf = helper.make_tensor("wbf", TensorProto.BFLOAT16, [64], rng.integers(0x3c00, 0x4000, size=64).astype(np.uint16).tobytes(), raw=True)
    nodes = [helper.make_node("Cast", ["w16"], ["w16f"], to=TensorProto.FLOAT),
             helper.make_node("Cast", ["wbf"], ["wbff"], to=TensorProto.FLOAT),
             helper.make_node("Add", ["x", "w16f"], ["xw"]), helper.make_node("Add", ["xw", "wbff"], ["y"])]
    return _model(nodes, [_value("x", np.float32, [64])], [_value("y", np.float32, [64])], [w16, bf], "half_weights")


def _row_sum(width):
    """x: float32 [N, width] (width None: symbolic) -> total = the row's sum ([N]): rows as large as a test wants."""
    nodes = [helper.make_node("ReduceSum", ["x", "axes"], ["total"], keepdims=0)]
    inits = [numpy_helper.from_array(np.array([1], np.int64), "axes")]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", width or "M"])]
    outputs = [helper.make_tensor_value_info("total", TensorProto.FLOAT, ["N"])]
    return _model(nodes, inputs, outputs, inits, f"row_sum_{width or 'open'}")


WIDE = 1 << 18  # 1 MiB of float32 a row


def _wide_output(declared):
    """x: float32 [N, 1] -> y = x + [0, 1, ..., WIDE - 1] ([N, WIDE], 1 MiB a row), declared fixed or open."""
    inits = [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (("start", 0), ("wide", WIDE), ("delta", 1))]
    # The open variant's limit depends on the input (0 * min(x) + WIDE), so no shape inference fixes it.
    limit = [] if declared else [helper.make_node("ReduceMin", ["x"], ["low"], keepdims=0),
                                 helper.make_node("Mul", ["low", "start"], ["zero"]), helper.make_node("Add", ["zero", "wide"], ["limit"])]
    nodes = [*limit, helper.make_node("Range", ["start", "limit" if limit else "wide", "delta"], ["ramp"]),
             helper.make_node("Add", ["x", "ramp"], ["y"])]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", WIDE if declared else "M"])]
    return _model(nodes, [_value("x", np.float32, [1])], outputs, inits, "wide_output")


def big_row(r, width):
    """Row r of the big-row cases, as the tests build it in Spark SQL (two array_repeat halves): every float sum is exact."""
    half = width // 2
    return np.concatenate([np.full(half, r % 3 - 1), np.full(width - half, r % 5 - 2)]).astype(np.float32)


def write_big_cases(out_dir):
    """Models whose rows or outputs are too large for JSON values: big_rows.json keeps ONNX Runtime's sums of them."""
    out = Path(out_dir)
    summary = {"pattern": "concat(array_repeat(r % 3 - 1, width / 2), array_repeat(r % 5 - 2, width / 2))"}
    for width in (None, 1 << 20):
        model = _row_sum(width)
        name = model.graph.name
        onnx.save(model, str(out / f"{name}.onnx"))
        session = ort.InferenceSession(str(out / f"{name}.onnx"), providers=["CPUExecutionProvider"])
        widths = [1 << 20] if width else [1 << 20, 10_000_000]
        summary[name] = {str(w): [float(session.run(None, {"x": big_row(r, w)[None, :]})[0][0]) for r in range(4)] for w in widths}
    for declared in (True, False):
        name = "wide_output" if declared else "wide_output_open"
        onnx.save(_wide_output(declared), str(out / f"{name}.onnx"))
        session = ort.InferenceSession(str(out / f"{name}.onnx"), providers=["CPUExecutionProvider"])
        x = (np.arange(8) % 5).astype(np.float32)[:, None]
        y = session.run(None, {"x": x})[0]
        summary[name] = {"x": x[:, 0].tolist(), "min": y.min(axis=1).tolist(), "max": y.max(axis=1).tolist(),
                         "at_12345": y[:, 12345].tolist(), "width": int(y.shape[1])}
    (out / "big_rows.json").write_text(json.dumps(summary))
    print(f"big rows: {[k for k in summary if k != 'pattern']}")
def _zero_output():
    """x: float32 [N, 3] -> same = x ([N, 3]), empty = x[:, 0:0] (declared [N, 0]), none = x[:, 3:] (declared [N, k], 0 at run time)."""
    inits = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in [("zero", [0]), ("three", [3]), ("axis", [1])]]
    nodes = [helper.make_node("Identity", ["x"], ["same"]), helper.make_node("Slice", ["x", "zero", "zero", "axis"], ["empty"]),
             helper.make_node("Slice", ["x", "three", "three", "axis"], ["none"])]
    outputs = [helper.make_tensor_value_info("same", TensorProto.FLOAT, ["N", 3]),
               helper.make_tensor_value_info("empty", TensorProto.FLOAT, ["N", 0]),
               helper.make_tensor_value_info("none", TensorProto.FLOAT, ["N", "k"])]
    return _model(nodes, [_value("x", np.float32, [3])], outputs, inits, "zero_output")


def _zero_input():
    """e: float32 [N, 0] (a zero-length tensor per row), y: float32 [N, 2] -> joined = concat(e, y) ([N, 2]), e_out = e ([N, 0])."""
    nodes = [helper.make_node("Concat", ["e", "y"], ["joined"], axis=1), helper.make_node("Identity", ["e"], ["e_out"])]
    inputs = [_value("e", np.float32, [0]), _value("y", np.float32, [2])]
    outputs = [_value("joined", np.float32, [2]), _value("e_out", np.float32, [0])]
    return _model(nodes, inputs, outputs, [], "zero_input")


def _cases():
    rng = np.random.default_rng(0)
    f32 = lambda rows, n: rng.standard_normal((rows, n)).astype(np.float32)  # noqa: E731
    yield "linear", linear_model(), {"features": f32(200, 8)}
    yield "mlp", mlp_model(), {"features": f32(300, 64)}
    yield "double_affine", _double_affine(), {"x": rng.standard_normal((150, 4))}
    yield "two_inputs", _two_inputs(), {"a": f32(120, 3), "b": f32(120, 1)}
    yield "scalar_in", _scalar_in(), {"x": rng.integers(-1000, 1001, size=(100, 1)).astype(np.int64)}
    yield "unseen_mlp", _unseen_mlp(), {"pixels": f32(500, 20)}
    for dtype in ELEMENT_TYPES:
        yield f"passthrough_{dtype}", _passthrough(dtype), {"x": _values(rng, dtype, (60, 3))}
    yield "nd_transpose", _nd_transpose(), {"x": rng.standard_normal((80, 2, 3)).astype(np.float32)}
    yield "unbatched", _unbatched(), {"x": rng.standard_normal((25, 3, 4)).astype(np.float32)}
    yield "zipmap", _zipmap(), {"x": f32(70, 3)}
    yield "byte_sum", _byte_sum(), {"x": rng.integers(0, 256, size=(90, 8)).astype(np.uint8)}
    # Half the features exactly zero, so sparse vectors leave them out.
    yield "linear_sparse", linear_model(), {"features": f32(120, 8) * (rng.random((120, 8)) < 0.5)}
    yield "external_mlp", mlp_model(n_in=16, hidden=48, n_out=4, seed=5), {"features": f32(240, 16)}
    yield "half_weights", _half_weights(), {"x": f32(50, 64)}
    yield "mlp_inner", mlp_model(n_in=12, hidden=20, n_out=3, seed=9), {"features": f32(90, 12)}
    strings = np.array([["a\x00b", "", "\x00"], ["x\x00" * 20, "plain", "naïve\x00日本"]] * 5, dtype=object)
    yield "string_nul", _passthrough("string"), {"x": strings}
    # The linear model's signature with other weights: what a planted cache entry would hold.
    yield "linear_other", linear_model(seed=4), {"features": f32(20, 8)}
    yield "zero_output", _zero_output(), {"x": f32(40, 3)}
    yield "zero_input", _zero_input(), {"e": f32(30, 0), "y": f32(30, 2)}


def _dtype(array):
    for name, (np_type, _) in ELEMENT_TYPES.items():
        if array.dtype == np.dtype(np_type):
            return name
    raise ValueError(f"no element type for {array.dtype}")


def _json_values(array, rows):
    flat = array.reshape(rows, int(np.prod(array.shape[1:], dtype=np.int64)))  # -1 cannot size a zero-length row
    if flat.dtype.kind == "f":
        return flat.astype(np.float64).tolist()  # float16 and float32 values are exact as doubles
    return flat.tolist()


def _expected(result, rows):
    if isinstance(result, list):  # a sequence of maps
        first = next(iter(result[0]))
        return {"dtype": "map", "key": "string" if isinstance(first, str) else "int64", "value": "float32",
                "shape": [], "values": [[[k, float(v)] for k, v in m.items()] for m in result]}
    return {"dtype": _dtype(result), "shape": list(result.shape[1:]), "values": _json_values(result, rows)}


def _batched(model):
    return all(i.type.tensor_type.shape.dim and not i.type.tensor_type.shape.dim[0].HasField("dim_value") for i in model.graph.input)


# Tensors inside a case's graph its JSON expects too (sparkort fetches them by cutting the model).
INNER_OUTPUTS = {"mlp_inner": ["r0", "h2"]}


def _with_outputs(model, names):
    cut = onnx.ModelProto()
    cut.CopyFrom(model)
    cut.graph.output.extend(onnx.ValueInfoProto(name=n) for n in names)
    return cut


def _external(tensor, location, offset=None, length=None):
    """Marks a TensorProto (its data dropped) as kept in an external file, with the offset and length given."""
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in [("location", location), ("offset", offset), ("length", length)]:
        if value is not None:
            tensor.external_data.add(key=key, value=str(value))
    return tensor


def _raw_tensor(name, data_type, dims, raw):
    tensor = TensorProto(name=name, data_type=data_type, raw_data=raw)
    tensor.dims.extend(dims)
    return tensor


def _hostile():
    """Broken models, each a folder with model.onnx (and data files), for the reliability tests: (name, model bytes, data files).
    Each is the linear model (features [N, 8] -> score [N, 1]) with one thing wrong."""
    def linear_with(extra=(), change=None):
        model = linear_model()
        model.graph.initializer.extend(extra)
        if change:
            change(model)
        return model.SerializeToString()

    sixty_four = bytes(range(64))
    tib = 1 << 40
    # An unused initializer the graph never reads: the driver types the model without it, executors load it.
    yield "huge_external", linear_with([_external(TensorProto(name="huge", data_type=TensorProto.FLOAT, dims=[tib // 4]), "huge.bin")]), {"huge.bin": sixty_four}
    yield "huge_external_length", linear_with([_external(TensorProto(name="huge", data_type=TensorProto.FLOAT, dims=[1 << 19, 1 << 19]), "huge.bin", 0, tib)]), {"huge.bin": sixty_four}

    def external_w0(offset, length):
        def change(model):
            w0 = next(i for i in model.graph.initializer if i.name == "W0")
            _external(w0, "w.bin", offset, length)
        return change
    yield "offset_beyond", linear_with(change=external_w0(4096, 32)), {"w.bin": sixty_four}
    yield "length_beyond", linear_with(change=external_w0(48, 32)), {"w.bin": sixty_four}
    yield "length_mismatch", linear_with(change=external_w0(0, 16)), {"w.bin": sixty_four}
    yield "offset_overflow", linear_with(change=external_w0(2**64 - 8, 32)), {"w.bin": sixty_four}
    yield "negative_dim", linear_with([_raw_tensor("neg", TensorProto.FLOAT, [-1, 8], bytes(32))]), {}
    yield "overflowing_dims", linear_with([_raw_tensor("wide", TensorProto.FLOAT, [2**40, 2**40, 2**40], bytes(4))]), {}

    def truncate_w0(model):
        w0 = next(i for i in model.graph.initializer if i.name == "W0")
        w0.raw_data = w0.raw_data[:10]
    yield "truncated_raw_data", linear_with(change=truncate_w0), {}
    valid = linear_model().SerializeToString()
    # A ModelProto field (doc_string, 6) whose length varint never ends: eleven bytes with the continuation bit.
    yield "corrupt_varint", valid + b"\x32" + b"\xff" * 11, {}
    # A length-delimited field that claims 2^62 bytes.
    yield "huge_field_length", valid + b"\x32\x80\x80\x80\x80\x80\x80\x80\x80\x40", {}
    yield "truncated_file", valid[: len(valid) // 2], {}
    yield "not_onnx", b"this is not an ONNX model, just text\n" * 4, {}

    def lying_output(model):
        # score = features[:, :k], k the nonzero count of the first row (8 for the linear case's data): ONNX
        # Runtime cannot know it before the run, so it keeps the declared [N, 3] as the signature.
        g = model.graph
        g.initializer.extend(numpy_helper.from_array(np.array([v], np.int64), n) for n, v in [("s0", 0), ("s1", 1), ("s2", 2)])
        g.node[-1].CopyFrom(helper.make_node("Slice", ["features", "s0", "s1", "s0"], ["first_row"]))
        g.node.extend([helper.make_node("NonZero", ["first_row"], ["nz"]), helper.make_node("Shape", ["nz"], ["nz_shape"]),
                       helper.make_node("Slice", ["nz_shape", "s1", "s2"], ["k"]), helper.make_node("Slice", ["features", "s0", "k", "s1"], ["score"])])
        g.output[0].type.tensor_type.shape.dim[1].dim_value = 3
    yield "lying_output_shape", linear_with(change=lying_output), {}

    def unknown_type(model):
        next(i for i in model.graph.initializer if i.name == "b0").data_type = 99
    yield "unknown_initializer_type", linear_with(change=unknown_type), {}

    def unknown_op(model):
        model.graph.node[0].op_type = "NoSuchOperator"
    yield "unknown_operator", linear_with(change=unknown_op), {}
    def typed_huge(model):
        # float_data of one value for 2^38 elements, read by the graph: ONNX Runtime would allocate 1 TiB for it.
        typed = TensorProto(name="typed", data_type=TensorProto.FLOAT, dims=[1 << 38])
        typed.float_data.append(1.0)
        model.graph.initializer.append(typed)
        model.graph.node.append(helper.make_node("Size", ["typed"], ["typed_size"]))
        model.graph.output.append(helper.make_tensor_value_info("typed_size", TensorProto.INT64, []))
    yield "typed_data_huge_shape", linear_with(change=typed_huge), {}
    yield "escaping_location", linear_with(change=lambda m: _external(next(i for i in m.graph.initializer if i.name == "W0"), "../w.bin", 0, 32)), {}


def write_hostile(out_dir):
    for name, model, files in _hostile():
        folder = Path(out_dir) / "hostile" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.onnx").write_bytes(model)
        for file, data in files.items():
            (folder / file).write_bytes(data)
    print(f"hostile models in {Path(out_dir) / 'hostile'}")


def write_cases(out_dir):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, model, inputs in _cases():
        path = out / f"{name}.onnx"
        save(model, path)
        inner = INNER_OUTPUTS.get(name, [])
        source = _with_outputs(model, inner).SerializeToString() if inner else str(path)
        session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
        # Data of another type (a bigint column into a float input) is cast to the model's, as sparkort does.
        model_types = {i.name: helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type) for i in model.graph.input}
        feeds = {k: v.astype(model_types[k]) for k, v in inputs.items()}
        names = [o.name for o in session.get_outputs()]
        rows = len(next(iter(inputs.values())))
        batched = _batched(model)
        if batched:
            results = session.run(names, feeds)
        else:  # one run per row, each with the row's whole tensor; the results stack as rows
            runs = [session.run(names, {k: v[r] for k, v in feeds.items()}) for r in range(rows)]
            results = [np.stack([run[i] for run in runs]) for i in range(len(names))]
        case = {
            "model": path.name,
            "rows": rows,
            "batched": batched,
            "inputs": {k: {"dtype": _dtype(v), "shape": list(v.shape[1:]), "values": _json_values(v, rows)} for k, v in inputs.items()},
            "expected": {n: _expected(r, rows) for n, r in zip(names, results)},
        }
        (out / f"{name}.json").write_text(json.dumps(case, ensure_ascii=False))
        print(f"{name}: {rows} rows, inputs {list(inputs)}, outputs {names}")


if __name__ == "__main__":
    write_cases(sys.argv[1] if len(sys.argv) > 1 else "build/test-models")
    write_big_cases(sys.argv[1] if len(sys.argv) > 1 else "build/test-models")
    write_hostile(sys.argv[1] if len(sys.argv) > 1 else "build/test-models")
