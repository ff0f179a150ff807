"""Java exceptions surface as sparkort.SparkOrtError subclasses with the Java exception's message:
on the driver (transform, transformSchema, save, load) and in failed jobs (at the user's action)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

import sparkort
from sparkort.errors import from_java

from conftest import REPO, Iris


def iris_model(iris: Iris, **params: object) -> sparkort.OnnxModel:
    model = sparkort.OnnxModel(modelLocation=str(iris.model), feedDict={"X": "features"}, fetchDict={"p": "probabilities"})
    return model.setParams(**params)  # type: ignore[arg-type]


def test_unknown_column_is_an_invalid_input_error_on_the_driver(spark: SparkSession, iris: Iris) -> None:
    df = spark.createDataFrame([([1.0, 2.0, 3.0, 4.0],)], "featurez array<float>")
    model = iris_model(iris)
    for call in (lambda: model.transform(df), lambda: model.transformSchema(df.schema)):
        with pytest.raises(sparkort.InvalidInputError) as caught:
            call()
        message = str(caught.value)
        assert "column 'features'" in message and "model input 'X'" in message and "featurez" in message, message
        assert caught.value.java_class == "io.sparkort.InvalidInputException"


def test_missing_model_file_is_a_model_load_error(spark: SparkSession, iris: Iris, tmp_path: Path) -> None:
    df = spark.createDataFrame([([1.0, 2.0, 3.0, 4.0],)], "features array<float>")
    missing = str(tmp_path / "missing.onnx")
    with pytest.raises(sparkort.ModelLoadError, match="missing.onnx"):
        iris_model(iris, modelLocation=missing).transform(df)
    with pytest.raises(sparkort.ModelLoadError, match="missing.onnx"):
        iris_model(iris, modelLocation=missing).save(str(tmp_path / "stage"))
    with pytest.raises(sparkort.ModelLoadError, match="no saved OnnxModel"):
        sparkort.OnnxModel.load(str(tmp_path / "nothing-saved-here"))


def test_bad_row_fails_the_action_with_an_invalid_input_error(spark: SparkSession, iris: Iris) -> None:
    df = spark.createDataFrame([([1.0, 2.0, 3.0, 4.0],), ([1.0, 2.0, 3.0],)], "features array<float>").coalesce(1)
    scored = iris_model(iris).transform(df)  # nothing runs yet
    with pytest.raises(sparkort.InvalidInputError) as caught:
        scored.collect()
    message = str(caught.value)
    assert message.startswith("column 'features'"), "the executor's message, not Spark's job summary: " + message
    for part in ("model input 'X'", "row 1 of partition 0", "has 3 elements, expected 4"):
        assert part in message, message
    # The session still scores.
    assert len(iris_model(iris).transform(df.limit(1)).collect()) == 1


@pytest.mark.parametrize(
    "java_class, error",
    [
        ("io.sparkort.InvalidInputException", sparkort.InvalidInputError),
        ("io.sparkort.ModelLoadException", sparkort.ModelLoadError),
        ("io.sparkort.InferenceException", sparkort.InferenceError),
        ("io.sparkort.NativeLibraryException", sparkort.NativeLibraryError),
        ("io.sparkort.SparkOrtException", sparkort.SparkOrtError),
    ],
)
def test_each_java_exception_maps_to_its_error_anywhere_in_the_cause_chain(
    spark: SparkSession, java_class: str, error: type
) -> None:
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    cls = jvm
    for part in java_class.split("."):
        cls = getattr(cls, part)
    thrown = cls("model input 'x': something precise")
    # As a failed job delivers it: Spark's exception, whose cause is ours.
    job_failure = jvm.org.apache.spark.SparkException("Job aborted due to stage failure: ...", thrown)
    for java in (thrown, job_failure):
        converted = from_java(java)
        assert type(converted) is error
        assert isinstance(converted, sparkort.SparkOrtError)
        assert str(converted) == "model input 'x': something precise"
        assert converted.java_class == java_class
    assert from_java(jvm.org.apache.spark.SparkException("not ours")) is None


def test_without_a_session_or_without_the_jar_the_error_says_what_to_do() -> None:
    script = textwrap.dedent(
        """
        import sparkort
        from pyspark.sql import SparkSession

        try:
            sparkort.OnnxModel()
        except sparkort.SparkOrtError as e:
            print("no session:", e)
        spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
        try:
            sparkort.OnnxModel()
        except sparkort.SparkOrtError as e:
            print("no jar:", e)
        spark.stop()
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "SPARKORT_JAR"}
    env["PYTHONPATH"] = str(REPO / "python")
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "no session: no active SparkSession" in run.stdout, run.stdout
    assert "no jar: io.sparkort.OnnxModel is not on this Spark application's classpath" in run.stdout, run.stdout
    assert "sparkort.session_builder()" in run.stdout
