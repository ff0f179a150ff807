"""The limit: ONNX Runtime alone, without Spark, on the same cores.

Runs --rows random float32 rows through --sessions InferenceSessions, one Python thread per session
over its own contiguous share of the rows, in batches of --batch-size, and prints the median rows/s.
ONNX Runtime releases the GIL inside run(), so the threads score in parallel.
"""

import argparse
import statistics
import threading
import time

import numpy as np
import onnxruntime as ort


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--input-name", default="features")
    p.add_argument("--features", type=int, default=64)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--batch-size", type=int, default=4096)
    p.add_argument("--sessions", type=int, default=2)
    p.add_argument("--intra-threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    return p.parse_args()


def make_session(args):
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.intra_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])


def score(session, input_name, share, batch_size):
    for start in range(0, len(share), batch_size):
        session.run(None, {input_name: share[start:start + batch_size]})


def run_pass(sessions, shares, args):
    threads = [threading.Thread(target=score, args=(s, args.input_name, share, args.batch_size))
               for s, share in zip(sessions, shares)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def main():
    args = parse_args()
    sessions = [make_session(args) for _ in range(args.sessions)]
    data = np.random.default_rng(0).standard_normal((args.rows, args.features), dtype=np.float32)
    # Contiguous shares differing by at most one row; slices are views, not copies.
    bounds = [args.rows * i // args.sessions for i in range(args.sessions + 1)]
    shares = [data[lo:hi] for lo, hi in zip(bounds, bounds[1:])]

    run_pass(sessions, [share[:args.batch_size] for share in shares], args)  # warm-up: one batch each
    rates = []
    for i in range(args.repeats):
        seconds = run_pass(sessions, shares, args)
        rates.append(args.rows / seconds)
        print(f"pass {i + 1}: {args.rows} rows in {seconds:.3f} s = {rates[-1]:,.0f} rows/s", flush=True)
    print(f"ort-alone rows/s: {int(statistics.median(rates))} "
          f"(sessions={args.sessions} intra-threads={args.intra_threads} batch-size={args.batch_size} "
          f"rows={args.rows} features={args.features} model={args.model})")


if __name__ == "__main__":
    main()
