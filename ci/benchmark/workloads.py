"""The benchmark's five workloads: a model file and a table of rows, the same for every path.

Each workload writes, once per row count, under its folder:
  model.onnx              the one model file every path opens
  rows-<R>-even8m.parquet an `id` column plus the columns feeding the model's inputs (array<float>
                          for a tensor input, float or string for a one-value-per-row input, k double
                          columns for a [N, k] input fed one feature per column), in row groups of
                          equal rows, at most about 8 MiB, a power of two of them (the name says so:
                          files written with other groups are not reused)
Rows are drawn from a seeded generator, so every path, and every re-run, scores the same values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import onnx
import pyarrow as pa
import pyarrow.parquet as pq

import models  # ci/models.py, the test models' builders (ci/ is on the path of every caller)


@dataclass(frozen=True)
class Feed:
    """One model input and the column (or columns) holding it."""

    input: str
    column: str
    # "tensor": array<float> column, row-major; "float" / "string": one value per row;
    # "doubles": row_shape[0] double columns (`column`_000, `column`_001, ...), one feature each,
    # side by side in one float [N, k] input
    kind: str
    row_shape: Tuple[int, ...] = ()  # per-row shape of a tensor or doubles input

    @property
    def row_elements(self) -> int:
        return int(np.prod(self.row_shape)) if self.row_shape else 1

    @property
    def columns(self) -> Tuple[str, ...]:
        """The columns feeding the input, in the input's order."""
        if self.kind == "doubles":
            return tuple(f"{self.column}_{i:03d}" for i in range(self.row_shape[0]))
        return (self.column,)

    @property
    def row_bytes(self) -> int:
        return self.row_elements * (8 if self.kind == "doubles" else 4)


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    feeds: List[Feed]
    output: str  # the ONNX output every path fetches
    output_column: str
    output_per_row: int  # values per row: 1 -> a float column, more -> array<float>
    batch_size: int
    rows: int  # full run
    quick_rows: int
    build_model: Callable[[Path], None]
    make_columns: Callable[[int, np.random.Generator], Dict[str, np.ndarray]]
    seed: int = 20261124

    @property
    def scalar_output(self) -> bool:
        return self.output_per_row == 1

    def model_path(self, root: Path) -> Path:
        return root / self.name / "model.onnx"

    def data_path(self, root: Path, rows: int) -> Path:
        return root / self.name / f"rows-{rows}-even8m.parquet"

    @property
    def columns(self) -> List[str]:
        """Every column feeding the model, in the feeds' order."""
        return [c for f in self.feeds for c in f.columns]

    def prepare(self, root: Path, rows: int) -> Tuple[Path, Path]:
        """Writes the model and the rows if they are not there yet; returns their paths."""
        model, data = self.model_path(root), self.data_path(root, rows)
        model.parent.mkdir(parents=True, exist_ok=True)
        if not model.exists():
            tmp = model.with_suffix(".tmp")
            self.build_model(tmp)
            tmp.replace(model)
        if not data.exists():
            tmp = data.with_suffix(".tmp")
            write_rows(tmp, self.make_columns(rows, np.random.default_rng(self.seed)), self.feeds)
            tmp.replace(data)
        return model, data


def write_rows(path: Path, columns: Dict[str, np.ndarray], feeds: List[Feed]) -> None:
    rows = len(next(iter(columns.values())))
    arrays, names = [pa.array(np.arange(rows, dtype=np.int64))], ["id"]
    for feed in feeds:
        values = columns[feed.column]
        if feed.kind == "tensor":
            arrays.append(list_array(values.astype(np.float32, copy=False), feed.row_elements))
        elif feed.kind == "doubles":  # values: [rows, k], one column each
            arrays += [pa.array(values[:, i].astype(np.float64)) for i in range(values.shape[1])]
        elif feed.kind == "float":
            arrays.append(pa.array(values.astype(np.float32, copy=False)))
        else:
            arrays.append(pa.array(values.tolist(), type=pa.string()))
        names += feed.columns
    row_bytes = sum(f.row_bytes for f in feeds) + 8
    pq.write_table(pa.table(arrays, names=names), str(path), compression="none",
                   row_group_size=row_group_rows(rows, row_bytes))


