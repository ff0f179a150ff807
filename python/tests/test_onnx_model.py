"""sparkort.OnnxModel, the pyspark.ml wrapper, checked against ONNX Runtime's Python API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pyspark.ml.param import Param
from pyspark.sql import SparkSession
from pyspark.sql.types import ArrayType, FloatType, IntegerType, StructField, StructType

import sparkort

from conftest import Iris, onnxruntime_outputs


def unseen_mlp(spark: SparkSession, models_dir: Path):  # type: ignore[no-untyped-def]
    case = json.loads((models_dir / "unseen_mlp.json").read_text())
    model_path = str(models_dir / case["model"])
    pixels = np.asarray(case["inputs"]["pixels"]["values"], dtype=np.float32)
    expected = onnxruntime_outputs(model_path, {"pixels": pixels})["out"]
    schema = StructType([StructField("id", IntegerType(), False), StructField("pixels", ArrayType(FloatType(), False))])
    df = spark.createDataFrame([(i, row.tolist()) for i, row in enumerate(pixels)], schema).repartition(3)
    return model_path, df, expected


def test_transform_scores_like_onnxruntime_python(spark: SparkSession, models_dir: Path) -> None:
    model_path, df, expected = unseen_mlp(spark, models_dir)
    model = sparkort.OnnxModel(modelLocation=model_path, feedDict={"pixels": "pixels"}, fetchDict={"scores": "out"}, batchSize=64)

    scored = model.transform(df)

    assert scored.columns == ["id", "pixels", "scores"]
    rows = sorted(scored.select("id", "scores").collect())
    assert [r.id for r in rows] == list(range(len(expected)))
    np.testing.assert_allclose(np.asarray([r.scores for r in rows], dtype=np.float32), expected, rtol=1e-5, atol=1e-6)


def test_fetch_dict_order_is_the_output_columns_order(spark: SparkSession, models_dir: Path) -> None:
    case = json.loads((models_dir / "two_inputs.json").read_text())
    values = case["inputs"]
    df = spark.createDataFrame(
        [(a, b) for a, b in zip(values["a"]["values"], values["b"]["values"])], "a array<float>, b array<float>"
    )
    fetch = {"z_norm": "norm", "a_sum": "sum"}
    model = sparkort.OnnxModel(modelLocation=str(models_dir / case["model"]), feedDict={"a": "a", "b": "b"}, fetchDict=fetch)
    assert model.transform(df).columns == ["a", "b", "z_norm", "a_sum"]
    assert model.transformSchema(df.schema).fieldNames() == ["a", "b", "z_norm", "a_sum"]


def test_declares_every_java_param_with_the_java_defaults(spark: SparkSession) -> None:
    model = sparkort.OnnxModel()
    java = model._java_obj
    declared = {name for name, value in vars(sparkort.OnnxModel).items() if isinstance(value, Param)}
    assert declared == {p.name() for p in java.params()}
    for name in declared:
        java_param = java.getParam(name)
        assert model.hasDefault(name) == java.hasDefault(java_param), name
        if java.hasDefault(java_param):
            default = java.getDefault(java_param).get()
            assert model.getOrDefault(name) == (dict(default) if name.endswith("Dict") else default), name
    # Python's keyword arguments and setters cover every param too.
    for name in declared:
        setter = "set" + name[0].upper() + name[1:]
        assert callable(getattr(model, setter)), setter


def test_keyword_arguments_setters_and_getters_round_trip_through_java(spark: SparkSession) -> None:
    model = sparkort.OnnxModel(modelLocation="/m.onnx", feedDict={"x": "c1", "y": "c2"}, batchSize=9)
    model.setFetchDict({"second": "b", "first": "a"})
    assert model.getModelLocation() == "/m.onnx"
    assert model.getBatchSize() == 9
    assert list(model.getFetchDict().items()) == [("second", "b"), ("first", "a")]
    model._transfer_params_to_java()
    java = model._java_obj
    assert java.getModelLocation() == "/m.onnx"
    assert java.getBatchSize() == 9
    assert list(java.getFeedDict().items()) == [("x", "c1"), ("y", "c2")]
    assert list(java.getFetchDict().items()) == [("second", "b"), ("first", "a")], "a LinkedHashMap keeps the order"
    copy = model.copy({model.batchSize: 3})
    assert copy.getBatchSize() == 3 and copy.getFeedDict() == model.getFeedDict()


def test_params_are_checked_before_they_cross(spark: SparkSession) -> None:
    with pytest.raises(TypeError, match="feedDict"):
        sparkort.OnnxModel(feedDict={"x": 1})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="batchSize"):
        sparkort.OnnxModel(batchSize="many")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="keyword"):
        sparkort.OnnxModel("m.onnx")  # type: ignore[misc]


def test_transform_schema_runs_no_job(spark: SparkSession, models_dir: Path) -> None:
    model_path, df, _ = unseen_mlp(spark, models_dir)
    model = sparkort.OnnxModel(modelLocation=model_path, feedDict={"pixels": "pixels"}, fetchDict={"scores": "out"})
    sc = spark.sparkContext
    sc.setJobGroup("schema-only", "transformSchema must not run jobs")
    schema = model.transformSchema(df.schema)
    sc.setJobGroup("other", "")
    assert sc.statusTracker().getJobIdsForGroup("schema-only") == []
    assert schema["scores"].dataType == ArrayType(FloatType(), False)


def test_handle_nulls_keep_reaches_the_java_stage(spark: SparkSession, iris: Iris) -> None:
    rows = [(0, iris.features[0].tolist()), (1, None), (2, iris.features[2].tolist())]
    df = spark.createDataFrame(rows, "id int, features array<float>").coalesce(1)
    model = sparkort.OnnxModel(modelLocation=str(iris.model), feedDict={"X": "features"},
                               fetchDict={"p": "probabilities"}, handleNulls="keep")
    scored = sorted(model.transform(df).collect())
    assert scored[1].p is None
    np.testing.assert_allclose([scored[0].p, scored[2].p], iris.probabilities[[0, 2]], rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="handleNulls"):
        model.setHandleNulls("drop")
