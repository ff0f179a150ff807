"""The benchmark's pieces (ci/benchmark) on a few rows: every path scores every workload like
ONNX Runtime's Python API does, from either source; spark_read reads the rows as they are; the
report's serial limit adds spark_read's and ort_alone's CPU per row. Speed is the benchmark's
business (`make bench`), not this test's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession

CI = Path(__file__).resolve().parents[2] / "ci"
sys.path.insert(0, str(CI))

from benchmark import paths, report, run_path, workloads  # noqa: E402

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


@pytest.mark.parametrize("source", paths.SOURCES)
@pytest.mark.parametrize("workload", list(workloads.WORKLOADS))
@pytest.mark.parametrize("path", paths.SPARK_PATHS)
def test_path_scores_like_onnxruntime(spark: SparkSession, prepared, workload: str, path: str, source: str) -> None:
    w = workloads.by_name(workload)
    model, data = prepared[workload]
    inputs = workloads.read_inputs(data, w.feeds)
    # The limit's own scorer, two threads over contiguous shares: rows come back in file order (= id).
    expected = paths.OrtAlone(str(model), w, threads=2).run(inputs, BATCH[workload], keep=True)
    assert expected.shape[0] == ROWS[workload]

    df = run_path.source_rows(spark, source, str(data), 2, ROWS[workload])
    try:
        scored = run_path.spark_frame(path, spark, df, w, str(model), BATCH[workload])
        assert scored.columns == df.columns + [w.output_column]
        rows = sorted(scored.select("id", w.output_column).collect())
    finally:
        df.unpersist()
        spark.conf.unset(paths.ARROW_BATCH_CONF)
    assert [r.id for r in rows] == list(range(ROWS[workload]))
    got = np.asarray([r[1] for r in rows], dtype=np.float32).reshape(expected.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def _scoring_line(frame) -> str:
    plan = frame._jdf.queryExecution().executedPlan().toString()
    lines = [line for line in plan.splitlines() if "OnnxScore " in line]
    assert len(lines) == 1, plan
    return lines[0]


@pytest.mark.parametrize("source", paths.SOURCES)
@pytest.mark.parametrize("workload", list(workloads.WORKLOADS))
def test_columnar_and_row_paths_score_every_workload_alike(spark: SparkSession, prepared, workload: str,
                                                           source: str) -> None:
    """Each workload, from each source, scored from column batches where the source gives them and
    (spark.sparkort.columnar off) from rows: the same bits. Parquet's vectorized reader gives batches
    of every numeric column (the wide table's 101 with the bench's maxFields); Spark's cache only of
    primitive columns, not arrays; string inputs (sklearn) always go by rows."""
    w = workloads.by_name(workload)
    kinds = {f.kind for f in w.feeds}
    batches = "string" not in kinds and (source == "parquet" or "tensor" not in kinds)
    model, data = prepared[workload]
    spark.conf.set("spark.sql.codegen.maxFields", str(run_path.CODEGEN_MAX_FIELDS))
    scored = {}
    try:
        for columnar in (True, False):
            spark.conf.set("spark.sparkort.columnar", str(columnar).lower())
            df = run_path.source_rows(spark, source, str(data), 2, ROWS[workload])
            try:
                frame = run_path.spark_frame("sparkort", spark, df, w, str(model), BATCH[workload])
                assert ("columnar" in _scoring_line(frame)) == (columnar and batches), _scoring_line(frame)
                rows = sorted(frame.select("id", w.output_column).collect())
            finally:
                df.unpersist()
            assert [r.id for r in rows] == list(range(ROWS[workload]))
            scored[columnar] = np.asarray([r[1] for r in rows], dtype=np.float32)
    finally:
        spark.conf.unset("spark.sparkort.columnar")
        spark.conf.unset("spark.sql.codegen.maxFields")
    np.testing.assert_array_equal(scored[True], scored[False])
    expected = paths.OrtAlone(str(model), w, threads=1).run(workloads.read_inputs(data, w.feeds), BATCH[workload],
                                                             keep=True)
    np.testing.assert_allclose(scored[True].reshape(expected.shape), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("source", paths.SOURCES)
def test_spark_read_is_the_rows_as_they_are(spark: SparkSession, prepared, source: str) -> None:
    w = workloads.by_name("wide")
    model, data = prepared["wide"]
    df = run_path.source_rows(spark, source, str(data), 2, ROWS["wide"])
    try:
        frame = run_path.spark_frame(paths.READ, spark, df, w, str(model), BATCH["wide"])
        assert frame.columns == ["id"] + w.columns
        got = sorted(frame.collect())
    finally:
        df.unpersist()
    expected = pq.read_table(str(data)).to_pylist()
    assert [tuple(r) for r in got] == [tuple(r.values()) for r in expected]


@pytest.mark.parametrize("workload,rows", [("linear", 5 * workloads.GROUP_BYTES // 2 // 40), ("sklearn", 400_000)])
def test_row_groups_fall_evenly_into_the_slots_splits(spark: SparkSession, tmp_path: Path, workload: str,
                                                      rows: int) -> None:
    """The bench's Parquet files split into as many rows per task slot, as the bench reads them.

    Failed before: in groups of as many rows as fit 8 MiB, Spark's split of 2.5 groups' worth of the
    linear table went 40/60; with the file's 4 MB open cost counted, the sklearn table's (whose
    strings take less than the rows' estimate, so its groups are small) went 75/25."""
    # ResNet-50's rows: 16 groups of 12 (groups of as many rows as fit 8 MiB made 91 and 101 a slot).
    assert workloads.row_group_rows(192, 3 * 224 * 224 * 4 + 8) == 12
    assert workloads.row_group_rows(40, 48) == 40
    _, data = workloads.by_name(workload).prepare(tmp_path, rows)
    for key, value in run_path.SPLITS.items():
        spark.conf.set(key, value)
    try:
        counts = spark.read.parquet(str(data)).rdd.glom().map(len).collect()
    finally:
        for key in run_path.SPLITS:
            spark.conf.unset(key)
    assert counts == [rows // 2, rows // 2]


def test_wide_parquet_is_read_by_the_vectorized_reader(spark: SparkSession, prepared) -> None:
    """The bench sessions' spark.sql.codegen.maxFields lets Spark's vectorized reader take the wide
    table's 101 columns (at the default 100 it reads them row by row)."""
    _, data = prepared["wide"]
    plan = lambda: spark.read.parquet(str(data))._jdf.queryExecution().executedPlan().toString()  # noqa: E731
    assert "ColumnarToRow" not in plan()
    spark.conf.set("spark.sql.codegen.maxFields", str(run_path.CODEGEN_MAX_FIELDS))
    try:
        assert "ColumnarToRow" in plan()
    finally:
        spark.conf.unset("spark.sql.codegen.maxFields")


def test_run_path_measures_each_source(prepared, tmp_path: Path) -> None:
    """run_path in a process of its own: one RESULT per source, with its CPU per row."""
    model, data = prepared["wide"]
    command = [sys.executable, "-m", "benchmark.run_path", "--workload", "wide", "--path", paths.READ,
               "--model", str(model), "--data", str(data), "--rows", str(ROWS["wide"]),
               "--batch-size", str(BATCH["wide"]), "--threads", "2", "--runs", "1", "--min-seconds", "0",
               "--sources", "parquet,cache", "--jar", os.environ.get("SPARKORT_JAR", ""),
               "--driver-memory", "1g"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(CI), str(CI.parent / "python")]))
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    results = [json.loads(line[len(run_path.RESULT):]) for line in done.stdout.splitlines()
               if line.startswith(run_path.RESULT)]
    assert [r.get("source") for r in results] == ["parquet", "cache"], done.stderr[-3000:]
    for r in results:
        assert "error" not in r, r
        assert r["cpu_us_per_row"] > 0 and len(r["runs"]) == 1
    # A split per task slot; this small a file is one row group, so one split holds every row and
    # the cache is shuffled into one partition per slot.
    assert [r["partitions"] for r in results] == [2, 2]


