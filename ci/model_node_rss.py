"""Peak resident memory of an executor scoring one model with 1, 2 and 4 task slots.

    python ci/model_node_rss.py [--jar JAR] [--slots 1,2,4] [--hidden 4096] [--rows 4000]

For each slot count, starts local-cluster[1,<slots>,1024] (one executor JVM with that many task
slots, so the model node holds that many sessions), scores 2 x <slots> partitions of <rows> rows
with an MLP 512 -> hidden -> hidden -> 10 (72 MiB of float32 weights at hidden=4096), and reads the
executor process's VmHWM (peak RSS) and VmRSS from /proc/<pid>/status on this host. The executor's
Java heap is committed and touched up front (-Xms = -Xmx, -XX:+AlwaysPreTouch), so what RSS gains
while scoring is native memory: the model's weights, ONNX Runtime's sessions and per-run arenas,
Arrow buffers, thread stacks. With one copy of the weights per executor, the peak grows with the
slots only by each slot's working memory, not by the model's size. --jar measures another sparkort
build (an older one, say) the same way.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "ci"))
sys.path.insert(0, str(ROOT / "python"))

import models  # noqa: E402
import numpy as np  # noqa: E402
import sparkort  # noqa: E402


def executor_pids(app_id: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"org.apache.spark.executor.CoarseGrainedExecutorBackend" in cmdline and app_id.encode() in cmdline:
            pids.append(int(entry.name))
    return pids


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def measure(jar: str, model: Path, slots: int, rows: int, n_in: int, reserve: bool) -> tuple[int, int, int, float]:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import ArrayType, FloatType, StructField, StructType

    opens = os.environ.get("JAVA_OPENS", "")
    spark = (
        SparkSession.builder.master(f"local-cluster[1,{slots},1024]")
        .appName(f"sparkort-rss-{slots}")
        .config("spark.jars", jar)
        .config("spark.driver.extraClassPath", jar)
        .config("spark.ui.enabled", "false")
        .config("spark.sparkort.onnxruntime.library", os.environ["ORT_LIBRARY"])
        .config("spark.executor.extraJavaOptions", f"{opens} -Xms1024m -XX:+AlwaysPreTouch")
        .getOrCreate()
    )
    try:
        while spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() < 2:
            time.sleep(0.2)
        # An executor that failed to start is replaced by a newer one: the newest is the one that scores.
        pid = max(executor_pids(spark.sparkContext.applicationId))
        idle = status_kib(pid, "VmRSS")
        rng = np.random.default_rng(1)
        schema = StructType([StructField("features", ArrayType(FloatType(), False), False)])
        block = rng.standard_normal((rows, n_in)).astype(np.float32).tolist()
        df = spark.createDataFrame([(r,) for r in block], schema).repartition(2 * slots).cache()
        df.count()
        jvm = spark.sparkContext._jvm
        onnx = jvm.io.sparkort.OnnxModel().setModelLocation(str(model))
        onnx = onnx.setFeedDict({"features": "features"}).setFetchDict({"p": "probabilities"}).setBatchSize(256)
        if reserve:
            print(f"  reserved: {onnx.reserve(spark._jsparkSession).get(0).toString()}", flush=True)
        started = time.perf_counter()
        scored = DataFrame(onnx.transform(df._jdf), spark)
        assert scored.count() == rows
        seconds = time.perf_counter() - started
        return idle, status_kib(pid, "VmHWM"), status_kib(pid, "VmRSS"), seconds
    finally:
        spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jar", default=sparkort.jar_path())
    parser.add_argument("--slots", default="1,2,4")
    parser.add_argument("--hidden", type=int, default=4096)
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--reserve", action="store_true", help="OnnxModel.reserve before scoring (builds every session first)")
    args = parser.parse_args()
    n_in = 512
    model = ROOT / "build" / "rss" / f"mlp_{n_in}_{args.hidden}.onnx"
    models.build_mlp(model, n_in=n_in, hidden=args.hidden, n_out=10)
    weights_mib = (n_in * args.hidden + args.hidden * args.hidden + args.hidden * 10) * 4 / 2**20
    print(f"model {model.name}: {weights_mib:.0f} MiB of weights; jar {args.jar}")
    print("| task slots (sessions) | RSS before scoring | peak RSS (VmHWM) | peak - before | RSS after | scoring time |")
    print("|---|---|---|---|---|---|")
    for slots in (int(s) for s in args.slots.split(",")):
        idle, peak, after, seconds = measure(args.jar, model, slots, args.rows, n_in, args.reserve)
        print(f"| {slots} | {idle / 1024:.0f} MiB | {peak / 1024:.0f} MiB | {(peak - idle) / 1024:.0f} MiB "
              f"| {after / 1024:.0f} MiB | {seconds:.1f} s |", flush=True)


if __name__ == "__main__":
    main()
