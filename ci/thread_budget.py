"""How to split an executor's cores between sessions and intra-op threads, measured.

    python ci/thread_budget.py [--cores N] [--rows 200000] [--runs 3]

On local[N] (N task slots; default: this machine's cores), scores a cached DataFrame with two MLPs
(64 -> 256 -> 256 -> 10, and 512 -> 2048 -> 2048 -> 10) under each split of the budget:

  N x 1   one session per task slot, one thread each (sparkort's default)
  1 x N   one session with N intra-op threads, which the N tasks take turns on
  N x N   a session per task slot with N threads each: what per-task sessions with ONNX
          Runtime's default pool do (N x N threads on N cores)
  1 x 1   one session, one thread: the serial floor

and prints rows/s (the median of --runs runs, after one warm-up run) and each split's ratio to the
default. spark.sparkort.sessions and spark.sparkort.intraOpThreads set the split. Timings on a
shared or loaded machine are noisy: compare ratios within one run of this script.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "ci"))
sys.path.insert(0, str(ROOT / "python"))

import models  # noqa: E402
import sparkort  # noqa: E402


def rows_per_second(cores: int, sessions: int, threads: int, model: Path, n_in: int, rows: int, runs: int) -> float:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql import functions as F

    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(f"sparkort-threads-{sessions}x{threads}")
        .config("spark.jars", sparkort.jar_path())
        .config("spark.ui.enabled", "false")
        .config("spark.sparkort.sessions", str(sessions))
        .config("spark.sparkort.intraOpThreads", str(threads))
        .getOrCreate()
    )
    try:
        features = F.array(*[F.rand(seed=i) for i in range(n_in)]).cast("array<float>").alias("features")
        df = spark.range(rows).select(features).repartition(4 * cores).cache()
        df.count()
        jvm = spark.sparkContext._jvm
        onnx = jvm.io.sparkort.OnnxModel().setModelLocation(str(model))
        onnx = onnx.setFeedDict({"features": "features"}).setFetchDict({"p": "probabilities"}).setBatchSize(1024)
        scored = DataFrame(onnx.transform(df._jdf), spark)
        seconds = []
        for _ in range(runs + 1):
            started = time.perf_counter()
            scored.write.format("noop").mode("overwrite").save()
            seconds.append(time.perf_counter() - started)
        return rows / statistics.median(seconds[1:])
    finally:
        spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    n = args.cores
    splits = [(n, 1), (1, n), (n, n), (1, 1)] if n > 1 else [(1, 1)]
    load = os.getloadavg()[0]
    print(f"local[{n}] on a machine with {os.cpu_count()} cores, load average {load:.1f} at the start")
    for name, n_in, hidden, rows in [("mlp 64-256-256-10", 64, 256, args.rows), ("mlp 512-2048-2048-10", 512, 2048, args.rows // 10)]:
        model = ROOT / "build" / "threads" / f"mlp_{n_in}_{hidden}.onnx"
        models.build_mlp(model, n_in=n_in, hidden=hidden, n_out=10)
        print(f"\n{name}, {rows} rows, batches of 1024")
        print("| sessions x threads | rows/s | vs the default |")
        print("|---|---|---|")
        default = None
        for sessions, threads in splits:
            rate = rows_per_second(n, sessions, threads, model, n_in, rows, args.runs)
            default = default or rate
            print(f"| {sessions} x {threads} | {rate:,.0f} | {rate / default:.2f} |", flush=True)


if __name__ == "__main__":
    main()
