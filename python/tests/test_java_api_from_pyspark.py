"""The Java API driven from PySpark through py4j, checked against onnxruntime's Python API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import ArrayType, FloatType, IntegerType, StructField, StructType


def test_scores_like_onnxruntime_python(spark: SparkSession, models_dir: Path) -> None:
    case = json.loads((models_dir / "unseen_mlp.json").read_text())
    model_path = str(models_dir / case["model"])
    pixels = np.asarray(case["inputs"]["pixels"]["values"], dtype=np.float32)
    expected = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"]).run(["out"], {"pixels": pixels})[0]

    schema = StructType(
        [StructField("id", IntegerType(), False), StructField("pixels", ArrayType(FloatType(), False), False)]
    )
    df = spark.createDataFrame([(i, row.tolist()) for i, row in enumerate(pixels)], schema).repartition(3)

    jvm = spark.sparkContext._jvm
    model = jvm.io.sparkort.OnnxModel().setModelLocation(model_path)
    model = model.setFeedDict({"pixels": "pixels"}).setFetchDict({"scores": "out"}).setBatchSize(64)
    scored = DataFrame(model.transform(df._jdf), spark)

    assert scored.columns == ["id", "pixels", "scores"]
    rows = sorted(scored.select("id", "scores").collect())
    assert [r.id for r in rows] == list(range(len(pixels)))
    got = np.asarray([r.scores for r in rows], dtype=np.float32)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
