"""Tracking benchmarks: import time, run lifecycle, log_metric cost and throughput, search.

Usage: python benchmarks/bench_tracking.py [--points N] [--runs N]
Targets (issue 2): import autolog <= 30 ms; log_metric <= 5 us/point caller side;
>= 200,000 points/s persisted; search_runs over 10,000 runs <= 200 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import autolog
from autolog._tracking import create_run


def cpu_reference() -> float:
    """CPU seconds of a fixed pure-Python loop, to scale figures between machines."""
    t = time.thread_time()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.thread_time() - t


def bench_import(repeats: int = 9) -> tuple[float, float]:
    code = (
        "import time; t = time.perf_counter(); c = time.process_time(); import autolog; "
        "print(time.perf_counter() - t, time.process_time() - c)"
    )
    walls, cpus = [], []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout.split()
        walls.append(float(out[0]))
        cpus.append(float(out[1]))
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000


def bench_lifecycle(root: str, repeats: int = 50) -> float:
    autolog.set_tracking_uri(root)
    params = {f"param_{i}": i * 0.5 for i in range(10)}
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        autolog.start_run()
        autolog.log_params(params)
        autolog.end_run()  # flushes: includes the SQLite commit
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def bench_log_metric(root: str, points: int) -> tuple[float, float, float, float]:
    autolog.set_tracking_uri(root)
    autolog.flush()
    log_metric = autolog.log_metric
    with autolog.start_run():
        p0 = time.process_time()
        c0 = time.thread_time()
        t0 = time.perf_counter()
        for i in range(points):
            log_metric("loss", 0.5, step=i)
        t1 = time.perf_counter()
        c1 = time.thread_time()
        autolog.flush()
        t2 = time.perf_counter()
        p2 = time.process_time()
    caller_us = (t1 - t0) / points * 1e6
    caller_cpu_us = (c1 - c0) / points * 1e6
    persisted = points / (t2 - t0)
    persisted_cpu = points / (p2 - p0)  # both threads' CPU time: what a quiet machine reaches
    return caller_us, caller_cpu_us, persisted, persisted_cpu


def bench_search(root: str, runs: int) -> tuple[float, float, float, float]:
    autolog.set_tracking_uri(root)
    autolog.set_experiment("search-bench")
    t = time.perf_counter()
    for i in range(runs):
        run = create_run(f"run-{i}")
        run.log_params({"lr": i % 10 / 10, "depth": i % 7, "model": "rf"})
        run.log_metrics({"acc": i / runs, "loss": 1 - i / runs, "f1": 0.5})
        run.set_tags({"team": "a" if i % 2 else "b", "stage": "dev"})
        run.end(wait=False)
    autolog.flush()
    setup = time.perf_counter() - t
    full, full_cpu, filtered, top = [], [], [], []
    for _ in range(5):
        t = time.perf_counter()
        c = time.thread_time()
        df = autolog.search_runs()
        full_cpu.append(time.thread_time() - c)
        full.append(time.perf_counter() - t)
        assert len(df) == runs
        t = time.perf_counter()
        df = autolog.search_runs(
            filter_string="metrics.acc > 0.5 AND params.model = 'rf' AND tags.team = 'a'",
            order_by=["metrics.acc DESC"],
        )
        filtered.append(time.perf_counter() - t)
        t = time.perf_counter()
        df = autolog.search_runs(order_by=["metrics.acc DESC"], max_results=100)
        top.append(time.perf_counter() - t)
        assert len(df) == 100
    return (
        statistics.median(full) * 1000,
        statistics.median(full_cpu) * 1000,
        statistics.median(filtered) * 1000,
        statistics.median(top) * 1000,
        setup,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=10_000)
    opts = parser.parse_args()
    print(f"python {sys.version.split()[0]} on {sys.platform}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "")
    print("(wall time; 'cpu' = CPU time of the measured thread(s), which a loaded machine "
          "inflates less)")
    print(f"CPU reference: 10M-iteration Python loop = {cpu_reference():.2f} cpu-s")
    wall, cpu = bench_import()
    print(f"import autolog (fresh process, median of 9):   {wall:7.1f} ms wall, {cpu:6.1f} ms cpu"
          "   (target <= 30)")
    with tempfile.TemporaryDirectory() as tmp:
        ms = bench_lifecycle(f"{tmp}/lifecycle")
        print(f"start_run + 10 params + end_run (file store): {ms:7.2f} ms")
        ms = bench_lifecycle("memory:")
        print(f"start_run + 10 params + end_run (memory:):    {ms:7.2f} ms")
        caller, caller_cpu, persisted, persisted_cpu = bench_log_metric(
            f"{tmp}/metrics", opts.points
        )
        print(f"log_metric caller side ({opts.points:,} points):  {caller:7.2f} us/point wall, "
              f"{caller_cpu:5.2f} us cpu   (target <= 5)")
        print(f"persisted, first log -> flush done (file store): {persisted:10,.0f} points/s wall, "
              f"{persisted_cpu:10,.0f} per cpu-second   (target >= 200,000)")
        full, full_cpu, filtered, top, setup = bench_search(f"{tmp}/search", opts.runs)
        print(f"search_runs over {opts.runs:,} runs, all rows:     {full:7.1f} ms wall, "
              f"{full_cpu:6.1f} ms cpu   (target <= 200)")
        print(f"search_runs over {opts.runs:,} runs, 3-way filter + order: {filtered:7.1f} ms wall")
        print(f"search_runs over {opts.runs:,} runs, top 100 by a metric:  {top:7.1f} ms wall")
        print(f"  (creating the {opts.runs:,} runs took {setup:.1f} s)")
        autolog.set_tracking_uri("memory:")


if __name__ == "__main__":
    main()
