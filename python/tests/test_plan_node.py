"""A scored DataFrame from Python is the same plan node as from Java: lazy until an action, errors at
the action as sparkort errors, and streamable with a checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

import sparkort

from conftest import Iris, onnxruntime_outputs


def iris_model(iris: Iris) -> sparkort.OnnxModel:
    return sparkort.OnnxModel(modelLocation=str(iris.model), feedDict={"X": "features"}, fetchDict={"p": "probabilities"})


def iris_rows(spark: SparkSession, iris: Iris, ids: range):  # type: ignore[no-untyped-def]
    rows = [(i, [float(v) for v in iris.features[i]]) for i in ids]
    return spark.createDataFrame(rows, "id int, features array<float>")


def assert_matches_onnxruntime(rows, iris: Iris) -> None:  # type: ignore[no-untyped-def]
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "no row twice"
    got = np.array([r["p"] for r in rows], dtype=np.float32)
    want = onnxruntime_outputs(iris.model, {"X": iris.features[ids]})["probabilities"]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("aqe", ["true", "false"])
def test_transform_of_a_shuffled_input_runs_no_job(spark: SparkSession, iris: Iris, aqe: str) -> None:
    spark.conf.set("spark.sql.adaptive.enabled", aqe)
    try:
        df = iris_rows(spark, iris, range(150)).groupBy("id").agg(F.first("features").alias("features"))
        sc = spark.sparkContext
        sc.setJobGroup("transform-only", "transform must not run jobs")
        scored = iris_model(iris).transform(df)
        scored.schema
        sc.setJobGroup("action", "")
        assert sc.statusTracker().getJobIdsForGroup("transform-only") == []
        assert_matches_onnxruntime(scored.collect(), iris)
    finally:
        spark.conf.unset("spark.sql.adaptive.enabled")


def test_a_bad_row_after_a_shuffle_fails_at_the_action(spark: SparkSession, iris: Iris) -> None:
    df = iris_rows(spark, iris, range(20)).repartition(3).selectExpr(
        "id", "IF(id = 5, concat(features, array(CAST(1 AS FLOAT))), features) AS features"
    )
    scored = iris_model(iris).transform(df)  # no error yet: nothing ran
    with pytest.raises(sparkort.InvalidInputError) as caught:
        scored.collect()
    assert "column 'features'" in str(caught.value) and "has 5 elements, expected 4" in str(caught.value)


def test_a_streaming_query_restarted_from_its_checkpoint_scores_each_row_once(
    spark: SparkSession, iris: Iris, tmp_path: Path
) -> None:
    source, sink, checkpoint = tmp_path / "in", tmp_path / "out", tmp_path / "checkpoint"
    source.mkdir()

    def add_file(ids: range) -> None:
        staging = tmp_path / f"staging-{ids.start}"
        iris_rows(spark, iris, ids).coalesce(1).write.parquet(str(staging))
        (part,) = staging.glob("*.parquet")
        part.rename(source / f"rows-{ids.start}.parquet")

    add_file(range(0, 50))
    add_file(range(50, 100))
    schema = spark.read.parquet(str(source)).schema

    def run() -> None:
        stream = spark.readStream.schema(schema).option("maxFilesPerTrigger", 1).parquet(str(source))
        query = (
            iris_model(iris).transform(stream).writeStream.format("parquet")
            .option("checkpointLocation", str(checkpoint)).start(str(sink))
        )
        query.processAllAvailable()
        query.stop()

    run()
    add_file(range(100, 150))
    run()
    assert_matches_onnxruntime(spark.read.parquet(str(sink)).collect(), iris)
    assert spark.read.parquet(str(sink)).count() == 150
