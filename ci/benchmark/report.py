"""The benchmark's outputs: the printed table, the PNG chart and BENCHMARKS.md, all from results.json."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Dict, List, Optional

from benchmark import paths, run_path, workloads

PEER = "predict_batch_udf"
SERIAL = "serial limit"  # 1 / (spark_read's CPU per row + ort_alone's), per workload and source
# (workload, path, compared with, at least): the issues' targets for sparkort, as ratios taken in one
# run on each source (issue 17: every workload at 0.95x its serial limit; MLP and ResNet-50 at 0.97x
# ONNX Runtime alone; linear 25x and the wide table 4x predict_batch_udf).
TARGETS = ([(w, "sparkort", SERIAL, 0.95) for w in ("linear", "mlp", "resnet50", "sklearn", "wide")]
           + [("mlp", "sparkort", paths.LIMIT, 0.97), ("resnet50", "sparkort", paths.LIMIT, 0.97),
              ("linear", "sparkort", PEER, 25.0), ("wide", "sparkort", PEER, 4.0),
              ("mlp", "sparkort_sql", "sparkort", 0.95), ("linear", "sparkort_sql", "sparkort", 0.95)])
PACKAGES = ["pyspark", "onnxruntime", "onnx", "numpy", "pandas", "pyarrow", "scikit-learn", "skl2onnx", "matplotlib"]
FINDINGS = Path(__file__).with_name("findings.md")


def _run(command: List[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        return (done.stdout + done.stderr).strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine_facts() -> Dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in _run(["lscpu"]).splitlines()
                if line.startswith("Model name")), platform.processor() or "unknown")
    mem_kib = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                    if line.startswith("MemTotal")), 0)
    os_name = next((line.split("=", 1)[1].strip('"') for line in Path("/etc/os-release").read_text().splitlines()
                    if line.startswith("PRETTY_NAME=")), platform.platform())
    return {"cpu": cpu, "cores": str(os.cpu_count()), "memory": f"{mem_kib / 2**20:.1f} GiB",
            "os": f"{os_name}, Linux {platform.release()}"}


def versions(jar: str) -> Dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    found["python"] = platform.python_version()
    java = _run(["java", "-version"])
    found["java"] = java.splitlines()[0] if java else "unknown"
    found["rustc"] = _run(["rustc", "--version"])
    commit = _run(["git", "rev-parse", "--short=12", "HEAD"])
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no"])
    found["sparkort"] = f"{Path(jar).name} built from commit {commit}" + (" (with uncommitted changes)" if dirty else "")
    return found


def _rate(result: dict) -> Optional[float]:
    return result.get("rows_per_s")


def summary(result: dict) -> str:
    if "error" in result:
        return "ERROR " + result["error"]
    runs = ", ".join(f"{r['rows_per_s']:,.0f}" for r in result["runs"])
    return (f"{result['rows_per_s']:,.0f} rows/s (runs {runs}; warm-up {result['warmup_seconds']} s), "
            f"{result['cpu_us_per_row']:.3f} CPU us/row, "
            f"peak RSS {result['peak_rss_bytes'] / 2**20:,.0f} MiB, {result['wall_seconds']} s in all")


def source(result: dict) -> Optional[str]:
    """Where a result's rows came from: a Spark path's source, None for ort_alone (rows in memory).
    Runs before the sources were measured separately read the cache only."""
    if result["path"] == paths.LIMIT:
        return None
    return result.get("source") or "cache"


def label(workload: str, src: Optional[str]) -> str:
    """A table row's workload: "mlp (parquet)", "mlp (cache)", or "mlp" for ort_alone."""
    return f"{workload} ({src})" if src else workload


def _by(results: List[dict]) -> Dict[tuple, dict]:
    return {(r["workload"], source(r), r["path"]): r for r in results}


def _get(found: Dict[tuple, dict], workload: str, src: Optional[str], path: str) -> dict:
    return found.get((workload, None if path == paths.LIMIT else src, path), {})


