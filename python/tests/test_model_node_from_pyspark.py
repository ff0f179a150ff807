"""Reservation and metrics of the Java OnnxModel, driven from PySpark through py4j."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import ArrayType, FloatType, IntegerType, StructField, StructType


def test_reserve_then_score_pays_no_load_time(spark: SparkSession, models_dir: Path) -> None:
    case = json.loads((models_dir / "linear.json").read_text())
    features = np.asarray(case["inputs"]["features"]["values"], dtype=np.float32)
    schema = StructType(
        [StructField("id", IntegerType(), False), StructField("features", ArrayType(FloatType(), False), False)]
    )
    df = spark.createDataFrame([(i, row.tolist()) for i, row in enumerate(features)], schema).repartition(2)

    model = spark.sparkContext._jvm.io.sparkort.OnnxModel().setModelLocation(str(models_dir / case["model"]))
    model = model.setFeedDict({"features": "features"}).setFetchDict({"score": "score"})
    reserved = list(model.reserve(spark._jsparkSession))
    assert len(reserved) == 1, [r.toString() for r in reserved]  # local mode: the driver is the executor
    assert reserved[0].executorId() == "driver"
    assert reserved[0].sessions() == 2 and reserved[0].residentBytes() > 0, reserved[0].toString()
    load_nanos = model.metrics().modelLoadNanos()

    scored = DataFrame(model.transform(df._jdf), spark).collect()
    assert len(scored) == len(features)
    metrics = model.metrics()
    assert metrics.rowsScored() == len(features)
    assert metrics.modelLoadNanos() == load_nanos, metrics.toString()
    expected = np.asarray(case["expected"]["score"]["values"], dtype=np.float32)[:, 0]
    got = np.asarray([r.score for r in sorted(scored, key=lambda r: r.id)], dtype=np.float32)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
