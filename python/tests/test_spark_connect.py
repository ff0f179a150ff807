"""A Spark 4.1 Connect server started with the jar and the extension, and a Connect client in a
Python of its own (pyspark-client with its gRPC pins, no py4j, no JVM: ci/setup's .venv-connect)
scoring through SQL, sparkort.predict and sparkort.OnnxModel.transform, each compared with ONNX
Runtime's Python API on the same rows. The server starts once for the module, the client runs once."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, Iterator

import numpy as np
import pytest

import spark_servers
from conftest import REPO
from spark_servers import ScoringTable

pytestmark = pytest.mark.skipif(spark_servers.SPARK_VERSION < (4, 1), reason="Spark Connect's server is tested on Spark 4.1")

CLIENT_PYTHON = Path(os.environ.get("SPARKORT_CONNECT_PYTHON", REPO / ".venv-connect" / "bin" / "python"))


def jar() -> Path:
    return Path(os.environ.get("SPARKORT_JAR", REPO / "dist" / "sparkort-0.1.0.jar"))


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> ScoringTable:
    return spark_servers.write_scoring_table(tmp_path_factory.mktemp("connect-table"), models_dir)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, table: ScoringTable) -> Iterator[Dict[str, Any]]:
    """What connect_client.py reported, run once against a server started for this module."""
    assert CLIENT_PYTHON.exists(), f"no Connect client Python at {CLIENT_PYTHON}: run ci/setup"
    workdir = tmp_path_factory.mktemp("connect-server")
    server = spark_servers.start_connect_server(workdir, jar())
    try:
        spec = workdir / "spec.json"
        out = workdir / "out.json"
        spec.write_text(json.dumps({"url": f"sc://localhost:{server.port}", "table": str(table.path),
                                    "mlp": str(table.mlp), "linear": str(table.linear), "two_inputs": str(table.two_inputs)}))
        env = dict(os.environ, PYTHONPATH=str(REPO / "python"), SPARKORT_JAR=str(jar()))
        for name in ("SPARK_HOME", "PYSPARK_PYTHON", "SPARK_REMOTE", "PYSPARK_SUBMIT_ARGS"):
            env.pop(name, None)
        result = spark_servers.run_client([str(CLIENT_PYTHON), str(Path(__file__).with_name("connect_client.py")),
                                           str(spec), str(out)], workdir / "client", env=env)
        assert result.returncode == 0 and out.exists(), f"the Connect client failed\n{result.describe(server)}"
        report = json.loads(out.read_text())
        report["_server_log"] = server.log_tail(40)
        yield report
    finally:
        server.stop()


def value(client: Dict[str, Any], step: str) -> Any:
    got = client[step]
    assert "error" not in got, (f"{step} raised {got.get('module')}.{got.get('error')}: {got.get('message')}\n"
                                f"{got.get('traceback')}\n{client['_server_log']}")
    return got["value"]


def by_id(rows: Any, table: ScoringTable) -> list:
    ids = [r[0] for r in rows]
    assert ids == list(table.ids), "every row once, in id order"
    return [r[1] for r in rows]


def test_the_client_is_a_connect_session_without_py4j(client: Dict[str, Any]) -> None:
    assert client["session_class"].startswith("pyspark.sql.connect."), client["session_class"]
    assert client["py4j_installed"] is False, "the client's Python is a Connect-only client"
    assert client["py4j_imported"] == [] and client["classic_imported"] == []


def test_sql_scores_as_onnxruntime_does(client: Dict[str, Any], table: ScoringTable) -> None:
    got = np.array(by_id(value(client, "sql"), table), dtype=np.float32)
    np.testing.assert_allclose(got, table.mlp_out, rtol=1e-6, atol=1e-7)


def test_sql_with_scalar_columns_and_several_outputs(client: Dict[str, Any], table: ScoringTable) -> None:
    scores = np.array(by_id(value(client, "sql_scalars"), table), dtype=np.float32)
    np.testing.assert_allclose(scores, table.linear_score, rtol=1e-6, atol=1e-6)
    structs = by_id(value(client, "sql_struct"), table)
    assert all(set(s) == {"sum", "norm"} for s in structs), structs[0]
    np.testing.assert_allclose(np.array([s["sum"] for s in structs], np.float32), table.two_sum, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.array([s["norm"] for s in structs], np.float32), table.two_norm, rtol=1e-6, atol=1e-7)


def test_predict_columns_score_as_onnxruntime_does(client: Dict[str, Any], table: ScoringTable) -> None:
    np.testing.assert_allclose(np.array(by_id(value(client, "predict"), table), np.float32), table.mlp_out, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.array(by_id(value(client, "predict_scalars"), table), np.float32), table.linear_score,
                               rtol=1e-6, atol=1e-6)
    structs = by_id(value(client, "predict_struct"), table)
    np.testing.assert_allclose(np.array([s["sum"] for s in structs], np.float32), table.two_sum, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.array([s["norm"] for s in structs], np.float32), table.two_norm, rtol=1e-6, atol=1e-7)


def test_onnx_model_transform_unchanged_over_connect(client: Dict[str, Any], table: ScoringTable) -> None:
    np.testing.assert_allclose(np.array(by_id(value(client, "transform"), table), np.float32), table.mlp_out, rtol=1e-6, atol=1e-7)
    columns = value(client, "transform_columns")
    assert columns[-1] == "p" and "pixels" in columns and "id" in columns, columns
    schema = value(client, "transform_schema")
    assert schema["p"] == "array<float>" and schema["id"] == "bigint", schema


@pytest.mark.parametrize("method", ["reserve", "metrics", "register"])
def test_driver_side_methods_raise_a_sparkort_error_over_connect(client: Dict[str, Any], method: str) -> None:
    got = client[method]
    assert got["raised"] is not None, f"{method} did not raise over Connect: {got}"
    assert got["is_sparkort_error"], f"{method} raised {got['raised']}: {got['message']}"
    assert method in got["message"] and "Connect" in got["message"], got["message"]