def serial_limit_us(found: Dict[tuple, dict], workload: str, src: Optional[str]) -> Optional[float]:
    """The serial limit's CPU time per row on a source: spark_read's plus ort_alone's, in us."""
    read, score = (_get(found, workload, src, p).get("cpu_us_per_row") for p in (paths.READ, paths.LIMIT))
    return read + score if src and read and score else None


def _figure(found: Dict[tuple, dict], workload: str, src: Optional[str], path: str, key: str) -> Optional[float]:
    """A path's rows/s or CPU us/row; for SERIAL, the serial limit's: its CPU per row, and as rows/s
    what `threads` cores doing nothing else would score at that CPU per row."""
    if path != SERIAL:
        return _get(found, workload, src, path).get(key)
    us = serial_limit_us(found, workload, src)
    if us is None:
        return None
    if key == "cpu_us_per_row":
        return us
    threads = _get(found, workload, src, paths.READ).get("threads") or 1
    return threads * 1e6 / us


def ratio(found: Dict[tuple, dict], workload: str, src: Optional[str], path: str, base: str,
          key: str = "rows_per_s") -> Optional[float]:
    """`path`'s figure over `base`'s, both on the rows from `src` (ort_alone's rows are in memory
    whatever the source); `base` may be SERIAL. With key="cpu_us_per_row" and a limit as `path`, the
    limit's CPU time per row over `base`'s: the share of the CPU that went to what the limit does."""
    a, b = _figure(found, workload, src, path, key), _figure(found, workload, src, base, key)
    return a / b if a and b else None


def _fmt(x: Optional[float]) -> str:
    """Two decimals, or three significant digits below 0.1 (a peer at 0.004x the limit is not 0.00x)."""
    return "-" if x is None else (f"{x:.2f}x" if x >= 0.1 else f"{x:.2g}x")


def ordered(results: List[dict]) -> List[dict]:
    """The results grouped by workload, then ort_alone, the Parquet source's paths, the cache's;
    paths in the order they ran."""
    workload_order = list(dict.fromkeys(r["workload"] for r in results))
    source_order = [None] + paths.SOURCES
    return sorted(results, key=lambda r: (workload_order.index(r["workload"]),
                                          source_order.index(source(r)) if source(r) in source_order else 99))


def rows(run: dict) -> List[List[str]]:
    """One row per (workload, source, path): rows/s, ratios, memory, each run's rate."""
    table = []
    found = _by(run["results"])
    for r in ordered(run["results"]):
        w, p, src = r["workload"], r["path"], source(r)
        if "error" in r:
            table.append([label(w, src), p, "error"] + ["-"] * (len(HEADER) - 4) + [r["error"].replace("|", "/")[:160]])
            continue
        cpu = "cpu_us_per_row"
        table.append([
            label(w, src), p, f"{r['rows_per_s']:,.0f}",
            _fmt(ratio(found, w, src, p, SERIAL)), _fmt(ratio(found, w, src, p, paths.LIMIT)),
            _fmt(ratio(found, w, src, p, PEER)),
            f"{r[cpu]:.3f}", _fmt(ratio(found, w, src, SERIAL, p, key=cpu)),
            _fmt(ratio(found, w, src, paths.LIMIT, p, key=cpu)),
            f"{r['peak_rss_bytes'] / 2**20:,.0f}",
            f"{r['other_cores']:.2f}" if "other_cores" in r else "-",
            " / ".join(f"{x['rows_per_s']:,.0f} ({x['passes']}x)" for x in r["runs"]),
        ])
    return table


HEADER = ["workload", "path", "rows/s (median)", "x serial limit", "x ort_alone", f"x {PEER}", "CPU us/row",
          "x serial limit (CPU)", "x ort_alone (CPU)", "peak RSS MiB", "other work (cores)", "runs: rows/s (passes)"]

LIMITS_HEADER = ["workload", "spark_read CPU us/row", "ort_alone CPU us/row", "serial limit CPU us/row",
                 "serial limit rows/s per core", "serial limit rows/s (threads)"]


