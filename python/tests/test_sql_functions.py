"""SQL and Column scoring from Python: sparkort.predict, sparkort.register and onnx_predict in SQL give
ONNX Runtime Python's values, through the same plan node as transform, and name their mistakes."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

import sparkort

from conftest import Iris, onnxruntime_outputs


def iris_frame(spark: SparkSession, iris: Iris):  # type: ignore[no-untyped-def]
    rows = [(i, [float(v) for v in iris.features[i]], *[float(v) for v in iris.features[i]]) for i in range(len(iris.features))]
    schema = "id int, features array<float>, " + ", ".join(f"{c} float" for c in iris.columns)
    return spark.createDataFrame(rows, schema)


def assert_probabilities(rows, column: str, iris: Iris) -> None:  # type: ignore[no-untyped-def]
    ids = [r["id"] for r in rows]
    assert sorted(ids) == list(range(len(iris.features))), "every row once"
    got = np.array([r[column] for r in rows], dtype=np.float32)
    want = onnxruntime_outputs(iris.model, {"X": iris.features[ids]})["probabilities"]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def scoring_nodes(df) -> int:  # type: ignore[no-untyped-def]
    return str(df._jdf.queryExecution().executedPlan()).count("OnnxScore ")


def test_predict_by_location_and_by_model_scores_in_one_node(spark: SparkSession, iris: Iris) -> None:
    df = iris_frame(spark, iris)
    by_location = df.withColumn("p", sparkort.predict(str(iris.model), "features").getField("probabilities"))
    assert_probabilities(by_location.collect(), "p", iris)
    assert scoring_nodes(by_location) == 1
    model = sparkort.OnnxModel(modelLocation=str(iris.model), feedDict={"X": "features"}, fetchDict={"p": "probabilities"})
    by_model = df.select("id", sparkort.predict(model).alias("p"))
    assert_probabilities(by_model.collect(), "p", iris)
    assert scoring_nodes(by_model) == 1
    as_struct = df.select("id", sparkort.predict(model, F.col("features"), struct=True).alias("s"))
    assert as_struct.schema["s"].dataType.fieldNames() == ["p"]
    assert_probabilities(as_struct.select("id", "s.p").collect(), "p", iris)


def test_sql_takes_scalar_columns_and_a_registered_model(spark: SparkSession, iris: Iris) -> None:
    iris_frame(spark, iris).createOrReplaceTempView("iris_sql")
    sparkort.predict(str(iris.model), "features")  # the first use adds onnx_predict to this session
    columns = ", ".join(iris.columns)
    scalars = spark.sql(f"SELECT id, onnx_predict('{iris.model}', {columns}).probabilities AS p FROM iris_sql")
    assert_probabilities(scalars.collect(), "p", iris)

    model = sparkort.OnnxModel(
        modelLocation=str(iris.model), feedDict={"X": columns}, fetchDict={"p": "probabilities"}, batchSize=16
    )
    sparkort.register(spark, "iris_scores", model)
    registered = spark.sql(f"SELECT id, iris_scores({columns}) AS p FROM iris_sql")
    assert_probabilities(registered.collect(), "p", iris)
    described = " ".join(r[0] for r in spark.sql("DESCRIBE FUNCTION iris_scores").collect())
    assert str(iris.model) in described and "batchSize 16" in described, described


def test_sql_mistakes_are_sparkort_errors_naming_the_argument(spark: SparkSession, iris: Iris) -> None:
    df = iris_frame(spark, iris).withColumn("name", F.lit("x"))
    sparkort.predict(str(iris.model), "features")
    with pytest.raises(sparkort.InvalidInputError, match=r"onnx_predict\(.*argument 1 \(name\).*model input 'X'"):
        df.select(sparkort.predict(str(iris.model), "name"))
    with pytest.raises(sparkort.ModelLoadError, match=r"onnx_predict\('/no/such.onnx', \.\.\.\)"):
        df.selectExpr("onnx_predict('/no/such.onnx', features)")
    with pytest.raises(sparkort.SparkOrtError, match="SQL identifier"):
        sparkort.register(spark, "not a name", sparkort.OnnxModel(modelLocation=str(iris.model)))