def _result(path: str, source, cpu: float, rate: float) -> dict:
    return {"workload": "wide", "path": path, "source": source, "threads": 2, "rows": 10, "batch_size": 7,
            "rows_per_s": rate, "cpu_us_per_row": cpu, "peak_rss_bytes": 2**20, "other_cores": 0.0,
            "runs": [{"rows_per_s": rate, "passes": 1}]}


def test_report_compares_with_the_serial_limit() -> None:
    run = {"threads": 2, "runs": 1, "results": [
        _result(paths.LIMIT, None, 3.0, 600_000),
        _result(paths.READ, "parquet", 1.0, 2_000_000), _result("sparkort", "parquet", 5.0, 300_000),
        _result(paths.READ, "cache", 0.5, 4_000_000), _result("sparkort", "cache", 4.0, 450_000),
    ]}
    found = report._by(run["results"])
    assert report.serial_limit_us(found, "wide", "parquet") == 4.0
    # 2 cores at 4 us a row: 500,000 rows/s; sparkort's 300,000 is 0.6x of it, in CPU 4 / 5 = 0.8x.
    assert report.ratio(found, "wide", "parquet", "sparkort", report.SERIAL) == pytest.approx(0.6)
    assert report.ratio(found, "wide", "parquet", report.SERIAL, "sparkort", key="cpu_us_per_row") == pytest.approx(0.8)
    assert report.ratio(found, "wide", "cache", "sparkort", report.SERIAL) == pytest.approx(450_000 / (2e6 / 3.5))
    assert report.ratio(found, "wide", "cache", "sparkort", paths.LIMIT) == pytest.approx(0.75)
    table = {(r[0], r[1]): r for r in report.rows(run)}
    assert [k[0] for k in table] == ["wide", "wide (parquet)", "wide (parquet)", "wide (cache)", "wide (cache)"]
    at = report.HEADER.index
    assert table[("wide (parquet)", "sparkort")][at("x serial limit")] == "0.60x"
    assert table[("wide (parquet)", "sparkort")][at("x serial limit (CPU)")] == "0.80x"
    assert table[("wide", paths.LIMIT)][at("x serial limit")] == "-"
    assert report.limits(run) == [["wide (parquet)", "1.000", "3.000", "4.000", "250,000", "500,000"],
                                  ["wide (cache)", "0.500", "3.000", "3.500", "285,714", "571,429"]]