def limits(run: dict) -> List[List[str]]:
    """The serial limit of each workload on each source, and the two figures it is made of."""
    found = _by(run["results"])
    out = []
    for w, src in dict.fromkeys((r["workload"], source(r)) for r in ordered(run["results"])):
        if src is None:
            continue
        read, score = (_get(found, w, src, p).get("cpu_us_per_row") for p in (paths.READ, paths.LIMIT))
        us, rate = serial_limit_us(found, w, src), _figure(found, w, src, SERIAL, "rows_per_s")
        out.append([label(w, src), "-" if read is None else f"{read:.3f}", "-" if score is None else f"{score:.3f}",
                    "-" if us is None else f"{us:.3f}", "-" if us is None else f"{1e6 / us:,.0f}",
                    "-" if rate is None else f"{rate:,.0f}"])
    return out


def _text_table(header: List[str], body: List[List[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *body)]
    line = lambda cells: "  ".join(str(c).ljust(n) for c, n in zip(cells, widths))  # noqa: E731
    return "\n".join([line(header), line(["-" * n for n in widths])] + [line(r) for r in body])


def table(run: dict) -> str:
    """The results table, then the serial limits it compares with."""
    return _text_table(HEADER, rows(run)) + "\n\n" + _text_table(LIMITS_HEADER, limits(run))


def targets(run: dict) -> List[List[str]]:
    """Each target on each source: the ratio measured, whether it is met, and the serial limit's own
    ratio to the same base (a path that reads the rows with Spark and scores them with ONNX Runtime
    reaches at most that: a target above it is out of reach of any such path on that source)."""
    out = []
    found = _by(run["results"])
    for workload, path, base, floor in TARGETS:
        for src in paths.SOURCES:
            got = ratio(found, workload, src, path, base)
            met = "not measured" if got is None else ("yes" if got >= floor else "no")
            limit = ratio(found, workload, src, SERIAL, base) if base not in (SERIAL, "sparkort") else None
            out.append([label(workload, src), f"{path} / {base} >= {floor:g}", _fmt(got), met, _fmt(limit)])
    return out


def batch_tax_summary(tax: Optional[dict]) -> str:
    if not tax or "error" in tax:
        return (tax or {}).get("error", "not measured")
    return ", ".join(f"{src} {s['tax_us']:+.2f} us a batch" for src, s in tax["sources"].items()) + \
        f" beyond ONNX Runtime's own {tax['ort_alone_us_per_batch']:.2f}"


def batch_tax_rows(tax: Optional[dict]) -> List[List[str]]:
    if not tax or "error" in tax:
        return [["-", "-", batch_tax_summary(tax), "-", "-"]]
    return [[f"linear ({src})", "column batches" if s["columnar"] else "rows", f"{s['us_per_batch']:.2f}",
             f"{tax['ort_alone_us_per_batch']:.2f}", f"{s['tax_us']:+.2f}"] for src, s in tax["sources"].items()]


def chart(run: dict, png: Path) -> None:
    """Three panels, log scale: each path's rows/s over the serial limit's, over ort_alone's and over
    predict_batch_udf's, one group of bars per workload and source (ort_alone's bar in each)."""
    if os.environ.get("BENCH_SITE_PACKAGES"):
        sys.path.append(os.environ["BENCH_SITE_PACKAGES"])  # ci/bench's matplotlib, after .venv's packages
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = ordered(run["results"])
    groups = list(dict.fromkeys((r["workload"], source(r)) for r in results if source(r)))
    if not groups:  # ort_alone alone
        groups = [(r["workload"], None) for r in results]
    path_names = list(dict.fromkeys(r["path"] for r in results))
    found = _by(results)
    fig, axes = plt.subplots(3, 1, figsize=(max(13.0, 1.3 * len(groups)), 16), dpi=110)
    width = 0.8 / max(1, len(path_names))
    for ax, base in zip(axes, [SERIAL, paths.LIMIT, PEER]):
        if not any(_figure(found, w, src, base, "rows_per_s") for w, src in groups):
            ax.set_axis_off()
            ax.text(0.5, 0.5, f"no {base} figures in this run", ha="center", transform=ax.transAxes)
            continue
        for i, p in enumerate(path_names):
            xs = [n + (i - (len(path_names) - 1) / 2) * width for n in range(len(groups))]
            heights = [ratio(found, w, src, p, base) or 0 for w, src in groups]
            bars = ax.bar(xs, heights, width, label=p, color=f"C{i}")
            for bar, (w, src), h in zip(bars, groups, heights):
                r = _get(found, w, src, p)
                text = "error" if "error" in r else (f"{_fmt(h)}  {r['rows_per_s']:,.0f}/s" if _rate(r) else "")
                ax.annotate(text, (bar.get_x() + bar.get_width() / 2, h if h else 1e-3), ha="center", va="bottom",
                            fontsize=6, rotation=90, xytext=(0, 2), textcoords="offset points")
        ax.set_yscale("log")
        ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([label(w, src).replace(" (", "\n(") for w, src in groups], fontsize=8)
        every = [ratio(found, w, src, p, base) or 1 for w, src in groups for p in path_names] + [1]
        ax.set_ylim(min(every) / 3, max(every) * 60)
        ax.set_ylabel(f"rows/s over {base}'s (log scale)")
        ax.set_title(f"relative to {base}" + (" (1 / (spark_read + ort_alone CPU per row), x threads)"
                                              if base == SERIAL else ""), fontsize=10)
    drawn = [ax for ax in axes if ax.axison]
    if drawn:  # the legend on the first panel with bars
        drawn[0].legend(fontsize=8, loc="upper right", ncol=len(path_names))
    fig.suptitle(f"Rows/s per path, {run['threads']} threads each, median of {run['runs']} runs "
                 f"(labels: ratio, rows/s)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.98))  # room for the suptitle
    fig.savefig(png)
    plt.close(fig)


def _md_table(header: List[str], body: List[List[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in r) + " |" for r in body])


def _feed_text(f: workloads.Feed) -> str:
    if f.kind == "doubles":
        return f"`{f.input}` <- `{f.columns[0]}` ... `{f.columns[-1]}` ({len(f.columns)} double columns, side by side)"
    return f"`{f.input}` <- `{f.column}` ({f.kind}{list(f.row_shape) if f.row_shape else ''})"


def write(run: dict, md: Path, png: Path) -> None:
    md.parent.mkdir(parents=True, exist_ok=True)
    chart(run, png)
    m, v = run["machine"], run["versions"]
    shared = []
    for name in dict.fromkeys(r["workload"] for r in run["results"]):
        r = next(x for x in run["results"] if x["workload"] == name)
        w = workloads.by_name(name)
        feeds = ", ".join(_feed_text(f) for f in w.feeds)
        shared.append([name, w.description, f"`{r['model']}`", f"{r['rows']:,}", str(r["batch_size"]),
                       f"{r['threads']} x 1 intra-op", feeds, f"`{w.output}` -> `{w.output_column}`"])
    commands = "\n".join(dict.fromkeys(r["command"] for r in run["results"]))  # one per process
    quick = ("\n> **Quick run** (`--quick`): small row counts and short runs, for development only.\n"
             if run["quick"] else "")
    others = [r["other_cores"] for r in run["results"] if "other_cores" in r]
    busiest = max(others, default=max(float(run["load_before"].split()[0]), float(run["load_after"].split()[0])))
    if busiest > 0.25:
        quick += ("\n> **Noisy figures:** other work shared this machine while the benchmark ran (up to "
                  f"{busiest:.1f} of its {m['cores']} cores busy with it during a path's runs), so each path got "
                  "whatever share of the cores the scheduler gave its threads, and paths with more processes "
                  "(the Python workers) got more. Compare the CPU-time columns, and re-run on a quiet machine "
                  "for rows/s.\n")
    text = f"""# Benchmarks

Generated by `make bench` on {run['started']}, in {run['wall_seconds']:.0f} s.
Load average (1/5/15 min) when it started: {run['load_before']}; when it ended: {run['load_after']}.
{quick}
Every path scores the same rows with the same model file, batch size and total threads (the
sections below list them); each figure is the median of {run['runs']} timed runs after a warm-up run; every run, the warm-up's too,
lasts at least {run['min_seconds']:g} s (as many whole passes over the rows as that takes), and the
first warm-up in a path's process (in a fresh JVM) at least {run.get('warmup_seconds', run['min_seconds']):g} s.
The Spark paths read the rows from each of two sources, reported as separate rows: "(parquet)",
the Parquet file read again every pass with Spark's vectorized reader (after the first pass it is
in the OS's page cache, so this is decoding, not the disk), and "(cache)", the same rows in Spark's
in-memory cache, built and counted before timing. ort_alone scores the rows held in numpy.

**The serial limit.** spark_read is Spark's own read of a source with no scoring: the same
DataFrame the Spark paths read, every column, written with `write.format("noop")`. ort_alone is
ONNX Runtime scoring the rows with no Spark. A path that reads rows with Spark and scores them with
ONNX Runtime does at least both, so on each source the serial limit takes their CPU times per row,
measured in this run, one after the other: serial limit = 1 / (spark_read's CPU per row +
ort_alone's CPU per row), the rows one core could read and score per second doing nothing else, and
{run['threads']} times that on {run['threads']} cores. "x serial limit" is a path's rows/s over that
({run['threads']} cores' worth), "x serial limit (CPU)" the serial limit's CPU time per row over the
path's: how close the path comes to costing no more than its read and its model. The limits' two
parts are in the table after the results.
"x ort_alone" compares a path's rows/s with ONNX Runtime alone (no Spark) on the same rows in memory,
"x predict_batch_udf" with predict_batch_udf on the same source.
"CPU us/row" is the CPU time (user + system, every thread) of the path's processes per row scored,
and "x ort_alone (CPU)" ort_alone's CPU time per row over the path's: on a machine shared with other
work, the CPU columns hold steadier than rows/s, which depend on how much of the machine the path got.
"other work (cores)" is how many cores, on average over the timed runs, were busy with anything
but the path's own processes: near 0 on a quiet machine (the measuring driver takes a little).

## Results

{_md_table(HEADER, rows(run))}

### The serial limits

{_md_table(LIMITS_HEADER, limits(run))}

![rows/s relative to the serial limit, ONNX Runtime alone and predict_batch_udf](benchmarks.png)

## Targets (sparkort, ratios taken in this run, on each source)

"The serial limit there" is the serial limit's own ratio to the same base, measured in this run: where
it is below a target, no path that reads the rows with Spark and then scores them reaches the target
on that source (from Parquet, Spark's read of the MLP's arrays alone costs nearly half of what ONNX
Runtime spends on them).

{_md_table(["workload", "target", "measured", "met", "the serial limit there"], targets(run))}

### What a batch costs beyond its rows

One task slot, one session, the linear workload's first {(run.get('batch_tax') or {}).get('rows', 0):,} rows at batch sizes
{(run.get('batch_tax') or {}).get('small', '-')} and {(run.get('batch_tax') or {}).get('large', '-')}: the time per pass the small size adds, over the batches it adds
(`ci/benchmark/batch_tax.py`). ONNX Runtime alone pays its own share of that for every run of the
model; sparkort's tax is what it adds to each.

{_md_table(["source", "sparkort reads", "sparkort us a batch", "ort_alone us a batch", "sparkort's tax, us a batch"], batch_tax_rows(run.get("batch_tax")))}

## What every path shares

{_md_table(["workload", "model", "file", "rows", "batch size", "threads", "inputs (model input <- column)", "output -> column"], shared)}

- **sparkort**: `sparkort.OnnxModel(modelLocation=..., feedDict=..., fetchDict=..., batchSize=...)`
  (the pyspark.ml stage over `io.sparkort.OnnxModel`), `transform`, then `write.format("noop")`.
  One session per task slot, one intra-op thread each.
- **sparkort_sql** (MLP and linear): the same model, batch size and output through SQL,
  `selectExpr("*", "onnx_predict(map('modelLocation', ..., 'batchSize', ..., 'input.1', ...), cols) AS ...")`,
  in a session built with `spark.sql.extensions=io.sparkort.SparkOrtExtensions`; the same `noop` write.
- **predict_batch_udf**: `pyspark.ml.functions.predict_batch_udf` with an onnxruntime
  `InferenceSession` made in `make_predict_fn` (cached per Python worker by pyspark), added with
  `withColumn`, then the same `noop` write.
- **mapInArrow**: `DataFrame.mapInArrow`: each Arrow batch to numpy, `session.run`, the prediction
  appended to the batch (one session per Python worker, kept in pyspark's `ModelCache`), then the
  same `noop` write.
- **ort_alone** (the limit of scoring): ONNX Runtime's Python API without Spark, {run['threads']} sessions on
  {run['threads']} Python threads, each over its contiguous share of the rows held in numpy (a wide
  table's double columns already stacked into one float32 array).
- **spark_read** (the limit of reading): no model, the source's DataFrame as it is (every column)
  and the same `noop` write.
- The wide table's 100 double columns feed the model's one `[N, 100]` float input: sparkort names
  them in one `feedDict` value (`"x_000, x_001, ..."`); predict_batch_udf's predict function takes
  the 100 columns' numpy arrays and mapInArrow takes the batch's 100 columns, and both stack them
  into one float32 `[N, 100]` array.
- The Spark paths run on `local[{run['threads']}]`, one process per path, which measures the sources in
  turn ({", ".join(run.get("sources", paths.SOURCES))}), each with its own warm-up run. Parquet: `spark.read.parquet`, split into
  {run['threads']} splits, one per task slot (`spark.sql.files.maxPartitionBytes` uncapped and
  `spark.sql.files.openCostInBytes` 0, so each split is a {run['threads']}th of the file's bytes; its
  row groups hold equal rows, at most about 8 MiB, a power of two of them, so the splits hold as many
  rows each). Every session sets
  `spark.sql.codegen.maxFields` to {run_path.CODEGEN_MAX_FIELDS}: above its default of 100 columns
  (the wide table has 101) Spark would read the Parquet file and the cache row by row, without its
  vectorized readers, and compile no whole-stage code. Cache: that read (`repartition({run['threads']})`
  first only where its splits do not hold as many rows each), `cache()` and counted before timing,
  unpersisted after. Arrow batches
  (`spark.sql.execution.arrow.maxRecordsPerBatch`) and `predict_batch_udf`'s `batch_size` are the
  workload's batch size. All of them return every input column plus the prediction column.
- Every session: one intra-op thread, one inter-op thread, sequential execution, CPU provider, the
  default graph optimisations (`ci/benchmark/paths.py` `make_session`; sparkort's native side sets
  the same).
- Peak RSS is sampled every 0.25 s while the path warms up and runs, per source: for the Spark paths, the
  local-mode JVM (driver and executor in one, holding the cached rows) plus its Python workers (the
  cache's figure includes what the JVM's heap grew to in the Parquet runs before it); for ort_alone,
  its process (holding the rows in numpy).

## Commands

```bash
make bench                 # = bash ci/bench: installs matplotlib (pinned), builds, then:
PYTHONPATH=ci:python {run['invocation']}
BENCH_QUICK=1 make bench   # development: small rows, 0.5 s runs, writes build/bench/ only
bash ci/bench --help       # subsets: --workloads, --paths, --sources parquet,cache
```

Each path ran in its own process (a Spark path's measuring every source), from the repository root:

```bash
{commands}
```

Logs: `{run['out']}/logs/`; raw figures: `{run['out']}/results.json`.

## Versions and machine

{_md_table(["", ""], [[k, v[k]] for k in v] + [["CPU", m['cpu']], ["cores", m['cores']], ["memory", m['memory']], ["OS", m['os']]])}
"""
    if FINDINGS.exists():
        text += "\n" + FINDINGS.read_text()
    md.write_text(text)
