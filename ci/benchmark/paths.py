"""The ways the benchmark reads and scores a workload's rows.

Every scoring path opens the same model file with `make_session`'s options (one intra-op thread,
sequential execution), scores batches of the workload's `batch_size` rows, and runs `threads`
sessions at once:
  sparkort           sparkort.OnnxModel(...).transform on local[threads]: one session per task slot
  sparkort_sql       the same model through SQL: selectExpr("*", "onnx_predict(map(...), cols) AS ..."),
                     in a session with the extension (spark.sql.extensions); MLP and linear only
  predict_batch_udf  pyspark.ml.functions.predict_batch_udf, one session per Python worker
  mapInArrow         DataFrame.mapInArrow, one session per Python worker
  ort_alone          ONNX Runtime's Python API without Spark, one Python thread per session over
                     its share of the rows in memory: the limit of scoring alone
  spark_read         no model: Spark's own read of the rows the Spark paths read (every column),
                     the limit of reading alone
The Spark paths return the same DataFrame: every input column plus the prediction column; they read
it from one of SOURCES (benchmark.run_path.source_rows): the Parquet file, or Spark's cache.
spark_read's CPU per row plus ort_alone's is the serial limit's (benchmark.report).
"""

from __future__ import annotations

import inspect
import sys
import threading
import uuid
from typing import Callable, Dict, List, Sequence

import numpy as np

from benchmark.workloads import Feed, Workload, feed_to_numpy, list_array, stack_columns

LIMIT = "ort_alone"
READ = "spark_read"
SPARK_PATHS = ["sparkort", "sparkort_sql", "predict_batch_udf", "mapInArrow"]  # the scoring ones
ALL_PATHS = [LIMIT, READ] + SPARK_PATHS
# Where the Spark paths' rows come from: the Parquet file, read again each pass with Spark's
# vectorized reader, or Spark's in-memory cache of it (built and counted before timing).
SOURCES = ["parquet", "cache"]
# Paths measured on some workloads only (the rest run on every workload).
ONLY_ON = {"sparkort_sql": {"mlp", "linear"}}
# Paths whose Spark session is built with sparkort's extension.
WITH_EXTENSION = {"sparkort_sql"}
EXTENSION = "io.sparkort.SparkOrtExtensions"


def measured(path: str, workload: str) -> bool:
    return workload in ONLY_ON.get(path, {workload})
ARROW_BATCH_CONF = "spark.sql.execution.arrow.maxRecordsPerBatch"


def make_session(model_path: str):
    """The one set of ONNX Runtime session options every path uses (sparkort's native side sets the same)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])


def _ship_by_value() -> None:
    # The Python paths' functions run in Spark's Python workers, which cannot import this package:
    # pickle its functions and classes by value instead of by reference.
    from pyspark import cloudpickle

    for name in ("benchmark.workloads", "benchmark.paths"):
        cloudpickle.register_pickle_by_value(sys.modules[name])  # registering again is harmless


# --- sparkort ---------------------------------------------------------------------------------------

def sparkort_scored(spark, df, w: Workload, model_path: str, batch_size: int):
    """sparkort's pyspark.ml stage (the package in python/, which the Spark session's jar serves)."""
    from sparkort import OnnxModel

    # Several scalar columns feed one input as one feedDict value, comma-separated, in order.
    model = OnnxModel(modelLocation=model_path, feedDict={f.input: ", ".join(f.columns) for f in w.feeds},
                      fetchDict={w.output_column: w.output}, batchSize=batch_size)
    return model.transform(df)


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sparkort_sql_scored(spark, df, w: Workload, model_path: str, batch_size: int):
    """The same scoring through SQL: onnx_predict with an options map in selectExpr."""
    from sparkort.functions import _prepare

    _prepare(spark)  # a session without the extension (the tests') gets onnx_predict; with it, nothing
    options = ["modelLocation", model_path, "batchSize", str(batch_size), f"output.{w.output_column}", w.output]
    # input.N names the model input of the Nth argument: each of a doubles input's columns names it.
    for n, f in enumerate((f for f in w.feeds for _ in f.columns), start=1):
        options += [f"input.{n}", f.input]
    call = f"onnx_predict(map({', '.join(_sql_string(o) for o in options)}), {', '.join(w.columns)})"
    return df.selectExpr("*", f"{call} AS {w.output_column}")


# --- predict_batch_udf ------------------------------------------------------------------------------

def _output_type(w: Workload):
    from pyspark.sql.types import ArrayType, FloatType

    return FloatType() if w.scalar_output else ArrayType(FloatType())


def _as_model_input(columns: Sequence[np.ndarray], feed: Feed) -> np.ndarray:
    """predict_batch_udf's numpy arrays for one input's columns as the model input: tensors come
    shaped, scalars 1-D, and a doubles input's columns are stacked side by side as float32."""
    if feed.kind == "doubles":
        return stack_columns(columns)
    return columns[0] if feed.kind == "tensor" else columns[0].reshape(-1, 1)