GROUP_BYTES = 8 << 20


def row_group_rows(rows: int, row_bytes: int) -> int:
    """Rows per row group: equal groups of at most GROUP_BYTES, as few as can be, a power of two of them.

    Groups that small keep the writer's and Spark reader's memory small. Equal, and a power of two of
    them, they fall evenly into the Parquet source's splits (one per task slot, the file cut into
    equal byte ranges; a split reads the groups whose middle falls in it), so each slot scores as many
    rows: with groups of as many rows as fit 8 MiB, ResNet-50's 192 rows of 600 KB made groups of 13
    and splits of 91 and 101 rows, and one slot idled for the last tenth of each pass.
    """
    groups = 1
    while groups * GROUP_BYTES < rows * row_bytes:
        groups *= 2
    return max(1, -(-rows // groups))


def list_array(values: np.ndarray, per_row: int) -> pa.Array:
    """Each row's `per_row` values (row-major in `values`) as one Arrow list."""
    offsets = pa.array(np.arange(len(values) + 1, dtype=np.int32) * per_row)
    return pa.ListArray.from_arrays(offsets, pa.array(values.reshape(-1)))


def read_inputs(data: Path, feeds: List[Feed]) -> Dict[str, np.ndarray]:
    """The rows as ONNX Runtime's Python API takes them: {model input: array [rows, *row_shape]}."""
    table = pq.read_table(str(data), columns=[c for f in feeds for c in f.columns]).combine_chunks()
    return {f.input: feed_to_numpy(table, f) for f in feeds}


def feed_to_numpy(data: Union[pa.Table, pa.RecordBatch], feed: Feed) -> np.ndarray:
    """One model input's numpy array from the Arrow table or batch holding its column(s)."""
    arrays = [data.column(c) for c in feed.columns]
    arrays = [a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in arrays]
    if feed.kind == "doubles":
        return stack_columns([a.to_numpy() for a in arrays])
    return column_to_numpy(arrays[0], feed)


def stack_columns(columns: Sequence[np.ndarray]) -> np.ndarray:
    """Scalar columns side by side, as one float32 [rows, k] array (each value cast once, in place)."""
    out = np.empty((len(columns[0]), len(columns)), dtype=np.float32)
    for i, values in enumerate(columns):
        out[:, i] = values
    return out


def column_to_numpy(array: pa.Array, feed: Feed) -> np.ndarray:
    """One Arrow column (a list<float>, float or string array) as the model input's numpy array."""
    if feed.kind == "tensor":
        return array.flatten().to_numpy().reshape((-1, *feed.row_shape))
    if feed.kind == "float":
        return array.to_numpy().reshape(-1, 1)
    return array.to_numpy(zero_copy_only=False).reshape(-1, 1)


# --- linear: 8 features -> 1 (transfer-bound) and MLP 64 -> 256 -> 256 -> 10 (balanced) -------------

def _features(n_in: int) -> Callable[[int, np.random.Generator], Dict[str, np.ndarray]]:
    return lambda rows, rng: {"features": rng.standard_normal((rows, n_in), dtype=np.float32)}


LINEAR = Workload(
    name="linear",
    description="linear 8 -> 1 (transfer-bound)",
    feeds=[Feed("features", "features", "tensor", (8,))],
    output="score", output_column="score", output_per_row=1,
    # Passes (one Spark job each) of over half a second for sparkort, so Spark's fixed cost per job
    # (about 40 ms here, with the driver code the JIT is still compiling) stays a small part of them;
    # 16M rows still fit Spark's 4g cache (32M do not, and then a partition is read back from disk).
    batch_size=4096, rows=16_000_000, quick_rows=400_000,
    build_model=models.build_linear,
    make_columns=_features(8),
)

MLP = Workload(
    name="mlp",
    description="MLP 64 -> 256 -> 256 -> 10, softmax (balanced)",
    feeds=[Feed("features", "features", "tensor", (64,))],
    output="probabilities", output_column="probabilities", output_per_row=10,
    # 1024 rows keep a batch's 256-wide activations in cache: ONNX Runtime alone runs 2.52M rows/s at
    # 1024 against 2.30M at 4096 on this machine, and sparkort 2.12M against 1.83M.
    # 4M rows: sparkort's passes last about 1.7 s (Spark's ~40 ms a job is 2% of them, as for the
    # linear model); at 6M, predict_batch_udf's 19 s passes (a warm-up and 3 runs on each of two
    # sources) took two and a half minutes of the run.
    batch_size=1024, rows=4_000_000, quick_rows=100_000,
    build_model=models.build_mlp,
    make_columns=_features(64),
)


# --- ResNet-50 from the onnx wheel (compute-bound) -------------------------------------------------

def _light_resnet50() -> Path:
    """The `light_resnet50` test model that ships inside the onnx wheel."""
    return Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / "light_resnet50.onnx"


def build_resnet50(path: Path) -> None:
    """light_resnet50 with a symbolic batch dimension.

    The shipped model takes exactly one image ([1, 3, 224, 224] -> [1, 1000]) and reshapes its
    pooled features to a constant [1, 2048]; the batch becomes "N" in the input, the output and that
    reshape. Its weights are ConstantOfShape nodes (hence "light": 80 KB on disk), which ONNX Runtime
    folds into constants when it loads the model, so each image costs a full ResNet-50's convolutions.
    """
    model = onnx.load(str(_light_resnet50()))
    graph = model.graph
    # IR 3 lists every initializer as a graph input too; later IRs do not, and then only the image
    # is a model input for every path. One initializer feeds no node (ONNX Runtime warns about it at
    # every load): drop it.
    used = {name for node in graph.node for name in node.input}
    initializers = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers and i.name in used]
    kept = [i for i in graph.initializer if i.name in used]
    del graph.input[:], graph.initializer[:]
    graph.input.extend(inputs)
    graph.initializer.extend(kept)
    model.ir_version = models.IR_VERSION
    for value in (graph.input[0], graph.output[0]):
        value.type.tensor_type.shape.dim[0].ClearField("dim_value")
        value.type.tensor_type.shape.dim[0].dim_param = "N"
    reshapes = [n for n in graph.node if n.op_type == "Reshape"]
    shape_names = {n.input[1] for n in reshapes}
    for init in graph.initializer:
        if init.name in shape_names:
            dims = onnx.numpy_helper.to_array(init).copy()
            dims[0] = -1
            init.CopyFrom(onnx.numpy_helper.from_array(dims, init.name))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


RESNET50 = Workload(
    name="resnet50",
    description="ResNet-50, 3 x 224 x 224 per row (compute-bound)",
    feeds=[Feed("gpu_0/data_0", "image", "tensor", (3, 224, 224))],
    output="gpu_0/softmax_1", output_column="probabilities", output_per_row=1000,
    # 192 rows (12 batches): passes of 3.5-4 s, just over a 3 s run, for every path; 320 made 6 s
    # passes, 8 of them (a warm-up and 3 runs on each of two sources) a path.
    batch_size=16, rows=192, quick_rows=32,
    build_model=build_resnet50,
    make_columns=lambda rows, rng: {"image": rng.random((rows, 3, 224, 224), dtype=np.float32)},
)


# --- scikit-learn pipeline with a string column (skl2onnx) -----------------------------------------

SKLEARN_FLOATS = ["sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def _diabetes():
    """scikit-learn's bundled diabetes table, in its original units, with age as a string band."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame
    frame["age_band"] = [f"{int(a) // 10 * 10}s" for a in frame["age"]]
    return frame


def build_sklearn_pipeline(path: Path) -> None:
    """Scaler on the nine numeric columns, one-hot on the string column, gradient-boosted trees."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = _diabetes()
    x = frame[SKLEARN_FLOATS + ["age_band"]].astype({c: np.float32 for c in SKLEARN_FLOATS})
    pipeline = Pipeline([
        ("columns", ColumnTransformer([
            ("scale", StandardScaler(), SKLEARN_FLOATS),
            ("onehot", OneHotEncoder(handle_unknown="ignore"), ["age_band"]),
        ])),
        ("trees", GradientBoostingRegressor(n_estimators=100, max_depth=4, random_state=0)),
    ]).fit(x, frame["target"])
    # One ONNX input per DataFrame column, as skl2onnx converts a pipeline fit on a DataFrame.
    types = [(c, FloatTensorType([None, 1])) for c in SKLEARN_FLOATS] + [("age_band", StringTensorType([None, 1]))]
    onx = to_onnx(pipeline, initial_types=types, target_opset={"": models.OPSET, "ai.onnx.ml": 3})
    onnx.save(onx, str(path))


def _diabetes_rows(rows: int, rng: np.random.Generator) -> Dict[str, np.ndarray]:
    """Rows drawn with replacement from the 442 patients."""
    frame = _diabetes()
    pick = rng.integers(0, len(frame), size=rows)
    columns = {c: frame[c].to_numpy(np.float32)[pick] for c in SKLEARN_FLOATS}
    columns["age_band"] = frame["age_band"].to_numpy(object)[pick]
    return columns


SKLEARN = Workload(
    name="sklearn",
    description="scikit-learn pipeline: scaler + one-hot(string) + 100 trees (skl2onnx)",
    feeds=[Feed(c, c, "float") for c in SKLEARN_FLOATS] + [Feed("age_band", "age_band", "string")],
    output="variable", output_column="prediction", output_per_row=1,
    batch_size=4096, rows=2_000_000, quick_rows=100_000,
    build_model=build_sklearn_pipeline,
    make_columns=_diabetes_rows,
)


# --- wide table: 100 double columns into a random forest (skl2onnx) --------------------------------

WIDE_FEATURES = 100
WIDE_SEED = 20261202


def _wide_rows(rows: int, rng: np.random.Generator) -> Dict[str, np.ndarray]:
    """Independent standard-normal features, as doubles: [rows, 100] under the feed's column prefix."""
    return {"x": rng.standard_normal((rows, WIDE_FEATURES))}


def _wide_labels(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A seeded rule over a third of the features, with a kink and noise, for the training rows."""
    weights = rng.standard_normal(WIDE_FEATURES) * (rng.random(WIDE_FEATURES) < 0.3)
    score = x @ weights + np.sin(3 * x[:, 0]) + 0.5 * rng.standard_normal(len(x))
    return (score > 0).astype(np.int64)


def build_wide_forest(path: Path) -> None:
    """100 trees of depth 6 over 100 features, trained on 5,000 seeded rows; one float [N, 100]
    input `X`, outputs `label` and `probabilities` ([N, 2], zipmap off)."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(WIDE_SEED)
    x = _wide_rows(5000, rng)["x"].astype(np.float32)
    forest = RandomForestClassifier(n_estimators=100, max_depth=6, random_state=0).fit(x, _wide_labels(x, rng))
    onx = to_onnx(forest, initial_types=[("X", FloatTensorType([None, WIDE_FEATURES]))],
                  options={id(forest): {"zipmap": False}}, target_opset={"": models.OPSET, "ai.onnx.ml": 3})
    onnx.save(onx, str(path))


WIDE = Workload(
    name="wide",
    description=f"wide table: {WIDE_FEATURES} double columns -> random forest, 100 trees of depth 6 (skl2onnx)",
    feeds=[Feed("X", "x", "doubles", (WIDE_FEATURES,))],
    output="probabilities", output_column="probabilities", output_per_row=2,
    # 808 bytes a row: 200k rows are a 160 MB file; passes of 1-2 s for sparkort, a few seconds for
    # predict_batch_udf and mapInArrow.
    batch_size=4096, rows=200_000, quick_rows=20_000,
    build_model=build_wide_forest,
    make_columns=_wide_rows,
)

WORKLOADS = {w.name: w for w in (LINEAR, MLP, RESNET50, SKLEARN, WIDE)}


def by_name(name: str) -> Workload:
    try:
        return WORKLOADS[name]
    except KeyError:
        raise SystemExit(f"unknown workload '{name}'; choose from {', '.join(WORKLOADS)}") from None


def selected(names: Optional[str]) -> List[Workload]:
    return [by_name(n) for n in names.split(",")] if names else list(WORKLOADS.values())