def test_batch_tax_is_the_cost_a_batch_adds_beyond_onnxruntimes() -> None:
    from benchmark import batch_tax

    # 1,600 rows: 100 batches of 16 against 2 of 1,024 (one partial); 0.98 ms more over 98 batches.
    assert batch_tax.per_batch({16: 0.00198, 1024: 0.001}, 1600) == pytest.approx(10.0)
    tax = {"rows": 1600, "small": 16, "large": 1024, "ort_alone_us_per_batch": 4.0,
           "sources": {"parquet": {"us_per_batch": 5.0, "tax_us": 1.0, "columnar": True},
                       "cache": {"us_per_batch": 6.5, "tax_us": 2.5, "columnar": False}}}
    assert report.batch_tax_rows(tax) == [["linear (parquet)", "column batches", "5.00", "4.00", "+1.00"],
                                          ["linear (cache)", "rows", "6.50", "4.00", "+2.50"]]
    assert report.batch_tax_summary({"error": "exited 1"}) == "exited 1"


def test_targets_are_taken_on_each_source() -> None:
    run = {"threads": 2, "runs": 1, "results": [
        _result(paths.LIMIT, None, 3.0, 600_000), _result(paths.READ, "parquet", 1.0, 2_000_000),
        _result("sparkort", "parquet", 4.2, 475_000), _result(paths.READ, "cache", 0.5, 4_000_000),
        _result("sparkort", "cache", 4.0, 450_000), _result(report.PEER, "cache", 20.0, 100_000)]}
    found = {(r[0], r[1]): r[2:] for r in report.targets(run)}
    # 475,000 of the parquet limit's 500,000 rows/s is 0.95x: met; the cache's 450,000 of 571,429 is not.
    assert found[("wide (parquet)", "sparkort / serial limit >= 0.95")] == ["0.95x", "yes", "-"]
    assert found[("wide (cache)", "sparkort / serial limit >= 0.95")] == ["0.79x", "no", "-"]
    # The cache's serial limit, 571,429 rows/s, is 5.71x predict_batch_udf's 100,000.
    assert found[("wide (cache)", "sparkort / predict_batch_udf >= 4")] == ["4.50x", "yes", "5.71x"]
    assert found[("wide (parquet)", "sparkort / predict_batch_udf >= 4")] == ["-", "not measured", "-"]
