"""The JVM's resident memory, open file descriptors and threads before and after a long run.

    python ci/soak.py [--batches 6000] [--failing 200]

In one local[2] session: scores the linear test model once to load everything, reads the driver
JVM's (here also the executor's) VmRSS, open descriptors and threads from /proc, then scores
--batches batches of valid rows (batchSize 1) and fails --failing jobs with a bad row (each a named
InvalidInputError), then reads the same figures again, after a GC. A leak per batch or per failed
job shows as growth that scales with those counts; the figures are printed, not asserted. Spark's
own block-manager pools (block-manager-storage-async-thread-pool, block-manager-ask-thread-pool)
grow to 100 threads each over many jobs and retire idle ones after 60 s: that growth is theirs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))

import sparkort  # noqa: E402


def figures(pid: int) -> dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    threads = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("Threads:"))
    return {"rss_mib": rss // 1024, "fds": len(list(Path(f"/proc/{pid}/fd").iterdir())), "threads": threads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=6000)
    parser.add_argument("--failing", type=int, default=200)
    parser.add_argument("--models", default=str(ROOT / "build" / "test-models"))
    args = parser.parse_args()

    spark = (sparkort.session_builder().master("local[2]").appName("sparkort-soak")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    jvm = spark.sparkContext._jvm
    pid = int(jvm.java.lang.ProcessHandle.current().pid())
    model = sparkort.OnnxModel(modelLocation=f"{args.models}/linear.onnx", feedDict={"features": "f"},
                               fetchDict={"score": "score"})
    good = spark.range(args.batches).selectExpr("array_repeat(CAST(id % 7 AS FLOAT), 8) AS f").repartition(2)
    bad = spark.range(50).selectExpr("IF(id = 25, array(1f), array_repeat(1f, 8)) AS f").coalesce(1)

    def score(df) -> None:  # type: ignore[no-untyped-def]
        model.transform(df).write.format("noop").mode("overwrite").save()

    score(good.limit(100))
    jvm.System.gc()
    before = figures(pid)
    model.setBatchSize(1)
    score(good)
    failed = 0
    for _ in range(args.failing):
        try:
            score(bad)
        except sparkort.InvalidInputError:
            failed += 1
    jvm.System.gc()
    after = figures(pid)
    scored = model.metrics().rows_scored
    print(f"{args.batches} valid batches of 1 row, {failed} failed jobs ({scored} rows scored in all)")
    for key in before:
        print(f"{key}: {before[key]} before, {after[key]} after")
    spark.stop()


if __name__ == "__main__":
    main()
