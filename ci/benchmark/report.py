"""The benchmark's outputs: the printed table, the PNG chart and BENCHMARKS.md, all from results.json."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Dict, List, Optional

from benchmark import paths, workloads

PEER = "predict_batch_udf"
# (workload, path, compared with, at least): the issues' targets for sparkort, as ratios taken in one run.
TARGETS = [("mlp", "sparkort", paths.LIMIT, 0.90), ("resnet50", "sparkort", paths.LIMIT, 0.95),
           ("mlp", "sparkort", PEER, 3.5), ("linear", "sparkort", PEER, 15.0),
           ("mlp", "sparkort_sql", "sparkort", 0.95), ("linear", "sparkort_sql", "sparkort", 0.95)]
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


def _by(results: List[dict]) -> Dict[tuple, dict]:
    return {(r["workload"], r["path"]): r for r in results}


def ratio(found: Dict[tuple, dict], workload: str, path: str, base: str, key: str = "rows_per_s") -> Optional[float]:
    """`path`'s figure over `base`'s; with key="cpu_us_per_row" and the limit as `path`, the limit's
    CPU time per row over `base`'s: the share of the CPU that went to scoring."""
    a, b = found.get((workload, path), {}).get(key), found.get((workload, base), {}).get(key)
    return a / b if a and b else None


def _fmt(x: Optional[float]) -> str:
    """Two decimals, or three significant digits below 0.1 (a peer at 0.004x the limit is not 0.00x)."""
    return "-" if x is None else (f"{x:.2f}x" if x >= 0.1 else f"{x:.2g}x")


def rows(run: dict) -> List[List[str]]:
    """One row per (workload, path): rows/s, ratios, memory, each run's rate."""
    table = []
    found = _by(run["results"])
    for r in run["results"]:
        w, p = r["workload"], r["path"]
        if "error" in r:
            table.append([w, p, "error", "-", "-", "-", "-", "-", "-", r["error"].replace("|", "/")[:160]])
            continue
        table.append([
            w, p, f"{r['rows_per_s']:,.0f}",
            _fmt(ratio(found, w, p, paths.LIMIT)), _fmt(ratio(found, w, p, PEER)),
            f"{r['cpu_us_per_row']:.3f}", _fmt(ratio(found, w, paths.LIMIT, p, key="cpu_us_per_row")),
            f"{r['peak_rss_bytes'] / 2**20:,.0f}",
            f"{r['other_cores']:.2f}" if "other_cores" in r else "-",
            " / ".join(f"{x['rows_per_s']:,.0f} ({x['passes']}x)" for x in r["runs"]),
        ])
    return table


HEADER = ["workload", "path", "rows/s (median)", "x limit", f"x {PEER}", "CPU us/row", "x limit (CPU)",
          "peak RSS MiB", "other work (cores)", "runs: rows/s (passes)"]


def table(run: dict) -> str:
    body = rows(run)
    widths = [max(len(str(c)) for c in col) for col in zip(HEADER, *body)]
    line = lambda cells: "  ".join(str(c).ljust(n) for c, n in zip(cells, widths))  # noqa: E731
    return "\n".join([line(HEADER), line(["-" * n for n in widths])] + [line(r) for r in body])


def targets(run: dict) -> List[List[str]]:
    out = []
    found = _by(run["results"])
    for workload, path, base, floor in TARGETS:
        got = ratio(found, workload, path, base)
        met = "not measured" if got is None else ("yes" if got >= floor else "no")
        out.append([workload, f"{path} / {base} >= {floor}", _fmt(got), met])
    return out


