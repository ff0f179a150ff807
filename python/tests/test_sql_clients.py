"""onnx_predict from Spark's own SQL clients, with only the jar and the extension conf: Spark 4.1's
Thrift (JDBC) server queried by the wheel's beeline, and Spark 3.5's spark-sql CLI. Each scores a
Parquet table written here with three models (one array input; eight scalar columns into one input;
two inputs and two outputs, a struct) and the results are compared with ONNX Runtime's Python API.
Each server or CLI starts once for the module; the bad calls run in the same session, after the
good query."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import numpy as np
import pytest

import spark_servers
from conftest import REPO
from spark_servers import Result, ScoringTable, Server

SPARK_4_1 = spark_servers.SPARK_VERSION >= (4, 1)
FEATURES = ", ".join(f"f{i}" for i in range(8))
HEADER = ["id", "out", "score", "both"]


def jar() -> Path:
    return Path(os.environ.get("SPARKORT_JAR", REPO / "dist" / "sparkort-0.1.0.jar"))


def scoring_sql(table: ScoringTable) -> List[str]:
    return [f"CREATE TEMPORARY VIEW t USING parquet OPTIONS (path '{table.path}')",
            f"SELECT id, onnx_predict('{table.mlp}', pixels) AS out, onnx_predict('{table.linear}', {FEATURES}) AS score, "
            f"onnx_predict('{table.two_inputs}', a, b) AS both FROM t ORDER BY id"]


def missing_model(table: ScoringTable) -> str:
    return str(table.path.parent / "no-such-model.onnx")


def bad_calls(table: ScoringTable) -> List[str]:
    """Two mistakes: an input left out of a two-input model's call, and a model that does not exist."""
    return [f"SELECT id, onnx_predict('{table.two_inputs}', a) AS p FROM t",
            f"SELECT id, onnx_predict('{missing_model(table)}', pixels) AS p FROM t"]


Row = Tuple[int, Any, float, Any]


def parse(fields: List[str]) -> Row:
    """A row as the clients print it: arrays and structs as JSON ([1.5,2.0], {"sum":[...],"norm":0.5})."""
    assert len(fields) == len(HEADER), fields
    return int(fields[0]), json.loads(fields[1]), float(fields[2]), json.loads(fields[3])


def assert_scores(rows: List[Row], table: ScoringTable, result: Result, server: "Server | None" = None) -> None:
    assert [r[0] for r in rows] == list(table.ids), f"every row once, in id order\n{result.describe(server)}"
    np.testing.assert_allclose(np.array([r[1] for r in rows], np.float32), table.mlp_out, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.array([r[2] for r in rows], np.float32), table.linear_score, rtol=1e-6, atol=1e-6)
    assert all(set(r[3]) == {"sum", "norm"} for r in rows), rows[0][3]
    np.testing.assert_allclose(np.array([r[3]["sum"] for r in rows], np.float32), table.two_sum, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.array([r[3]["norm"] for r in rows], np.float32), table.two_norm, rtol=1e-6, atol=1e-7)


def assert_names_the_mistakes(errors: List[str], table: ScoringTable, result: Result, server: "Server | None" = None,
                              calls: int = 2) -> None:
    """errors[i]: the message of bad_calls(table)[i], for the first `calls` of them."""
    assert len(errors) >= calls and all("UNRESOLVED_ROUTINE" not in e for e in errors), \
        f"onnx_predict unresolved, or a bad call did not fail\n{result.describe(server)}"
    assert "onnx_predict" in errors[0], f"the wrong argument count is not named\n{result.describe(server)}"
    if calls > 1:
        assert missing_model(table) in errors[1], f"the missing model is not named\n{result.describe(server)}"


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> ScoringTable:
    return spark_servers.write_scoring_table(tmp_path_factory.mktemp("sql-table"), models_dir)


# ---- JDBC: Spark 4.1's Thrift server and beeline ----

@pytest.fixture(scope="module")
def thrift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not SPARK_4_1:
        pytest.skip("the Thrift server is tested on Spark 4.1")
    server = spark_servers.start_thrift_server(tmp_path_factory.mktemp("thrift-server"), jar())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def jdbc(thrift: Server, table: ScoringTable) -> Result:
    """One beeline (JDBC) session: the view, the scoring query, then the bad calls."""
    result = spark_servers.beeline(thrift, scoring_sql(table) + bad_calls(table), thrift.workdir / "beeline")
    assert thrift.alive(), f"the Thrift server died\n{result.describe(thrift)}"
    return result


def test_jdbc_scores_as_onnxruntime_does(jdbc: Result, thrift: Server, table: ScoringTable) -> None:
    lines = jdbc.stdout.splitlines()
    # beeline prints its prompt before a statement's header: "0: jdbc:hive2://...> id,out,score,both".
    starts = [i for i, line in enumerate(lines) if line.endswith(",".join(HEADER))]
    assert len(starts) == 1, f"one result with columns {HEADER}\n{jdbc.describe(thrift)}"
    body = lines[starts[0] + 1: starts[0] + 1 + len(table.ids)]
    # csv2 quotes a field holding the separator with NUL characters.
    rows = [parse(fields) for fields in csv.reader(body, quotechar="\x00")]
    assert_scores(rows, table, jdbc, thrift)


def test_jdbc_names_the_function_and_the_model_in_errors(jdbc: Result, thrift: Server, table: ScoringTable) -> None:
    errors = [line for line in jdbc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 2, f"each bad call fails, and only they\n{jdbc.describe(thrift)}"
    assert_names_the_mistakes(errors, table, jdbc, thrift)


# ---- spark-sql, Spark 3.5's CLI ----

@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory, table: ScoringTable) -> Result:
    """One spark-sql run: the view, the scoring query, then one bad call (the CLI stops at it)."""
    if SPARK_4_1:
        pytest.skip("the spark-sql CLI is tested on Spark 3.5")
    sql = ";\n".join(scoring_sql(table) + bad_calls(table)[:1]) + ";\n"
    return spark_servers.spark_sql(sql, tmp_path_factory.mktemp("spark-sql"), jar())


def test_spark_sql_cli_scores_as_onnxruntime_does(cli: Result, table: ScoringTable) -> None:
    lines = [line for line in cli.stdout.splitlines() if line.split("\t")[0].isdigit()]
    assert len(lines) == len(table.ids), f"a row per id\n{cli.describe()}"
    assert_scores([parse(line.split("\t")) for line in lines], table, cli)


def test_spark_sql_cli_names_the_function_in_errors(cli: Result, table: ScoringTable) -> None:
    assert cli.returncode != 0, f"the bad call fails the CLI\n{cli.describe()}"
    assert "UNRESOLVED_ROUTINE" not in cli.stderr, f"onnx_predict unresolved\n{cli.describe()}"
    # The error's message, not the statement the CLI may echo.
    errors = [line for line in cli.stderr.splitlines() if "onnx_predict" in line and not line.lstrip().upper().startswith("SELECT")]
    assert_names_the_mistakes(errors, table, cli, calls=1)
