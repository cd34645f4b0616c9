"""Cost of scikit-learn autologging against no autologging, same process, default flags.

Figures are medians of interleaved repeats. "Overhead on the calling thread" is the autologged
call's wall time minus the time of the real fit inside it (a subclass times its own fit), so the
fit's own run-to-run noise cancels out; "background work" is the ``autolog.flush()`` after the
call (predictions for metrics, plots, model and dataset files, run writes), which runs on
autolog's worker thread while the user's code goes on.

* LogisticRegression on iris: overhead per fit (ms);
* RandomForestClassifier, 100 trees, 10k x 20: overhead (% of fit time);
* GridSearchCV, 12 candidates, cv=3: overhead (%);
* ``import sklearn.linear_model`` in a fresh interpreter after ``autolog.autolog()``: extra ms;
* a ``sklearn.metrics`` call on foreign data: extra microseconds per call;
* a search with 1,000 candidates: time to log the 1,000 child runs.

Usage: ``python benchmarks/bench_sklearn.py [--quick]``. Uses an embedded store in a
temporary directory (what users get by default), not the in-memory one.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

QUICK = "--quick" in sys.argv


def _timed(base: type) -> type:
    """A subclass of ``base`` whose fit records how long the real fit took (``inner_``), so the
    overhead is measured as outer call minus inner fit: immune to the fit's own noise."""

    def fit(self, *args, **kwargs):
        t = time.perf_counter()
        result = super(cls, self).fit(*args, **kwargs)
        self.inner_ = time.perf_counter() - t
        return result

    cls = type(f"Timed{base.__name__}", (base,), {"fit": fit, "__module__": __name__})
    globals()[cls.__name__] = cls  # picklable by reference, like any user class
    return cls


def _measure(make: Callable[[], object], fit: Callable[[object], object], repeats: int) -> dict[str, float]:
    """Interleaved plain / autologged fits: medians of fit time, foreground overhead (outer call
    minus inner fit) and background time (the flush after the call)."""
    import autolog

    plain, over, over_plain, bg = [], [], [], []
    for _ in range(repeats):
        autolog.autolog(sklearn=False)
        est = make()
        t = time.perf_counter()
        fit(est)
        total = time.perf_counter() - t
        plain.append(est.inner_)
        over_plain.append(total - est.inner_)
        autolog.autolog(sklearn=True)
        est = make()
        t = time.perf_counter()
        fit(est)
        t1 = time.perf_counter()
        autolog.flush()
        bg.append(time.perf_counter() - t1)
        over.append(t1 - t - est.inner_)
    med = statistics.median
    return {"fit": med(plain), "over": med(over) - med(over_plain), "bg": med(bg)}


def _row(name: str, m: dict[str, float], unit: str) -> tuple[str, ...]:
    fit, over, bg = m["fit"], m["over"], m["bg"]
    if unit == "ms":
        rel = f"{over * 1e3:+.2f} ms ({over / fit * 100:+.1f} %)"
    else:
        rel = f"{over / fit * 100:+.2f} % ({over * 1e3:+.1f} ms)"
    return (name, f"{fit * 1e3:.1f} ms", rel, f"{bg * 1e3:.1f} ms")


def bench_fits() -> list[tuple[str, ...]]:
    import numpy as np
    from sklearn.datasets import load_iris, make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    rows = []
    X, y = load_iris(return_X_y=True)
    LR = _timed(LogisticRegression)
    fit_iris = lambda est: est.fit(X, y)  # noqa: E731
    _measure(lambda: LR(max_iter=500), fit_iris, 2)  # warm up imports, caches, the worker
    rows.append(_row("LogisticRegression, iris", _measure(lambda: LR(max_iter=500), fit_iris,
                                                          15 if QUICK else 41), "ms"))

    Xr, yr = make_classification(n_samples=10_000, n_features=20, random_state=0)
    RF = _timed(RandomForestClassifier)
    rows.append(_row("RandomForest 100 trees, 10k x 20",
                     _measure(lambda: RF(n_estimators=100, random_state=0), lambda e: e.fit(Xr, yr),
                              3 if QUICK else 5), "%"))

    Xg, yg = make_classification(n_samples=3_000, n_features=20, random_state=0)
    grid = {"C": list(np.logspace(-3, 2, 6)), "fit_intercept": [True, False]}  # 12 candidates
    GS = _timed(GridSearchCV)
    rows.append(_row("GridSearchCV 12 candidates, cv=3",
                     _measure(lambda: GS(LogisticRegression(max_iter=500), grid, cv=3),
                              lambda e: e.fit(Xg, yg), 3 if QUICK else 5), "%"))
    return rows