def chart(run: dict, png: Path) -> None:
    """Two panels, log scale: each path's rows/s over the limit's, and over predict_batch_udf's."""
    if os.environ.get("BENCH_SITE_PACKAGES"):
        sys.path.append(os.environ["BENCH_SITE_PACKAGES"])  # ci/bench's matplotlib, after .venv's packages
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r["workload"] for r in run["results"]))
    path_names = list(dict.fromkeys(r["path"] for r in run["results"]))
    found = _by(run["results"])
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5), dpi=110)
    width = 0.8 / max(1, len(path_names))
    for ax, base in zip(axes, [paths.LIMIT, PEER]):
        if not any(_rate(found.get((w, base), {})) for w in names):
            ax.set_axis_off()
            ax.text(0.5, 0.5, f"no {base} figures in this run", ha="center", transform=ax.transAxes)
            continue
        for i, p in enumerate(path_names):
            xs = [n + (i - (len(path_names) - 1) / 2) * width for n in range(len(names))]
            heights = [ratio(found, w, p, base) or 0 for w in names]
            bars = ax.bar(xs, heights, width, label=p, color=f"C{i}")
            for bar, w, h in zip(bars, names, heights):
                r = found.get((w, p), {})
                text = "error" if "error" in r else (f"{_fmt(h)}  {r['rows_per_s']:,.0f}/s" if _rate(r) else "")
                ax.annotate(text, (bar.get_x() + bar.get_width() / 2, h if h else 1e-3), ha="center", va="bottom",
                            fontsize=6.5, rotation=90, xytext=(0, 2), textcoords="offset points")
        ax.set_yscale("log")
        ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, fontsize=9)
        low = min([ratio(found, w, p, base) or 1 for w in names for p in path_names] + [1])
        high = max([ratio(found, w, p, base) or 1 for w in names for p in path_names] + [1])
        ax.set_ylim(low / 3, high * 60)
        ax.set_ylabel(f"rows/s over {base}'s (log scale)")
        ax.set_title(f"relative to {base}", fontsize=10)
    axes[0].legend(fontsize=8, loc="upper right")
    fig.suptitle(f"Rows/s per path, {run['threads']} threads each, median of {run['runs']} runs "
                 f"(labels: ratio, rows/s)", fontsize=10)
    fig.tight_layout()
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
    commands = "\n".join(r["command"] for r in run["results"])
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
lasts at least {run['min_seconds']:g} s (as many whole passes over the rows as that takes).
"x limit" compares a path with ONNX Runtime alone (no Spark) on the same rows in memory.
"CPU us/row" is the CPU time (user + system, every thread) of the path's processes per row scored,
and "x limit (CPU)" the limit's CPU time per row over the path's: on a machine shared with other
work, these hold steadier than rows/s, which depend on how much of the machine the path got.
"other work (cores)" is how many cores, on average over the timed runs, were busy with anything
but the path's own processes: near 0 on a quiet machine (the measuring driver takes a little).

## Results

{_md_table(HEADER, rows(run))}

![rows/s relative to ONNX Runtime alone](benchmarks.png)

## Targets (sparkort, ratios taken in this run)

{_md_table(["workload", "target", "measured", "met"], targets(run))}

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
- **ort_alone** (the limit): ONNX Runtime's Python API without Spark, {run['threads']} sessions on
  {run['threads']} Python threads, each over its contiguous share of the rows held in numpy.
- The wide table's 100 double columns feed the model's one `[N, 100]` float input: sparkort names
  them in one `feedDict` value (`"x_000, x_001, ..."`); predict_batch_udf's predict function takes
  the 100 columns' numpy arrays and mapInArrow takes the batch's 100 columns, and both stack them
  into one float32 `[N, 100]` array.
- The Spark paths run on `local[{run['threads']}]` over the rows read from the same Parquet file,
  `repartition({run['threads']})`, `cache()` and counted before timing; Arrow batches
  (`spark.sql.execution.arrow.maxRecordsPerBatch`) and `predict_batch_udf`'s `batch_size` are the
  workload's batch size. All of them return every input column plus the prediction column.
- Every session: one intra-op thread, one inter-op thread, sequential execution, CPU provider, the
  default graph optimisations (`ci/benchmark/paths.py` `make_session`; sparkort's native side sets
  the same).
- Peak RSS is sampled every 0.25 s while the path warms up and runs: for the Spark paths, the
  local-mode JVM (driver and executor in one, holding the cached rows) plus its Python workers; for
  ort_alone, its process (holding the rows in numpy).

## Commands

```bash
make bench                 # = bash ci/bench: installs matplotlib (pinned), builds, then:
PYTHONPATH=ci:python {run['invocation']}
BENCH_QUICK=1 make bench   # development: small rows, 0.5 s runs, writes build/bench/ only
```

Each path ran in its own process, from the repository root:

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
