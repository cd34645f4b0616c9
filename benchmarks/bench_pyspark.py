"""Overhead of Spark MLlib autologging on a CrossValidator fit.

CrossValidator(LogisticRegression, 2x2 grid, numFolds=3) on local[2], default autolog flags
(models logged, into a temporary file store), against the same fit with autolog disabled, in
one process, alternating on/off so that JVM warm-up and machine noise hit both sides alike.

Two figures are printed: the wall time of ``fit()`` (what the user waits for; the model is
written by the background worker) and the same plus ``autolog.flush()`` (the background work
finished too). Usage: ``python benchmarks/bench_pyspark.py [--repeats N] [--rows N]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time


def _data(spark, rows: int, features: int):
    from pyspark.ml.feature import VectorAssembler

    rng = random.Random(0)
    cols = [f"x{i}" for i in range(features)]
    weights = [rng.uniform(-1, 1) for _ in cols]
    data = []
    for _ in range(rows):
        xs = [rng.gauss(0, 1) for _ in cols]
        score = sum(w * x for w, x in zip(weights, xs)) + rng.gauss(0, 0.5)
        data.append((*xs, 1.0 if score > 0 else 0.0))
    raw = spark.createDataFrame(data, [*cols, "label"])
    return VectorAssembler(inputCols=cols, outputCol="features").transform(raw).cache()


def _cv():
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder

    lr = LogisticRegression(maxIter=10)
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.01, 0.1]).addGrid(lr.elasticNetParam, [0.0, 0.5]).build()
    return CrossValidator(
        estimator=lr, estimatorParamMaps=grid, evaluator=BinaryClassificationEvaluator(), numFolds=3, seed=1
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--features", type=int, default=10)
    args = parser.parse_args()

    import autolog
    from pyspark.sql import SparkSession

    store = tempfile.mkdtemp(prefix="autolog-bench-pyspark-")
    autolog.set_tracking_uri(store)
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    df = _data(spark, args.rows, args.features)
    df.count()  # materialise the cache outside the timings (the benchmark's own data)

    def one(enabled: bool) -> tuple[float, float]:
        if enabled:
            autolog.autolog()
        else:
            autolog.disable()
        start = time.perf_counter()
        _cv().fit(df)
        fit_s = time.perf_counter() - start
        autolog.flush()
        return fit_s, time.perf_counter() - start

    one(False)  # warm-up: JIT, class loading
    one(True)
    off, on = [], []
    for i in range(args.repeats):
        # alternate the order too, so a slow drift of the machine does not favour one side
        pair = (one(False), one(True)) if i % 2 == 0 else tuple(reversed((one(True), one(False))))
        off.append(pair[0])
        on.append(pair[1])
        print(f"  pair {i}: off {pair[0][0]:.3f} s, on {pair[1][0]:.3f} s (+flush {pair[1][1]:.3f} s)",
              flush=True)
    autolog.disable()
    hook_s = _foreground_cost(df, args.repeats)

    def med(samples, i):
        return statistics.median(s[i] for s in samples)

    base, fit_on, total_on = med(off, 0), med(on, 0), med(on, 1)
    paired = statistics.median((b[0] - a[0]) / a[0] for a, b in zip(off, on))
    paired_total = statistics.median((b[1] - a[0]) / a[0] for a, b in zip(off, on))
    print(f"CrossValidator(LogisticRegression, 2x2 grid, numFolds=3), {args.rows} rows x "
          f"{args.features} features, local[2], median of {args.repeats}")
    print(f"  autolog off           : {base:7.3f} s")
    print(f"  autolog on, fit()     : {fit_on:7.3f} s  overhead {100 * (fit_on - base) / base:+.1f} %"
          f"  (median of paired differences {100 * paired:+.1f} %)")
    print(f"  autolog on, + flush() : {total_on:7.3f} s  overhead {100 * (total_on - base) / base:+.1f} %"
          f"  (paired {100 * paired_total:+.1f} %)")
    print(f"  autolog's own work in the fit thread (hook before + after the original): "
          f"{1000 * hook_s:.1f} ms per fit = {100 * hook_s / base:.2f} % of the fit")
    spark.stop()


def _foreground_cost(df, repeats: int) -> float:
    """Median seconds spent in the integration's fit hook itself (load-independent figure):
    the hook generator is timed around its two steps, the original fit excluded."""
    import autolog
    from autolog.integrations import pyspark as integration

    original = integration._fit_hook
    spent: list[float] = []

    def timed(call):
        gen = original(call)
        start = time.perf_counter()
        try:
            next(gen)
        except StopIteration:
            return
        before = time.perf_counter() - start
        try:
            result = yield
        except BaseException as exc:
            try:
                gen.throw(exc)
            except BaseException:
                pass
            raise
        start = time.perf_counter()
        try:
            gen.send(result)
        except StopIteration:
            pass
        spent.append(before + time.perf_counter() - start)

    integration._fit_hook = timed  # picked up when the integration installs its patches
    try:
        for _ in range(repeats):
            autolog.autolog()
            _cv().fit(df)
            autolog.flush()
            autolog.disable()
    finally:
        integration._fit_hook = original
    return statistics.median(spent)


if __name__ == "__main__":
    main()
