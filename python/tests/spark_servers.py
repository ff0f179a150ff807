"""Spark's own servers and command-line clients, run as subprocesses of a test, with the sparkort jar
and extension: the Thrift (JDBC) server and `beeline`, the `spark-sql` CLI, the Connect server.

Each server runs from the pyspark wheel of the interpreter running the tests (its bin/ scripts and
jars/), on a free port, in a folder of its own (warehouse, Derby metastore, logs, local dirs), in a
process group of its own so that stopping it stops every JVM it started. Readiness is the port
accepting connections, polled against a deadline while the process is alive; a server that dies or
never listens fails with its log's tail."""

from __future__ import annotations

import glob
import os
import shlex
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence

import pyspark

if TYPE_CHECKING:
    import numpy as np

EXTENSION = "io.sparkort.SparkOrtExtensions"
THRIFT_SERVER = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
CONNECT_SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"
START_TIMEOUT_S = 240.0
CLIENT_TIMEOUT_S = 300.0

SPARK_HOME = Path(pyspark.__file__).resolve().parent
SPARK_VERSION = tuple(int(p) for p in pyspark.__version__.split(".")[:2])


def spark_env(workdir: Path) -> Dict[str, str]:
    """The environment of a Spark launcher script: this wheel's Spark, an empty conf folder (no
    spark-defaults.conf or log4j2.properties from elsewhere), logs and scratch under `workdir`."""
    env = dict(os.environ)
    conf = workdir / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "log4j2.properties").write_text(
        "rootLogger.level = warn\n"
        "rootLogger.appenderRef.stderr.ref = console\n"
        "appender.console.type = Console\n"
        "appender.console.name = console\n"
        "appender.console.target = SYSTEM_ERR\n"
        "appender.console.layout.type = PatternLayout\n"
        "appender.console.layout.pattern = %d{HH:mm:ss.SSS} %p %c{1}: %m%n%ex\n"
    )
    scala = glob.glob(str(SPARK_HOME / "jars" / "scala-library-*.jar"))
    env.update(
        SPARK_HOME=str(SPARK_HOME),
        SPARK_CONF_DIR=str(conf),
        SPARK_LOG_DIR=str(workdir / "logs"),
        SPARK_LOCAL_DIRS=str(workdir / "local"),
        SPARK_PID_DIR=str(workdir),
    )
    if scala:
        env["SPARK_SCALA_VERSION"] = ".".join(Path(scala[0]).name[len("scala-library-"):].split(".")[:2])
    for name in ("PYSPARK_SUBMIT_ARGS", "SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED"):
        env.pop(name, None)
    return env


def session_args(workdir: Path, jar: Path) -> List[str]:
    """spark-submit options every server and CLI here takes: local[2], the jar, the extension, and a
    warehouse and Derby metastore inside `workdir` (never the current directory's)."""
    metastore = workdir / "metastore_db"
    return [
        "--master", "local[2]",
        "--jars", str(jar),
        "--driver-memory", "1g",
        "--driver-java-options", f"-Dderby.system.home={workdir} -Djava.io.tmpdir={workdir / 'tmp'}",
        "--conf", f"spark.sql.extensions={EXTENSION}",
        "--conf", f"spark.sql.warehouse.dir={workdir / 'warehouse'}",
        "--conf", f"spark.hadoop.javax.jdo.option.ConnectionURL=jdbc:derby:;databaseName={metastore};create=true",
        "--conf", f"spark.local.dir={workdir / 'local'}",
        "--conf", f"spark.sql.streaming.checkpointLocation={workdir / 'checkpoints'}",
        "--conf", "spark.ui.enabled=false",
        "--conf", "spark.ui.showConsoleProgress=false",
        "--conf", "spark.sql.shuffle.partitions=2",
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return int(s.getsockname()[1])


def tail(path: Path, lines: int = 80) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as e:
        return f"(no log at {path}: {e})"
    return "\n".join(text[-lines:])


@dataclass
class Server:
    """A Spark server started by `start`: its process (a group leader), port, folder and log."""

    name: str
    process: "subprocess.Popen[bytes]"
    port: int
    workdir: Path
    log: Path
    command: List[str] = field(default_factory=list)

    def log_tail(self, lines: int = 80) -> str:
        return f"--- last lines of {self.name}'s log ({self.log}) ---\n{tail(self.log, lines)}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM to the whole process group (spark-submit's shell and its JVM), then SIGKILL."""
        if self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue


def _wait_listening(server: Server, deadline: float) -> None:
    while True:
        if not server.alive():
            raise AssertionError(
                f"{server.name} exited with status {server.process.returncode} before listening on port "
                f"{server.port}\n{server.log_tail()}"
            )
        try:
            with socket.create_connection(("localhost", server.port), timeout=1.0):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{server.name} not listening on port {server.port} after {START_TIMEOUT_S:.0f} s\n{server.log_tail()}")
        time.sleep(0.25)


def start(name: str, main_class: str, workdir: Path, jar: Path, port: int, extra: Sequence[str]) -> Server:
    """spark-submit --class main_class with `session_args` and `extra`, in a new process group,
    output to workdir/<name>.log; returns once the port accepts connections."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "tmp").mkdir(exist_ok=True)
    log = workdir / f"{name}.log"
    command = [str(SPARK_HOME / "bin" / "spark-submit"), "--class", main_class, "--name", f"sparkort-test-{name}",
               *session_args(workdir, jar), *extra]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=workdir, env=spark_env(workdir), stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(name, process, port, workdir, log, command)
    try:
        _wait_listening(server, time.monotonic() + START_TIMEOUT_S)
    except BaseException:
        server.stop()
        raise
    return server


def start_thrift_server(workdir: Path, jar: Path) -> Server:
    """Spark's Thrift JDBC/ODBC server (HiveServer2's protocol, binary transport, no authentication)."""
    port = free_port()
    return start("thrift-server", THRIFT_SERVER, workdir, jar, port, [
        "--hiveconf", f"hive.server2.thrift.port={port}",
        "--hiveconf", "hive.server2.thrift.bind.host=localhost",
        "--hiveconf", f"hive.exec.scratchdir={workdir / 'hive-scratch'}",
        "--hiveconf", f"hive.exec.local.scratchdir={workdir / 'hive-local-scratch'}",
        "--hiveconf", f"hive.server2.logging.operation.log.location={workdir / 'operation-logs'}",
    ])


def start_connect_server(workdir: Path, jar: Path) -> Server:
    """Spark Connect's gRPC server."""
    port = free_port()
    return start("connect-server", CONNECT_SERVER, workdir, jar, port, [
        "--conf", f"spark.connect.grpc.binding.port={port}",
        "--conf", "spark.connect.grpc.binding.address=localhost",
    ])


