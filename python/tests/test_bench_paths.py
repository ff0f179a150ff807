"""The benchmark's pieces (ci/benchmark) on a few rows: every path scores every workload like
ONNX Runtime's Python API does. Speed is the benchmark's business (`make bench`), not this test's."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "ci"))

from benchmark import paths, workloads  # noqa: E402

# Few rows, and batches small enough that every partition scores several of them.
ROWS = {"linear": 40, "mlp": 40, "resnet50": 4, "sklearn": 40, "wide": 40}
BATCH = {"linear": 7, "mlp": 7, "resnet50": 1, "sklearn": 7, "wide": 7}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    return {name: w.prepare(root, ROWS[name]) for name, w in workloads.WORKLOADS.items()}


def test_wide_rows_are_one_double_column_per_feature(prepared) -> None:
    w = workloads.by_name("wide")
    model, data = prepared["wide"]
    schema = pq.read_schema(str(data))
    assert schema.names == ["id"] + [f"x_{i:03d}" for i in range(100)]
    assert {str(schema.field(c).type) for c in schema.names[1:]} == {"double"}
    inputs = workloads.read_inputs(data, w.feeds)
    assert inputs["X"].shape == (ROWS["wide"], 100) and inputs["X"].dtype == np.float32
    table = pq.read_table(str(data))
    np.testing.assert_array_equal(inputs["X"][:, 7], table.column("x_007").to_numpy().astype(np.float32))
    # The forest's two probabilities per row, not all the same.
    probabilities = paths.OrtAlone(str(model), w, threads=1).run(inputs, BATCH["wide"], keep=True)
    assert probabilities.shape == (ROWS["wide"], 2)
    assert len(np.unique(probabilities[:, 1])) > 1


@pytest.mark.parametrize("workload", list(workloads.WORKLOADS))
@pytest.mark.parametrize("path", paths.SPARK_PATHS)
def test_path_scores_like_onnxruntime(spark: SparkSession, prepared, workload: str, path: str) -> None:
    w = workloads.by_name(workload)
    model, data = prepared[workload]
    inputs = workloads.read_inputs(data, w.feeds)
    # The limit's own scorer, two threads over contiguous shares: rows come back in file order (= id).
    expected = paths.OrtAlone(str(model), w, threads=2).run(inputs, BATCH[workload], keep=True)
    assert expected.shape[0] == ROWS[workload]

    df = spark.read.parquet(str(data)).repartition(2).cache()
    try:
        scored = paths.SPARK_SCORERS[path](spark, df, w, str(model), BATCH[workload])
        assert scored.columns == df.columns + [w.output_column]
        rows = sorted(scored.select("id", w.output_column).collect())
    finally:
        df.unpersist()
        spark.conf.unset(paths.ARROW_BATCH_CONF)
    assert [r.id for r in rows] == list(range(ROWS[workload]))
    got = np.asarray([r[1] for r in rows], dtype=np.float32).reshape(expected.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
