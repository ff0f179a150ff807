"""sparkort's Column functions: ``predict`` and ``register``, in classic and Spark Connect sessions.

``predict`` builds a call of the SQL function ``onnx_predict``, so a column scored with it goes through
the same plan node as ``OnnxModel.transform`` and ``SELECT onnx_predict(...)``::

    import sparkort
    scored = df.withColumn("scores", sparkort.predict("/models/mlp.onnx", "features"))
    sparkort.register(spark, "churn", sparkort.OnnxModel(modelLocation=..., feedDict=..., fetchDict=...))
    spark.sql("SELECT id, churn(f1, f2, f3) FROM customers")

A Spark Connect server needs the sparkort jar and ``spark.sql.extensions=io.sparkort.SparkOrtExtensions``;
in a classic session either the extension or the first call here adds ``onnx_predict``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Union

from sparkort.errors import SparkOrtError, install_connect

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from sparkort.model import OnnxModel

ONNX_PREDICT = "onnx_predict"


def is_connect(obj: Any) -> bool:
    """Whether a SparkSession, DataFrame or Column belongs to a Spark Connect client."""
    return type(obj).__module__.startswith("pyspark.sql.connect")


def _active_session() -> Optional["SparkSession"]:
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession()


def _prepare(session: Optional["SparkSession"]) -> None:
    """In a classic session: adds onnx_predict and the scoring rules (a no-op with the extension)."""
    if session is None:
        return
    if is_connect(session):
        install_connect()
        return
    jvm = session.sparkContext._jvm
    assert jvm is not None
    jvm.io.sparkort.functions.registerFunctions(session._jsparkSession)


def _column(col: Union["Column", str]) -> "Column":
    from pyspark.sql import functions as F

    return F.col(col) if isinstance(col, str) else col


def options(model: "OnnxModel", struct: bool = False) -> Dict[str, str]:
    """The options map of ``onnx_predict`` for ``model``'s params, and its feedDict columns in order."""
    opts: Dict[str, str] = {
        "modelLocation": model.getModelLocation(),
        "batchSize": str(model.getBatchSize()),
        "handleNulls": model.getHandleNulls(),
    }
    n = 0
    for model_input, columns in model.getFeedDict().items():
        for _ in columns.split(","):
            n += 1
            opts[f"input.{n}"] = model_input
    for column, output in model.getFetchDict().items():
        opts[f"output.{column}"] = output
    if struct:
        opts["result"] = "struct"
    return opts


def feed_columns(model: "OnnxModel") -> List[str]:
    """The columns of ``model``'s feedDict, in order."""
    return [c.strip() for columns in model.getFeedDict().values() for c in columns.split(",")]


def predict(model: Union[str, "OnnxModel"], *cols: Union["Column", str], struct: bool = False) -> "Column":
    """The model's predictions as a Column.

    ``model`` is a location (local path or Hadoop-FS URI), then ``cols`` are one column per model
    input in the model's order, or for a model with one input one array column or several scalar
    columns. Or ``model`` is an ``OnnxModel``, scoring with its params; ``cols`` are then its
    feedDict's columns in order, and default to them by name. The Column holds the one fetched
    output's value, or a struct by output name (fetchDict column) when there are several, or always
    with ``struct=True``.
    """
    from pyspark.sql import functions as F

    _prepare(_active_session())
    if isinstance(model, str):
        first = F.lit(model)
        if struct:
            first = F.create_map(F.lit("modelLocation"), first, F.lit("result"), F.lit("struct"))
        return F.call_function(ONNX_PREDICT, first, *(_column(c) for c in cols))
    pairs: List["Column"] = []
    for key, value in options(model, struct).items():
        pairs += [F.lit(key), F.lit(value)]
    fed = [_column(c) for c in cols] if cols else [F.col(_quoted(c)) for c in feed_columns(model)]
    return F.call_function(ONNX_PREDICT, F.create_map(*pairs), *fed)


def _quoted(name: str) -> str:
    """A column name as ``col`` reads it literally (a dot or backtick in it is not a path)."""
    return "`" + name.replace("`", "``") + "`"


def register(spark: "SparkSession", name: str, model: "OnnxModel") -> None:
    """Registers ``name(columns...)``, a temporary SQL function of ``spark`` scoring with ``model``'s
    params as they are now; its arguments are the model's feedDict columns in order. ``SHOW
    FUNCTIONS`` lists it and ``DESCRIBE FUNCTION`` describes it. Classic sessions only: over Spark
    Connect, call ``onnx_predict`` with an options map, or ``sparkort.predict(model, ...)``.
    """
    if is_connect(spark):
        raise SparkOrtError(
            "sparkort.register needs a classic SparkSession (it registers a function in the driver's JVM); "
            "over Spark Connect use sparkort.predict(model, ...) or onnx_predict(map('modelLocation', ...), ...) "
            "in SQL"
        )
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    java_model = model._java_stage()
    jvm.io.sparkort.functions.register(spark._jsparkSession, name, java_model)


def transform_over_connect(model: "OnnxModel", dataset: "DataFrame") -> "DataFrame":
    """``OnnxModel.transform`` for a Spark Connect DataFrame: the same columns through onnx_predict."""
    from pyspark.sql import functions as F

    hidden = "__sparkort_predictions"
    with_predictions = dataset.withColumn(hidden, predict(model, struct=True))
    fields = with_predictions.schema[hidden].dataType.fieldNames()  # type: ignore[attr-defined]
    existing = {c.lower(): c for c in dataset.columns}
    for field in fields:
        if field.lower() in existing:
            from sparkort.errors import InvalidInputError

            raise InvalidInputError(
                f"output column '{field}' already exists in the DataFrame"
                + ("" if existing[field.lower()] == field else f" as '{existing[field.lower()]}' (Spark's column names ignore case)")
                + "; choose another name in fetchDict"
            )
    return with_predictions.select(
        *(F.col(_quoted(c)) for c in dataset.columns),
        *(F.col(hidden).getField(f).alias(f) for f in fields),
    )


__all__ = ["predict", "register"]
