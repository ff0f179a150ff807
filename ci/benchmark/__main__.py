"""`make bench`: every path on every workload, side by side, then the table, the chart and BENCHMARKS.md.

Run from the repository root with PYTHONPATH=ci:python (ci/bench does): `python -m benchmark [--quick]`.
Each (workload, path) pair runs in a fresh process (benchmark.run_path) on the same model file, the
same rows, the same batch size and the same number of threads; a Spark path's process measures
each source (the Parquet file, Spark's cache) in turn.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import sparkort
from benchmark import paths, report, run_path, workloads

ROOT = Path(__file__).resolve().parents[2]
# Each run (the warm-up's too) lasts at least this long. 3 s, not 5: with two sources a path, 5 s
# runs would make the full run about twice its former length (estimated); a fast path's 3 s run is still several
# passes, and a slow path's run is one pass of several seconds either way.
MIN_SECONDS, QUICK_MIN_SECONDS = 3.0, 0.5
# A process's first warm-up lasts at least this long: a fresh JVM is still compiling the path's
# code well after 3 s (later sources' warm-ups, in the same JVM, last MIN_SECONDS).
WARMUP_SECONDS, QUICK_WARMUP_SECONDS = 6.0, 0.5


def parse_args(argv=None):
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", default=env("BENCH_QUICK", "") not in ("", "0"),
                   help="small row counts and 0.5 s runs, for development (or BENCH_QUICK=1); "
                        "writes under build/bench only")
    p.add_argument("--workloads", default=env("BENCH_WORKLOADS"), help="comma-separated subset of "
                   + ", ".join(workloads.WORKLOADS) + " (or BENCH_WORKLOADS)")
    p.add_argument("--paths", default=env("BENCH_PATHS"), help="comma-separated subset of "
                   + ", ".join(paths.ALL_PATHS) + " (or BENCH_PATHS)")
    p.add_argument("--sources", default=env("BENCH_SOURCES"), help="comma-separated subset of "
                   + ", ".join(paths.SOURCES) + ": where the Spark paths read the rows (or BENCH_SOURCES)")
    p.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="total threads for every path: Spark's local[N] task slots, ORT-alone's sessions")
    p.add_argument("--runs", type=int, default=3, help="timed runs per path after one warm-up run; the median is reported")
    p.add_argument("--min-seconds", type=float, help="each run lasts at least this long "
                   f"(default {MIN_SECONDS:g}, quick {QUICK_MIN_SECONDS:g})")
    p.add_argument("--warmup-seconds", type=float, help="a path process's first warm-up run lasts at least this "
                   f"long (default {WARMUP_SECONDS:g}, quick {QUICK_WARMUP_SECONDS:g}; never less than --min-seconds)")
    # Not sparkort.jar_path(): that fails when no jar is built, and --report-from needs none.
    p.add_argument("--jar", default=env("SPARKORT_JAR", str(ROOT / "dist" / f"sparkort-{sparkort.__version__}.jar")))
    p.add_argument("--out", default=str(ROOT / "build" / "bench"))
    p.add_argument("--report-from", metavar="RESULTS_JSON",
                   help="measure nothing: write the table, chart and BENCHMARKS.md again from a results.json")
    args = p.parse_args(argv)
    if args.min_seconds is None:
        args.min_seconds = QUICK_MIN_SECONDS if args.quick else MIN_SECONDS
    if args.warmup_seconds is None:
        args.warmup_seconds = max(args.min_seconds, QUICK_WARMUP_SECONDS if args.quick else WARMUP_SECONDS)
    args.source_names = args.sources.split(",") if args.sources else list(paths.SOURCES)
    for name in args.source_names:
        if name not in paths.SOURCES:
            raise SystemExit(f"unknown source '{name}'; choose from {', '.join(paths.SOURCES)}")
    return args


def path_command(args, w: workloads.Workload, path: str, model: Path, data: Path, rows: int) -> list:
    """The command that measures one path; every path of a workload gets the same model, rows,
    batch size and threads."""
    command = [
        _rel(Path(sys.executable)), "-m", "benchmark.run_path", "--workload", w.name, "--path", path,
        "--model", _rel(model), "--data", _rel(data), "--rows", str(rows),
        "--batch-size", str(w.batch_size), "--threads", str(args.threads),
        "--runs", str(args.runs), "--min-seconds", str(args.min_seconds), "--warmup-seconds", str(args.warmup_seconds),
    ]
    if path != paths.LIMIT:
        command += ["--sources", ",".join(args.source_names), "--jar", _rel(Path(args.jar))]
    return command


def _rel(path: Path) -> str:
    path = Path(os.path.abspath(path))  # not resolve(): .venv/bin/python is a symlink out of the venv
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def run_one(command: list, log: Path, sources: list) -> list:
    """The process's result for each of `sources` ([None] for ort_alone), in that order."""
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'ci'}:{ROOT / 'python'}", PYSPARK_PYTHON=sys.executable)
    start = time.perf_counter()
    with open(log, "w") as out:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=out, text=True)
    out_lines = done.stdout.splitlines()
    found = [json.loads(line[len(run_path.RESULT):]) for line in out_lines if line.startswith(run_path.RESULT)]
    by_source = {r.get("source"): r for r in found}
    missing = {"error": f"exited {done.returncode} without a result; see {_rel(log)}"}
    wall = round(time.perf_counter() - start, 1)
    # The process's wall time, shared by its sources.
    return [dict(by_source.get(s, missing), source=s, wall_seconds=wall) for s in sources]


