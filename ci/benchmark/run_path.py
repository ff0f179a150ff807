"""One path on one workload, in a process of its own (so each path's memory is its own):
loads the rows, warms up for one run, then times `--runs` runs and prints one RESULT line of JSON
(a Spark path: one per source, measured one after the other in the same Spark session).

A run scores every row in whole passes until at least `--min-seconds` have gone by; its rate is
rows x passes / seconds. The Spark paths write their DataFrame with a `noop` write, which
materialises every output row and keeps nothing, reading the rows from each of `--sources`: the
Parquet file, read again every pass (`parquet`), or the DataFrame cached in memory (`.cache()` then
`count()`, `cache`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Callable, Dict, List, Optional

from benchmark import paths, workloads

RESULT = "RESULT "
CODEGEN_MAX_FIELDS = 1000


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workload", required=True, choices=list(workloads.WORKLOADS))
    p.add_argument("--path", required=True, choices=paths.ALL_PATHS)
    p.add_argument("--sources", default=",".join(paths.SOURCES),
                   help="a Spark path's comma-separated sources, measured in this order: " + ", ".join(paths.SOURCES))
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--min-seconds", type=float, default=3.0)
    p.add_argument("--warmup-seconds", type=float, default=6.0,
                   help="the first warm-up run's least length, in a fresh process (later sources' warm-ups, in "
                        "a JVM that has run the path already, last --min-seconds)")
    p.add_argument("--jar", help="the sparkort jar (Spark paths)")
    p.add_argument("--driver-memory", default="4g")
    return p.parse_args(argv)


class ProcessTree:
    """A process and, with descendants, all its children (Spark's Python workers are children of
    the JVM): their summed CPU time, and the peak of their summed resident memory, sampled every
    `interval` s (a scan of /proc costs ~1.5 ms of the driver's CPU; a single process is read without one)."""

    def __init__(self, pid: int, descendants: bool, interval: float = 0.25):
        self.pid, self.descendants, self.interval, self.peak_rss = pid, descendants, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _sample(self):
        while True:
            self.peak_rss = max(self.peak_rss, sum(_rss_bytes(p) for p in self._pids()))
            if self._stop.wait(self.interval):
                return

    def cpu_seconds(self) -> float:
        """User + system time of every process in the tree now (all threads; a worker that has
        already exited is not counted)."""
        return sum(_cpu_ticks(p) for p in self._pids()) / os.sysconf("SC_CLK_TCK")

    def _pids(self) -> List[int]:
        return _tree(self.pid) if self.descendants else [self.pid]


def machine_busy_seconds() -> float:
    """CPU time every process on the machine has used (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # less idle and iowait


def _stat_fields(pid: int) -> List[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def _tree(root: int) -> List[int]:
    children: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(_stat_fields(int(entry))[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def _cpu_ticks(pid: int) -> int:
    try:
        fields = _stat_fields(pid)
        return int(fields[11]) + int(fields[12])  # utime, stime
    except (OSError, IndexError, ValueError):
        return 0


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def _passes(job: Callable[[], None], min_seconds: float):
    """Whole passes until at least min_seconds have gone by: (passes, seconds)."""
    passes, start = 0, time.perf_counter()
    while True:
        job()
        passes += 1
        seconds = time.perf_counter() - start
        if seconds >= min_seconds:
            return passes, seconds


def timed(job: Callable[[], None], rows: int, runs: int, min_seconds: float, tree: ProcessTree,
          label: str = "", warmup_seconds: Optional[float] = None) -> dict:
    """A warm-up run, then `runs` timed runs, each of whole passes lasting at least min_seconds (the
    warm-up at least warmup_seconds, if given). (A single warm-up pass leaves the JIT compiling
    through the first timed runs: a warm-up as long as a run does not, and in a fresh JVM a longer
    one compiles more of it.) Besides rows/s, each run records the CPU time the path's processes
    spent per row: on a shared machine that figure holds steadier than the wall clock."""
    warmup_passes, warmup = _passes(job, min_seconds if warmup_seconds is None else warmup_seconds)
    measured = []
    for _ in range(runs):
        cpu, busy = tree.cpu_seconds(), machine_busy_seconds()
        passes, seconds = _passes(job, min_seconds)
        cpu, busy = tree.cpu_seconds() - cpu, machine_busy_seconds() - busy
        measured.append({"passes": passes, "seconds": round(seconds, 3), "rows_per_s": rows * passes / seconds,
                         "cpu_us_per_row": cpu * 1e6 / (rows * passes),
                         # Cores busy with anything but the path's processes (the measuring driver included).
                         "other_cores": max(0.0, busy - cpu) / seconds})
        print(f"  {label}run {len(measured)}: {passes} pass(es) in {seconds:.2f} s = {measured[-1]['rows_per_s']:,.0f} rows/s, "
              f"{measured[-1]['cpu_us_per_row']:.3f} CPU us/row, {measured[-1]['other_cores']:.2f} cores busy with other work",
              file=sys.stderr, flush=True)
    return {"warmup_seconds": round(warmup, 3), "warmup_passes": warmup_passes, "runs": measured,
            "rows_per_s": statistics.median(r["rows_per_s"] for r in measured),
            "cpu_us_per_row": statistics.median(r["cpu_us_per_row"] for r in measured),
            "other_cores": statistics.median(r["other_cores"] for r in measured)}


def start_spark(threads: int, jar: str, driver_memory: str, extension: bool = False):
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    # For profiling (e.g. -XX:StartFlightRecording=...): the local-mode JVM is the executor.
    if os.environ.get("BENCH_JAVA_OPTIONS"):
        builder = builder.config("spark.driver.extraJavaOptions", os.environ["BENCH_JAVA_OPTIONS"])
    if extension:
        builder = builder.config("spark.sql.extensions", paths.EXTENSION)
    builder = (
        builder.master(f"local[{threads}]")
        .appName("sparkort-bench")
        .config("spark.jars", jar)
        .config("spark.driver.memory", driver_memory)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.adaptive.enabled", "false")
        # Above this many columns (default 100) Spark reads Parquet and its cache row by row, not
        # with the vectorized readers, and compiles no whole-stage code: the wide table has 101.
        .config("spark.sql.codegen.maxFields", str(CODEGEN_MAX_FIELDS))
    )
    for key, value in SPLITS.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


# No cap on a file split's bytes, and no bytes counted for opening a file: Spark then cuts the
# Parquet file into one split per task slot, each a `threads`th of its bytes, and with the file's
# equal row groups (workloads.row_group_rows) each split holds as many rows, as the cache's
# repartition(threads) does. (The 4 MB counted for opening it moved the cut off the middle: 2M rows
# of the sklearn table, 36 MB, went 1.125M and 875k.)
SPLITS = {"spark.sql.files.maxPartitionBytes": str(1 << 40), "spark.sql.files.openCostInBytes": "0"}


def even_splits(df, threads: int) -> bool:
    """Whether the read's splits are one per task slot, of as many rows each (the cache keeps them
    then; else it is shuffled into such partitions: a file of one row group makes a split per slot,
    all but one of them empty)."""
    from pyspark.sql import functions as F

    counts = [row[1] for row in df.groupBy(F.spark_partition_id()).count().collect()]
    return len(counts) == threads and max(counts) - min(counts) <= 1


def source_rows(spark, source: str, data: str, threads: int, rows: int):
    """The rows the Spark paths read, every column: `parquet`, the file itself (each action reads it
    again, with Spark's vectorized reader, in one split per task slot given start_spark's conf), or
    `cache`, a DataFrame in Spark's in-memory cache of that read, one partition per task slot, built
    and counted here."""
    if source == "parquet":
        df = spark.read.parquet(data)
    elif source == "cache":
        # (A fresh DataFrame to cache: one whose plan was already planned keeps that plan, not the cache.)
        df = spark.read.parquet(data)
        df = (df if even_splits(df, threads) else df.repartition(threads)).cache()
    else:
        raise ValueError(f"unknown source '{source}'; choose from {', '.join(paths.SOURCES)}")
    count = df.count()
    if count != rows:
        raise RuntimeError(f"{data} holds {count} rows, expected {rows}")
    return df


def spark_frame(path: str, spark, df, w: workloads.Workload, model: str, batch_size: int):
    """What a Spark path writes: spark_read the rows as they are, a scoring path its scored rows."""
    return df if path == paths.READ else paths.SPARK_SCORERS[path](spark, df, w, model, batch_size)


def run_spark_path(args, w: workloads.Workload) -> List[dict]:
    """Each source in turn, in one Spark session: a warm-up run and the timed runs per source (the
    cached rows are dropped after theirs)."""
    spark = start_spark(args.threads, args.jar, args.driver_memory, args.path in paths.WITH_EXTENSION)
    results = []
    try:
        for n, source in enumerate(args.sources.split(",")):
            try:
                df = source_rows(spark, source, args.data, args.threads, args.rows)
                try:
                    frame = spark_frame(args.path, spark, df, w, args.model, args.batch_size)
                    with ProcessTree(spark.sparkContext._gateway.proc.pid, descendants=True) as tree:
                        result = timed(lambda: frame.write.format("noop").mode("overwrite").save(),
                                       args.rows, args.runs, args.min_seconds, tree, label=f"{source} ",
                                       warmup_seconds=None if n else args.warmup_seconds)
                    results.append(dict(result, source=source, partitions=df.rdd.getNumPartitions(),
                                        peak_rss_bytes=tree.peak_rss))
                finally:
                    if source == "cache":
                        df.unpersist(blocking=True)
            except Exception as e:  # the other sources still run
                traceback.print_exc()
                results.append({"source": source, "error": _first_line(e)})
    finally:
        spark.stop()
    return results


def run_limit(args, w: workloads.Workload) -> List[dict]:
    inputs = workloads.read_inputs(Path(args.data), w.feeds)
    scorer = paths.OrtAlone(args.model, w, args.threads)
    with ProcessTree(os.getpid(), descendants=False) as tree:
        result = timed(lambda: scorer.run(inputs, args.batch_size), args.rows, args.runs, args.min_seconds, tree,
                       warmup_seconds=args.warmup_seconds)
    return [dict(result, peak_rss_bytes=tree.peak_rss)]


def main(argv=None) -> int:
    args = parse_args(argv)
    w = workloads.by_name(args.workload)
    try:
        results = (run_limit if args.path == paths.LIMIT else run_spark_path)(args, w)
    except Exception as e:  # the table reports a path that cannot score a workload, and the run goes on
        traceback.print_exc()
        sources = [None] if args.path == paths.LIMIT else args.sources.split(",")
        results = [{"source": s, "error": _first_line(e)} for s in sources]
    for result in results:
        print(RESULT + json.dumps(result), flush=True)
    return 0


def _first_line(error: BaseException) -> str:
    """The line of an error that says what went wrong, for the table."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    # A Python worker's error ends with the Python traceback: its last line is the exception.
    if any(line.startswith("Traceback") for line in lines):
        return lines[-1][:300]
    # py4j wraps a Java exception: its own message is on the line that names the exception class.
    named = [line for line in lines if "Exception:" in line]
    return ((named or lines or [type(error).__name__])[0]).lstrip(": ")[:300]


if __name__ == "__main__":
    sys.exit(main())
