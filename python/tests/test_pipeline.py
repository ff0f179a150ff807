"""sparkort.OnnxModel as a pyspark.ml Pipeline stage: fitted, saved with its model's bytes, loaded in
a new SparkSession (a new process) after the model file is gone, and across Python and Java."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import List

import numpy as np
from pyspark.ml import Pipeline, PipelineModel, Transformer
from pyspark.ml.feature import SQLTransformer, VectorAssembler
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame, SparkSession

import sparkort

from conftest import REPO, Iris


def iris_table(spark: SparkSession, iris: Iris) -> DataFrame:
    """The iris features as four float columns and an id, the way a table holds them."""
    rows = [(i, *map(float, x)) for i, x in enumerate(iris.features)]
    schema = "id int, " + ", ".join(f"{c} float" for c in iris.columns)
    return spark.createDataFrame(rows, schema).repartition(3)


def probabilities(scored: DataFrame) -> List[List[float]]:
    return [list(r.probabilities) for r in scored.orderBy("id").select("probabilities").collect()]


def doomed_copy(iris: Iris, tmp_path: Path) -> Path:
    """A copy of the model that the test deletes once the pipeline is saved."""
    copy = tmp_path / "iris-to-delete.onnx"
    shutil.copy(iris.model, copy)
    return copy


def score_in_a_new_process(pipeline_path: Path, iris: Iris, tmp_path: Path) -> List[List[float]]:
    """Loads the saved pipeline in a new Python process (its own SparkSession and JVM) and scores."""
    data = tmp_path / "iris.json"
    data.write_text(json.dumps({"columns": iris.columns, "rows": iris.features.tolist()}))
    out = tmp_path / "scored.json"
    script = textwrap.dedent(
        f"""
        import json
        from pyspark.ml import PipelineModel
        import sparkort

        spark = sparkort.session_builder().master("local[2]").config("spark.ui.enabled", "false").getOrCreate()
        data = json.load(open({str(data)!r}))
        schema = "id int, " + ", ".join(c + " float" for c in data["columns"])
        df = spark.createDataFrame([(i, *row) for i, row in enumerate(data["rows"])], schema)
        model = PipelineModel.load({str(pipeline_path)!r})
        assert type(model.stages[1]) is sparkort.OnnxModel, type(model.stages[1])
        rows = model.transform(df).orderBy("id").select("probabilities").collect()
        json.dump([list(r.probabilities) for r in rows], open({str(out)!r}, "w"))
        spark.stop()
        """
    )
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"))
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=300)
    return json.loads(out.read_text())


def test_vector_assembler_pipeline_reloads_in_a_new_session_after_the_model_file_is_deleted(
    spark: SparkSession, iris: Iris, tmp_path: Path
) -> None:
    model_file = doomed_copy(iris, tmp_path)
    pipeline = Pipeline(stages=[
        VectorAssembler(inputCols=iris.columns, outputCol="features"),
        sparkort.OnnxModel(modelLocation=str(model_file), feedDict={"X": "features"},
                           fetchDict={"probabilities": "probabilities"}, batchSize=16),
    ])
    table = iris_table(spark, iris)
    fitted = pipeline.fit(table)
    before = probabilities(fitted.transform(table))
    np.testing.assert_allclose(before, iris.probabilities, rtol=1e-5, atol=1e-6)

    saved = tmp_path / "pipeline"
    fitted.save(str(saved))
    model_file.unlink()

    assert score_in_a_new_process(saved, iris, tmp_path) == before
    # Java's PipelineModel.load reads what Python saved, and scores the same.
    java_model = spark.sparkContext._jvm.org.apache.spark.ml.PipelineModel.load(str(saved))  # type: ignore[union-attr]
    assert probabilities(DataFrame(java_model.transform(table._jdf), spark)) == before


def test_java_saved_pipeline_loads_in_python(spark: SparkSession, iris: Iris, tmp_path: Path) -> None:
    model_file = doomed_copy(iris, tmp_path)
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    assemble = jvm.org.apache.spark.ml.feature.SQLTransformer().setStatement(
        "SELECT id, array(" + ", ".join(iris.columns) + ") AS features FROM __THIS__"
    )
    fetch = jvm.java.util.LinkedHashMap()
    fetch.put("probabilities", "probabilities")
    feed = jvm.java.util.LinkedHashMap()
    feed.put("X", "features")
    onnx = jvm.io.sparkort.OnnxModel().setModelLocation(str(model_file)).setFeedDict(feed).setFetchDict(fetch).setBatchSize(8)
    stages = spark.sparkContext._gateway.new_array(jvm.org.apache.spark.ml.PipelineStage, 2)  # type: ignore[union-attr]
    stages[0], stages[1] = assemble, onnx
    table = iris_table(spark, iris)
    java_fitted = jvm.org.apache.spark.ml.Pipeline().setStages(stages).fit(table._jdf)
    saved = tmp_path / "java-pipeline"
    java_fitted.write().save(str(saved))
    model_file.unlink()

    loaded = PipelineModel.load(str(saved))
    stage = loaded.stages[1]
    assert type(stage) is sparkort.OnnxModel
    assert stage.uid == onnx.uid()
    assert stage.getFeedDict() == {"X": "features"}
    assert stage.getBatchSize() == 8
    assert Path(stage.getModelLocation()).name == model_file.name, "the stage reads a copy of the saved model"
    assert isinstance(loaded.stages[0], SQLTransformer)
    np.testing.assert_allclose(probabilities(loaded.transform(table)), iris.probabilities, rtol=1e-5, atol=1e-6)


def test_stage_saves_and_loads_alone(spark: SparkSession, iris: Iris, tmp_path: Path) -> None:
    model_file = doomed_copy(iris, tmp_path)
    model = sparkort.OnnxModel(modelLocation=str(model_file), feedDict={"X": "features"},
                               fetchDict={"probabilities": "probabilities"}, batchSize=5)
    model.write().overwrite().save(str(tmp_path / "stage"))
    model_file.unlink()

    loaded = sparkort.OnnxModel.load(str(tmp_path / "stage"))
    assert type(loaded) is sparkort.OnnxModel
    assert (loaded.uid, loaded.getFeedDict(), loaded.getFetchDict(), loaded.getBatchSize()) == (
        model.uid, model.getFeedDict(), model.getFetchDict(), 5)
    df = spark.createDataFrame([(i, x.tolist()) for i, x in enumerate(iris.features)], "id int, features array<float>")
    np.testing.assert_allclose(probabilities(loaded.transform(df)), iris.probabilities, rtol=1e-5, atol=1e-6)


class ToArray(Transformer, DefaultParamsReadable["ToArray"], DefaultParamsWritable):
    """A Python-only stage: with it, PySpark saves the pipeline itself and finds each stage's class by name."""

    def _transform(self, dataset: DataFrame) -> DataFrame:
        columns = [c for c in dataset.columns if c != "id"]
        return dataset.selectExpr("id", f"array({', '.join(columns)}) AS features")


def test_pipeline_with_a_python_stage_saves_and_loads(spark: SparkSession, iris: Iris, tmp_path: Path) -> None:
    model_file = doomed_copy(iris, tmp_path)
    onnx = sparkort.OnnxModel(modelLocation=str(model_file), feedDict={"X": "features"},
                              fetchDict={"probabilities": "probabilities"})
    fitted = Pipeline(stages=[ToArray(), onnx]).fit(iris_table(spark, iris))
    fitted.save(str(tmp_path / "mixed"))
    model_file.unlink()

    loaded = PipelineModel.load(str(tmp_path / "mixed"))
    assert [type(s) for s in loaded.stages] == [ToArray, sparkort.OnnxModel]
    np.testing.assert_allclose(probabilities(loaded.transform(iris_table(spark, iris))), iris.probabilities,
                               rtol=1e-5, atol=1e-6)