def run_batch_tax(args, out: Path) -> dict:
    """benchmark.batch_tax in a process of its own: what a batch costs sparkort beyond ONNX Runtime's own."""
    command = [_rel(Path(sys.executable)), "-m", "benchmark.batch_tax", "--data", _rel(out / "data"),
               "--min-seconds", str(max(0.5, args.min_seconds / 3)), "--jar", _rel(Path(args.jar))]
    print(f"\nper-batch cost: {shlex.join(command)}", flush=True)
    found = run_one(command, out / "logs" / "batch-tax.log", [None])[0]
    found["command"] = "PYTHONPATH=ci:python " + shlex.join(command)
    print(f"  -> {report.batch_tax_summary(found)}", flush=True)
    return found


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.report_from:
        run = json.loads(Path(args.report_from).read_text())
        print(report.table(run))
        target = ROOT if run.get("complete") else Path(args.report_from).parent
        report.write(run, target / "BENCHMARKS.md", target / "benchmarks.png")
        print(f"wrote {_rel(target / 'BENCHMARKS.md')} and {_rel(target / 'benchmarks.png')}")
        return 0
    selected = workloads.selected(args.workloads)
    path_names = args.paths.split(",") if args.paths else list(paths.ALL_PATHS)
    for name in path_names:
        if name not in paths.ALL_PATHS:
            raise SystemExit(f"unknown path '{name}'; choose from {', '.join(paths.ALL_PATHS)}")
    out = Path(args.out)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    started = time.time()
    load_before = report.load_average()

    results = []
    for w in selected:
        rows = w.quick_rows if args.quick else w.rows
        model, data = w.prepare(out / "data", rows)
        print(f"\n{w.name}: {w.description}; {rows:,} rows, batch size {w.batch_size}, "
              f"{args.threads} threads, model {_rel(model)}", flush=True)
        for path in path_names:
            if not paths.measured(path, w.name):
                continue
            command = path_command(args, w, path, model, data, rows)
            print(f"  {path:<18} {shlex.join(command)}", flush=True)
            sources = [None] if path == paths.LIMIT else args.source_names
            for result in run_one(command, out / "logs" / f"{w.name}-{path}.log", sources):
                print(f"  {path:<18} -> {result['source'] or 'in memory'}: {report.summary(result)}", flush=True)
                results.append(dict(result, workload=w.name, path=path, rows=rows, batch_size=w.batch_size,
                                    threads=args.threads, model=_rel(model), data=_rel(data),
                                    command="PYTHONPATH=ci:python " + shlex.join(command)))

    batch_tax = None
    if any(w.name == "linear" for w in selected) and "sparkort" in path_names:
        batch_tax = run_batch_tax(args, out)

    run = {
        "batch_tax": batch_tax,
        "quick": args.quick, "runs": args.runs, "min_seconds": args.min_seconds,
        "warmup_seconds": args.warmup_seconds, "threads": args.threads,
        "sources": args.source_names,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
        "wall_seconds": round(time.time() - started, 1),
        "load_before": load_before, "load_after": report.load_average(),
        "machine": report.machine_facts(), "versions": report.versions(args.jar),
        "invocation": shlex.join([_rel(Path(sys.executable)), "-m", "benchmark"]
                                 + (sys.argv[1:] if argv is None else argv)),
        "out": _rel(out),
        "results": results,
    }
    complete = not (args.quick or args.workloads or args.paths or args.sources)
    run["complete"] = complete
    (out / "results.json").write_text(json.dumps(run, indent=1))
    print("\n" + report.table(run))
    target = ROOT if complete else out
    report.write(run, target / "BENCHMARKS.md", target / "benchmarks.png")
    print(f"\nwrote {_rel(target / 'BENCHMARKS.md')} and {_rel(target / 'benchmarks.png')} "
          f"({'a full run' if complete else 'a partial or quick run: the repository copy is left alone'}); "
          f"{run['wall_seconds']:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
