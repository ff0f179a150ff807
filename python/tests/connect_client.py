"""A Spark Connect client session scoring with sparkort, run by test_spark_connect.py as a script
with a Connect client's Python: pyspark-client (no py4j, no JVM) and the sparkort package from
python/ on PYTHONPATH.

    python connect_client.py SPEC.json OUT.json

SPEC names the server (`url`), the Parquet table (`table`) and the models (`mlp`: one input, one
output; `linear`: one input fed by eight scalar columns; `two_inputs`: two inputs, two outputs).
OUT gets, for each way of scoring, the rows it returned (by id) or the error it raised, and what the
session imported. The test compares the rows with ONNX Runtime's Python API (not installed here)."""

from __future__ import annotations

import importlib.util
import json
import sys
import traceback
from typing import Any, Callable, Dict


def plain(value: Any) -> Any:
    """A collected value as JSON: Rows (structs) as dicts, arrays as lists."""
    if hasattr(value, "asDict"):
        return {k: plain(v) for k, v in value.asDict().items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def main(spec_path: str, out_path: str) -> None:
    spec = json.loads(open(spec_path).read())
    out: Dict[str, Any] = {}

    def step(name: str, run: Callable[[], Any]) -> None:
        try:
            out[name] = {"value": run()}
        except Exception as e:  # noqa: BLE001 - every failure is reported to the test, by step
            out[name] = {"error": type(e).__name__, "module": type(e).__module__, "message": str(e),
                         "traceback": traceback.format_exc()[-4000:]}

    from pyspark.sql import SparkSession

    spark = SparkSession.builder.remote(spec["url"]).getOrCreate()
    out["session_class"] = f"{type(spark).__module__}.{type(spark).__name__}"

    import sparkort

    def is_sparkort_error(e: BaseException) -> bool:
        return isinstance(e, sparkort.SparkOrtError)

    df = spark.read.parquet(spec["table"])
    df.createOrReplaceTempView("t")
    f_cols = [f"f{i}" for i in range(8)]

    def rows(frame: Any, column: str) -> Any:
        return [[r["id"], plain(r[column])] for r in frame.orderBy("id").collect()]

    mlp, linear, two = spec["mlp"], spec["linear"], spec["two_inputs"]
    step("sql", lambda: rows(spark.sql(
        f"SELECT id, onnx_predict('{mlp}', pixels) AS p, onnx_predict('{linear}', {', '.join(f_cols)}) AS score, "
        f"onnx_predict('{two}', a, b) AS both FROM t"), "p"))
    step("sql_scalars", lambda: rows(spark.sql(
        f"SELECT id, onnx_predict('{linear}', {', '.join(f_cols)}) AS score FROM t"), "score"))
    step("sql_struct", lambda: rows(spark.sql(f"SELECT id, onnx_predict('{two}', a, b) AS both FROM t"), "both"))
    step("predict", lambda: rows(df.withColumn("p", sparkort.predict(mlp, "pixels")), "p"))
    step("predict_scalars", lambda: rows(df.withColumn("p", sparkort.predict(linear, *f_cols)), "p"))
    step("predict_struct", lambda: rows(df.select("id", sparkort.predict(two, df["a"], df["b"]).alias("p")), "p"))

    def model() -> Any:
        return sparkort.OnnxModel(modelLocation=mlp, feedDict={"pixels": "pixels"}, fetchDict={"p": "out"})

    step("transform", lambda: rows(model().transform(df), "p"))
    step("transform_columns", lambda: model().transform(df).columns)
    step("transform_schema", lambda: {f.name: f.dataType.simpleString() for f in model().transformSchema(df.schema).fields})

    driver_only = [("reserve", lambda m: m.reserve(spark)), ("metrics", lambda m: m.metrics()),
                   ("register", lambda m: sparkort.register(spark, "scorer", m))]
    for name, method in driver_only:
        try:
            stage = model()
        except Exception as e:  # noqa: BLE001
            out[name] = {"raised": None, "model_error": f"{type(e).__name__}: {e}"}
            continue
        try:
            method(stage)
            out[name] = {"raised": None}
        except Exception as e:  # noqa: BLE001
            out[name] = {"raised": f"{type(e).__module__}.{type(e).__name__}", "is_sparkort_error": is_sparkort_error(e),
                         "message": str(e)}

    out["py4j_installed"] = importlib.util.find_spec("py4j") is not None
    out["py4j_imported"] = sorted(m for m in sys.modules if m == "py4j" or m.startswith("py4j."))
    # Modules of pyspark that exist for the classic (py4j) session only.
    out["classic_imported"] = sorted(m for m in sys.modules if m in ("pyspark.java_gateway", "pyspark.context", "pyspark.core.context"))
    spark.stop()
    with open(out_path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
