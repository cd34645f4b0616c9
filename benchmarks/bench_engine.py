"""Engine costs (printed; figures go into README.md by hand).

1. ``import autolog; autolog.autolog()`` in a fresh interpreter, nothing imported (median).
2. Extra cost of a patched call that does not log: nested inside an autologged call, and with
   the integration's wrapper left inert (disabled under a foreign wrapper).
3. A patched call whose hook only opens and closes a managed run (in-memory store).

Targets: <= 20 ms, <= 2 us, <= 200 us.  Run: ``.venv/bin/python benchmarks/bench_engine.py``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import timeit

ENABLE_CODE = """
import time
c0, t0 = time.process_time(), time.perf_counter()
import autolog
t1, c1 = time.perf_counter(), time.process_time()
autolog.autolog()
t2, c2 = time.perf_counter(), time.process_time()
print((t2 - t0) * 1000, (t1 - t0) * 1000, (t2 - t1) * 1000, (c2 - c0) * 1000, (c2 - c1) * 1000)
"""


def bench_enable(repeat: int = 21) -> tuple[float, ...]:
    # as installed: bytecode cached (the first run writes it)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times = []
    for i in range(repeat + 1):
        out = subprocess.run([sys.executable, "-c", ENABLE_CODE], capture_output=True, text=True,
                             check=True, env=env)
        if i:
            times.append([float(x) for x in out.stdout.split()])
    total = [t[0] for t in times]
    return (statistics.median(total), min(total), statistics.median(t[1] for t in times),
            statistics.median(t[2] for t in times), statistics.median(t[3] for t in times),
            statistics.median(t[4] for t in times))


class Model:
    def fit(self, X, y=None):
        return self


def _per_call_us(stmt, number: int = 200_000, repeat: int = 7) -> float:
    # thread CPU time: a loaded machine inflates wall time, not the work done
    return min(timeit.repeat(stmt, number=number, repeat=repeat, timer=time.thread_time)) / number * 1e6


def bench_fast_path() -> tuple[float, float, float]:
    from autolog._patching import Owner, Patcher, carry_context

    model = Model()
    plain = _per_call_us(lambda: model.fit(1))

    def hook(call):
        yield

    patcher = Patcher(Owner("bench"))
    patcher.wrap(Model, "fit", hook)
    # nested: another autologged call is running in this context
    nested = carry_context(lambda: _per_call_us(lambda: model.fit(1)))()

    # disabled: our wrapper stays in place, inert, under a foreign wrapper
    ours = Model.__dict__["fit"]

    def foreign(self, X, y=None):
        return ours(self, X, y)

    Model.fit = foreign
    patcher.revert()
    Model.fit = ours  # measure our inert wrapper alone
    disabled = _per_call_us(lambda: model.fit(1))
    del Model.fit
    Model.fit = lambda self, X, y=None: self
    return plain, nested - plain, disabled - plain


def bench_run_hook(number: int = 3000) -> tuple[float, float]:
    import autolog
    from autolog._patching import Owner, Patcher

    autolog.set_tracking_uri("memory:")

    class Estimator:
        def fit(self, X):
            return self

    def hook(call):
        with call.session():
            yield

    patcher = Patcher(Owner("bench"))
    patcher.wrap(Estimator, "fit", hook)
    est = Estimator()
    for _ in range(200):  # warm up (store, writer thread)
        est.fit(1)
    autolog.flush()
    wall, cpu = [], []
    for _ in range(5):
        t0, c0 = time.perf_counter(), time.thread_time()
        for _ in range(number):
            est.fit(1)
        wall.append((time.perf_counter() - t0) / number * 1e6)
        cpu.append((time.thread_time() - c0) / number * 1e6)
        autolog.flush()
    patcher.revert()
    return min(wall), min(cpu)


def main() -> None:
    enable_ms, enable_min, import_ms, call_ms, enable_cpu, call_cpu = bench_enable()
    plain, nested, disabled = bench_fast_path()
    run_us, run_cpu = bench_run_hook()
    print(f"import autolog; autolog.autolog() (fresh interpreter, median): {enable_ms:6.2f} ms   (target <= 20 ms;"
          f" min {enable_min:.2f} ms; import autolog {import_ms:.2f} ms + autolog() {call_ms:.2f} ms;"
          f" CPU {enable_cpu:.2f} ms, of which autolog() {call_cpu:.2f} ms)")
    print(f"plain method call:                                             {plain:6.3f} us")
    print(f"patched call, nested (extra):                                  {nested:6.3f} us   (target <= 2 us)")
    print(f"patched call, disabled/inert wrapper (extra):                  {disabled:6.3f} us   (target <= 2 us)")
    print(f"patched call, hook opens + closes a managed run:               {run_us:6.1f} us   (target <= 200 us;"
          f" caller-thread CPU {run_cpu:.1f} us)")
    print("(per-call figures: caller-thread CPU time, best of 7 -- wall time on a loaded machine"
          " mostly measures the scheduler)")


if __name__ == "__main__":
    main()
