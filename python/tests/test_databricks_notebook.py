"""examples/databricks/score_table.py: a Databricks source-format notebook that parses as Python and
runs top to bottom on a local SparkSession once its paths point at local files."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest
from pyspark.sql import SparkSession

from conftest import REPO, Iris, onnxruntime_outputs

NOTEBOOK = REPO / "examples" / "databricks" / "score_table.py"
HEADER = "# Databricks notebook source\n"
SEPARATOR = "\n# COMMAND ----------\n"


def cells() -> List[str]:
    source = NOTEBOOK.read_text()
    assert source.startswith(HEADER)
    return source[len(HEADER):].split(SEPARATOR)


def point_at(cell: str, name: str, value: str) -> str:
    """Rewrites the notebook's `NAME = "..."` line, as a user editing the settings cell would."""
    pattern = re.compile(rf'^{name} = ".*"$', re.MULTILINE)
    assert pattern.search(cell), f"no {name} setting in the cell"
    return pattern.sub(f"{name} = {value!r}", cell)


def test_notebook_is_databricks_source_that_parses_as_python() -> None:
    ast.parse(NOTEBOOK.read_text(), filename=str(NOTEBOOK))
    parts = cells()
    assert len(parts) >= 3
    for cell in parts:
        ast.parse(cell)
    assert "pip install" not in NOTEBOOK.read_text(), "the cluster libraries are all it needs"
    assert any(re.search(r'MODEL_PATH = "(/Volumes/|dbfs:/)', cell) for cell in parts)


def test_cells_run_top_to_bottom_on_local_files(spark: SparkSession, iris: Iris, tmp_path: Path) -> None:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    # The model the notebook describes: skl2onnx's default conversion (label and ZipMap outputs).
    clf = LogisticRegression(max_iter=1000).fit(iris.features, iris.labels)
    model_path = tmp_path / "iris.onnx"
    model_path.write_bytes(to_onnx(clf, iris.features[:1]).SerializeToString())
    expected = onnxruntime_outputs(model_path, {"X": iris.features})
    labels, maps = expected["output_label"], expected["output_probability"]
    rows = [(i, *map(float, x)) for i, x in enumerate(iris.features)]
    spark.createDataFrame(rows, "id int, " + ", ".join(f"{c} double" for c in iris.columns)) \
        .createOrReplaceTempView("iris_notebook_input")

    namespace: Dict[str, Any] = {"spark": spark}
    for number, cell in enumerate(cells()):
        if "MODEL_PATH = " in cell:
            cell = point_at(cell, "MODEL_PATH", str(model_path))
            cell = point_at(cell, "INPUT_TABLE", "iris_notebook_input")
            cell = point_at(cell, "OUTPUT_TABLE", "iris_notebook_scored")
        exec(compile(cell, f"{NOTEBOOK.name} cell {number}", "exec"), namespace)

    scored = sorted(spark.table("iris_notebook_scored").collect(), key=lambda r: r.id)
    assert [r.id for r in scored] == list(range(len(iris.features)))
    assert [r.predicted for r in scored] == labels.tolist()
    for row, want in zip(scored, maps):
        assert set(row.probability) == set(want)
        np.testing.assert_allclose([row.probability[k] for k in want], list(want.values()), rtol=1e-6, atol=1e-7)


@pytest.fixture(autouse=True)
def _drop_output_table(spark: SparkSession) -> Any:
    yield
    spark.sql("DROP TABLE IF EXISTS iris_notebook_scored")
