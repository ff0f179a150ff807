"""The cost of a batch beyond its rows: sparkort's against ONNX Runtime's own, in one process.

One task slot and one ONNX Runtime session: the linear workload (the cheapest model per row, so
what a batch costs beyond its rows stands out) scored at a small and a large batch size, by sparkort
from each source (Parquet: column batches in; the cache of an array column: rows in) and by ONNX
Runtime alone on the same rows in numpy. A path's cost per batch is its time per pass at the small
size less that at the large one, over the batches the small size adds. sparkort's tax per batch is
its cost per batch less ONNX Runtime's: what sparkort adds to each run of the model.

`python -m benchmark.batch_tax --data DIR --rows N --jar JAR` prints one RESULT line (JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from benchmark import paths, run_path, workloads

SMALL, LARGE = 16, 1024


def per_batch(seconds: dict, rows: int) -> float:
    """Microseconds a batch costs beyond its rows: the time the small size adds, over the batches it adds."""
    added = -(-rows // SMALL) - -(-rows // LARGE)
    return (seconds[SMALL] - seconds[LARGE]) * 1e6 / added


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="folder for the workload's model and rows")
    p.add_argument("--rows", type=int, default=400_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--min-seconds", type=float, default=1.0)
    p.add_argument("--jar", required=True)
    args = p.parse_args(argv)
    w = workloads.by_name("linear")
    model, data = w.prepare(Path(args.data), args.rows)

    def seconds_per_pass(job, tree, label) -> float:
        result = run_path.timed(job, args.rows, args.runs, args.min_seconds, tree, label=label)
        return args.rows / result["rows_per_s"]

    scorer = paths.OrtAlone(str(model), w, threads=1)
    inputs = workloads.read_inputs(data, w.feeds)
    with run_path.ProcessTree(os.getpid(), descendants=False) as tree:
        ort = {b: seconds_per_pass(lambda b=b: scorer.run(inputs, b), tree, f"ort_alone {b} ") for b in (SMALL, LARGE)}
    result = {"workload": w.name, "rows": args.rows, "small": SMALL, "large": LARGE,
              "ort_alone_us_per_batch": per_batch(ort, args.rows), "sources": {}}
    spark = run_path.start_spark(1, args.jar, "2g")
    try:
        for source in paths.SOURCES:
            df = run_path.source_rows(spark, source, str(data), 1, args.rows)
            try:
                timings, plans = {}, set()
                with run_path.ProcessTree(spark.sparkContext._gateway.proc.pid, descendants=True) as tree:
                    for b in (SMALL, LARGE):
                        frame = run_path.spark_frame("sparkort", spark, df, w, str(model), b)
                        plans.add("columnar" in frame._jdf.queryExecution().executedPlan().toString())
                        job = lambda frame=frame: frame.write.format("noop").mode("overwrite").save()  # noqa: E731
                        timings[b] = seconds_per_pass(job, tree, f"sparkort {source} {b} ")
                (columnar,) = plans  # both sizes read the source the same way
                us = per_batch(timings, args.rows)
                result["sources"][source] = {"us_per_batch": us, "tax_us": us - result["ort_alone_us_per_batch"],
                                             "columnar": columnar}
            finally:
                if source == "cache":
                    df.unpersist(blocking=True)
    finally:
        spark.stop()
    print(run_path.RESULT + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