def bench_import() -> tuple[str, ...]:
    base = ("import time, autolog\n{enable}\nt = time.perf_counter()\nimport sklearn.linear_model\n"
            "print(time.perf_counter() - t)\n")
    plain, logged = [], []
    for _ in range(3 if QUICK else 7):
        for code, out in ((base.format(enable=""), plain),
                          (base.format(enable="autolog.autolog()"), logged)):
            proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            out.append(float(proc.stdout.strip().splitlines()[-1]))
    mp, ml = statistics.median(plain), statistics.median(logged)
    return ("import sklearn.linear_model", f"{mp * 1e3:.1f} ms", f"{(ml - mp) * 1e3:+.1f} ms", "")


def bench_metric_call() -> tuple[str, ...]:
    import autolog
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    autolog.autolog()
    from sklearn.metrics import accuracy_score

    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    kept = model.predict(X)  # one remembered prediction of ours
    autolog.flush()  # nothing running in the background while we measure
    original = accuracy_score.__wrapped__
    p, w = [], []
    for _ in range(2000):
        t = time.perf_counter()
        original(y, y)
        p.append(time.perf_counter() - t)
        t = time.perf_counter()
        accuracy_score(y, y)
        w.append(time.perf_counter() - t)
    del kept
    mp, mw = statistics.median(p), statistics.median(w)
    return ("accuracy_score on foreign data", f"{mp * 1e6:.1f} us",
            f"{(mw - mp) * 1e6:+.1f} us (best-of: {(min(w) - min(p)) * 1e6:+.1f} us)", "")


def bench_metric_hook_alone() -> tuple[str, ...]:
    """The integration's metric hook on a function that does nothing: the extra cost of a
    metric call on foreign data, free of the metric's own run-to-run noise (about +-100 us
    for accuracy_score, which hides a few microseconds)."""
    import types

    import autolog
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from autolog._config import resolve
    from autolog._patching import Owner, Patcher
    from autolog.integrations.sklearn import _is_ours, _metric_hook

    autolog.autolog()
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    kept = model.predict(X)  # one remembered prediction of ours, so the lookup is not empty
    autolog.flush()

    module = types.ModuleType("cheap_metrics")

    def cheap_score(y_true, y_pred, *, sample_weight=None):
        return 1.0

    module.cheap_score = cheap_score
    patcher = Patcher(Owner("sklearn", resolve({}, {}, {"log_post_training_metrics": True})))
    patcher.wrap(module, "cheap_score", _metric_hook, when=_is_ours)  # as the integration does
    patched, plain = module.cheap_score, cheap_score
    n = 20_000
    best_plain = best_patched = float("inf")
    for _ in range(7):
        t = time.perf_counter()
        for _ in range(n):
            plain(y, y)
        best_plain = min(best_plain, (time.perf_counter() - t) / n)
        t = time.perf_counter()
        for _ in range(n):
            patched(y, y)
        best_patched = min(best_patched, (time.perf_counter() - t) / n)
    patcher.revert()
    del kept
    return ("metric hook alone, foreign data", f"{best_plain * 1e6:.2f} us",
            f"{(best_patched - best_plain) * 1e6:+.2f} us", "")


def bench_children() -> tuple[str, ...]:
    import autolog
    from sklearn.dummy import DummyClassifier
    from sklearn.model_selection import GridSearchCV

    from autolog.integrations import _sklearn_search

    X = [[0.0], [1.0], [2.0], [3.0]]
    y = [0, 1, 0, 1]
    search = GridSearchCV(DummyClassifier(), {"constant": list(range(1000)), "strategy": ["prior"]}, cv=2)
    autolog.autolog(sklearn=False)
    search.fit(X, y)
    autolog.autolog(sklearn=True)

    import autolog._tracking as tracking

    parent = tracking.create_run("children-bench")
    created: list[object] = []

    class Fake:  # the session's child-run path, without a surrounding fit to time
        run = parent

        def log_params(self, params: dict) -> None:
            parent.log_params(params, on_conflict="rename", suffix="bench000")

        def log_metrics(self, metrics: dict, step: int | None = None) -> None:
            parent.log_metrics(metrics, step=step)

        def child_run(self, name=None, params=None, metrics=None, tags=None):
            child = tracking.create_run(name, parent_id=parent.id, tags=tags)
            if params:
                child.log_params(params)
            if metrics:
                child.log_metrics(metrics)
            created.append(child)
            return child

    t = time.perf_counter()
    _sklearn_search.log_search(Fake(), search, None)
    t1 = time.perf_counter()
    autolog.flush()
    t2 = time.perf_counter()
    parent.end()
    return (f"{len(created)} child runs of a search", "", f"{(t1 - t) * 1e3:.0f} ms",
            f"{(t2 - t) * 1e3:.0f} ms incl. flush")


def main() -> None:
    import autolog

    with tempfile.TemporaryDirectory() as tmp:
        autolog.set_tracking_uri(os.path.join(tmp, "runs"))
        rows = bench_fits()
        rows.append(bench_metric_call())
        rows.append(bench_metric_hook_alone())
        rows.append(bench_children())
        autolog.flush()
    rows.append(bench_import())
    header = ("case", "no autolog", "overhead on the calling thread", "background work")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    import sklearn

    print(f"\nscikit-learn {sklearn.__version__}, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
