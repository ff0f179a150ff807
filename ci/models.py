"""Test models built with the `onnx` helpers, with data and ONNX Runtime Python's outputs on them.

`python ci/models.py OUTDIR` writes, per case, OUTDIR/<name>.onnx and OUTDIR/<name>.json:
  {"model": "<name>.onnx", "rows": R,
   "inputs":   {"<input>":  {"dtype": "float32"|"float64"|"int64", "values": [[row values...], ...]}},
   "expected": {"<output>": {"dtype": ..., "shape": [per-row shape], "values": [[row values...], ...]}}}
Every per-row value list is flattened row-major. Floats round-trip exactly (json writes repr).
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


def _model(nodes, inputs, outputs, initializers, name):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="sparkort-tests")
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


def _cases():
    rng = np.random.default_rng(0)
    f32 = lambda rows, n: rng.standard_normal((rows, n)).astype(np.float32)  # noqa: E731
    yield "linear", linear_model(), {"features": f32(200, 8)}
    yield "mlp", mlp_model(), {"features": f32(300, 64)}
    yield "double_affine", _double_affine(), {"x": rng.standard_normal((150, 4))}
    yield "two_inputs", _two_inputs(), {"a": f32(120, 3), "b": f32(120, 1)}
    yield "scalar_in", _scalar_in(), {"x": rng.integers(-1000, 1001, size=(100, 1)).astype(np.int64)}
    yield "unseen_mlp", _unseen_mlp(), {"pixels": f32(500, 20)}
    yield "external_mlp", mlp_model(n_in=16, hidden=48, n_out=4, seed=5), {"features": f32(240, 16)}


def _dtype(array):
    return {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64", np.dtype(np.int64): "int64"}[array.dtype]


def write_cases(out_dir):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, model, inputs in _cases():
        path = out / f"{name}.onnx"
        save(model, path)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        # Integer data feeds float inputs after a cast, exactly as a Spark bigint column does.
        feeds = {k: v.astype(np.float32) if v.dtype == np.int64 else v for k, v in inputs.items()}
        names = [o.name for o in session.get_outputs()]
        results = session.run(names, feeds)
        rows = len(next(iter(inputs.values())))
        flat = lambda a: a.reshape(rows, -1).tolist()  # noqa: E731
        case = {
            "model": path.name,
            "rows": rows,
            "inputs": {k: {"dtype": _dtype(v), "values": flat(v)} for k, v in inputs.items()},
            "expected": {n: {"dtype": _dtype(r), "shape": list(r.shape[1:]), "values": flat(r)} for n, r in zip(names, results)},
        }
        (out / f"{name}.json").write_text(json.dumps(case))
        print(f"{name}: {rows} rows, inputs {list(inputs)}, outputs {names}")


if __name__ == "__main__":
    write_cases(sys.argv[1] if len(sys.argv) > 1 else "build/test-models")