@dataclass
class Result:
    """What a client command printed, and how it ended."""

    command: List[str]
    returncode: int
    stdout: str
    stderr: str

    def describe(self, server: Optional[Server] = None) -> str:
        def cut(text: str, keep: int = 4000) -> str:
            return text if len(text) <= 2 * keep else f"{text[:keep]}\n[... {len(text) - 2 * keep} characters ...]\n{text[-keep:]}"

        text = (f"$ {shlex.join(self.command)}\nexit status {self.returncode}\n--- stdout ---\n{cut(self.stdout)}\n"
                f"--- stderr ---\n{cut(self.stderr)}")
        return text + ("\n" + server.log_tail() if server is not None else "")


def run_client(command: Sequence[str], workdir: Path, env: Optional[Dict[str, str]] = None,
               timeout: float = CLIENT_TIMEOUT_S) -> Result:
    workdir.mkdir(parents=True, exist_ok=True)
    process = subprocess.run(list(command), cwd=workdir, env=env if env is not None else spark_env(workdir),
                             stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                             start_new_session=True)
    return Result(list(command), process.returncode, process.stdout.decode(errors="replace"),
                  process.stderr.decode(errors="replace"))


def beeline(server: Server, statements: Sequence[str], workdir: Path) -> Result:
    """The wheel's beeline: one JDBC session against the Thrift server running each statement (its
    own `-e`, so that a failed one does not stop the next), each result as CSV with a header row
    (`--outputformat=csv2`)."""
    command = [str(SPARK_HOME / "bin" / "beeline"), "-u", f"jdbc:hive2://localhost:{server.port}/default",
               "-n", "sparkort", "--silent=true", "--showHeader=true", "--outputformat=csv2"]
    for statement in statements:
        command += ["-e", statement]
    return run_client(command, workdir)


def spark_sql(sql: str, workdir: Path, jar: Path) -> Result:
    """The wheel's `spark-sql` CLI with the jar and the extension, running `sql` (`-e`); each row is
    printed as tab-separated values, without a header."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "tmp").mkdir(exist_ok=True)
    return run_client([str(SPARK_HOME / "bin" / "spark-sql"), *session_args(workdir, jar), "-S", "-e", sql], workdir)


@dataclass(frozen=True)
class ScoringTable:
    """A Parquet table for the clients to score, with ONNX Runtime Python's outputs on its rows, in
    id order. Columns: id (bigint), pixels (array<float>, 20: unseen_mlp's input), f0..f7 (float:
    linear's 8 features as scalar columns), a (array<float>, 3) and b (float: two_inputs' inputs)."""

    path: Path
    ids: "np.ndarray"
    mlp: Path
    linear: Path
    two_inputs: Path
    mlp_out: "np.ndarray"  # [N, 5]
    linear_score: "np.ndarray"  # [N]
    two_sum: "np.ndarray"  # [N, 3]
    two_norm: "np.ndarray"  # [N]


def write_scoring_table(folder: Path, models: Path, rows: int = 37, seed: int = 15) -> ScoringTable:
    """Writes folder/table.parquet (rows in shuffled id order, two row groups) with pyarrow."""
    import numpy as np
    import onnxruntime as ort
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    ids = np.arange(rows, dtype=np.int64)
    pixels = rng.standard_normal((rows, 20)).astype(np.float32)
    f = rng.standard_normal((rows, 8)).astype(np.float32)
    a = rng.standard_normal((rows, 3)).astype(np.float32)
    b = rng.standard_normal(rows).astype(np.float32)

    def run(model: Path, feeds: Dict[str, "np.ndarray"]) -> List["np.ndarray"]:
        session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        return list(session.run(None, feeds))

    mlp, linear, two = models / "unseen_mlp.onnx", models / "linear.onnx", models / "two_inputs.onnx"
    (mlp_out,) = run(mlp, {"pixels": pixels})
    (score,) = run(linear, {"features": f})
    two_sum, two_norm = run(two, {"a": a, "b": b[:, None]})

    order = rng.permutation(rows)
    list_of = lambda m: pa.array([list(map(float, r)) for r in m[order]], type=pa.list_(pa.float32()))  # noqa: E731
    columns = {"id": pa.array(ids[order]), "pixels": list_of(pixels)}
    columns.update({f"f{i}": pa.array(f[order, i], type=pa.float32()) for i in range(8)})
    columns.update(a=list_of(a), b=pa.array(b[order], type=pa.float32()))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "table.parquet"
    pq.write_table(pa.table(columns), str(path), row_group_size=(rows + 1) // 2)
    return ScoringTable(path, ids, mlp, linear, two, mlp_out, score[:, 0], two_sum, two_norm)
