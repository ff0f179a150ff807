"""sparkort.OnnxModel.reserve and .metrics: the executors' model nodes seen from PySpark."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pyspark.sql import SparkSession
from pyspark.sql.types import ArrayType, FloatType, IntegerType, StructField, StructType

import sparkort


def test_reserve_then_score_pays_no_load_time(spark: SparkSession, models_dir: Path, tmp_path: Path) -> None:
    case = json.loads((models_dir / "linear.json").read_text())
    # A copy with one extra byte-level field (ModelProto field 99, which readers skip): a model no
    # other test has loaded into this JVM.
    model_path = tmp_path / "linear-reserved.onnx"
    model_path.write_bytes((models_dir / case["model"]).read_bytes() + bytes([0x98, 0x06, 41]))
    features = np.asarray(case["inputs"]["features"]["values"], dtype=np.float32)
    schema = StructType(
        [StructField("id", IntegerType(), False), StructField("features", ArrayType(FloatType(), False), False)]
    )
    df = spark.createDataFrame([(i, row.tolist()) for i, row in enumerate(features)], schema).repartition(2)
    model = sparkort.OnnxModel(modelLocation=str(model_path), feedDict={"features": "features"}, fetchDict={"score": "score"})

    reserved = model.reserve(spark)
    assert len(reserved) == 1, reserved  # local mode: the driver is the one executor
    assert reserved[0].executor_id == "driver" and reserved[0].loaded_by_reservation, reserved
    assert reserved[0].sessions == 2 and reserved[0].intra_op_threads == 1, reserved  # local[2]
    assert reserved[0].load_millis > 0 and reserved[0].resident_bytes > 0, reserved
    after_reservation = model.metrics()
    assert after_reservation.model_loads == 1

    scored = sorted(model.transform(df).collect(), key=lambda r: r.id)
    metrics = model.metrics()
    assert metrics.rows_scored == len(features)
    assert metrics.batches >= 2 and metrics.model_nanos > 0
    assert (metrics.model_loads, metrics.model_load_nanos) == (1, after_reservation.model_load_nanos), metrics
    expected = np.asarray(case["expected"]["score"]["values"], dtype=np.float32)[:, 0]
    np.testing.assert_allclose([r.score for r in scored], expected, rtol=1e-5, atol=1e-6)
    assert not model.reserve(spark)[0].loaded_by_reservation