def predict_batch_udf_scored(spark, df, w: Workload, model_path: str, batch_size: int):
    """Spark's documented path: a pandas UDF that batches rows and calls a predict function."""
    from pyspark.ml.functions import predict_batch_udf

    _ship_by_value()
    feeds, output = w.feeds, w.output

    columns = w.columns
    # Each input's slice of the predict function's arguments (a doubles input takes k of them).
    bounds, at = [], 0
    for f in feeds:
        bounds.append((at, at + len(f.columns)))
        at += len(f.columns)

    def make_predict_fn():
        session = make_session(model_path)

        def predict(*arrays: np.ndarray) -> np.ndarray:
            inputs = {f.input: _as_model_input(arrays[lo:hi], f) for f, (lo, hi) in zip(feeds, bounds)}
            return session.run([output], inputs)[0]

        # predict_batch_udf passes one numpy array per column and counts the predict function's parameters.
        predict.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter(c, inspect.Parameter.POSITIONAL_OR_KEYWORD) for c in columns])
        return predict

    shapes = [list(f.row_shape) if f.kind == "tensor" else None for f in feeds for _ in f.columns]
    udf = predict_batch_udf(make_predict_fn, return_type=_output_type(w), batch_size=batch_size,
                            input_tensor_shapes=shapes if any(shapes) else None)
    spark.conf.set(ARROW_BATCH_CONF, str(batch_size))
    return df.withColumn(w.output_column, udf(*columns))


# --- mapInArrow -------------------------------------------------------------------------------------

def _arrow_output(values: np.ndarray, per_row: int):
    import pyarrow as pa

    return pa.array(values.reshape(-1)) if per_row == 1 else list_array(values, per_row)


def map_in_arrow_scored(spark, df, w: Workload, model_path: str, batch_size: int):
    """The best hand-written PySpark path: Arrow batches straight to numpy, one session per worker."""
    from pyspark.sql.types import StructField, StructType

    _ship_by_value()
    feeds, output, column, per_row = w.feeds, w.output, w.output_column, w.output_per_row
    key = uuid.uuid4()

    def score(batches):
        from pyspark.ml.model_cache import ModelCache  # keeps the session across tasks in a reused worker

        session = ModelCache.get(key)
        if session is None:
            session = make_session(model_path)
            ModelCache.add(key, session)
        for batch in batches:
            inputs = {f.input: feed_to_numpy(batch, f) for f in feeds}
            yield batch.append_column(column, _arrow_output(session.run([output], inputs)[0], per_row))

    spark.conf.set(ARROW_BATCH_CONF, str(batch_size))
    schema = StructType(df.schema.fields + [StructField(column, _output_type(w), True)])
    return df.mapInArrow(score, schema)


SPARK_SCORERS: Dict[str, Callable] = {
    "sparkort": sparkort_scored,
    "sparkort_sql": sparkort_sql_scored,
    "predict_batch_udf": predict_batch_udf_scored,
    "mapInArrow": map_in_arrow_scored,
}


# --- ONNX Runtime alone: the limit ------------------------------------------------------------------

class OrtAlone:
    """`threads` sessions, each scoring a contiguous share of the rows on its own Python thread.

    ONNX Runtime releases the GIL inside run(), so the threads score in parallel; shares and batches
    are numpy views, so nothing is copied on the way in.
    """

    def __init__(self, model_path: str, w: Workload, threads: int):
        self.workload = w
        self.sessions = [make_session(model_path) for _ in range(threads)]

    def _shares(self, inputs: Dict[str, np.ndarray]) -> List[Dict[str, np.ndarray]]:
        rows = len(next(iter(inputs.values())))
        bounds = [rows * i // len(self.sessions) for i in range(len(self.sessions) + 1)]
        return [{k: v[lo:hi] for k, v in inputs.items()} for lo, hi in zip(bounds, bounds[1:])]

    def _score(self, session, share: Dict[str, np.ndarray], batch_size: int, keep: List[np.ndarray],
               errors: List[BaseException]):
        try:
            rows = len(next(iter(share.values())))
            for start in range(0, rows, batch_size):
                batch = {k: v[start:start + batch_size] for k, v in share.items()}
                out = session.run([self.workload.output], batch)[0]
                if keep is not None:
                    keep.append(out)
        except BaseException as e:  # re-raised on the caller's thread
            errors.append(e)

    def run(self, inputs: Dict[str, np.ndarray], batch_size: int, keep: bool = False):
        """Scores every row once; with keep, returns the outputs in row order."""
        shares = self._shares(inputs)
        kept: List[List[np.ndarray]] = [[] if keep else None for _ in shares]  # type: ignore[misc]
        errors: List[BaseException] = []
        threads = [threading.Thread(target=self._score, args=(s, share, batch_size, k, errors))
                   for s, share, k in zip(self.sessions, shares, kept)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return np.concatenate([o for k in kept for o in k]) if keep else None
