"""Post-training metrics: ``model.score(...)`` and ``sklearn.metrics`` calls on a model's output.

After an autologged fit, the estimator is remembered with its run. Its predictions (the objects
returned by predict / predict_proba / predict_log_proba / decision_function / transform) are
remembered by identity, so a later ``accuracy_score(y_test, pred)`` can be attributed to the
run. Keys follow MLflow: ``<metric>_<dataset>`` where dataset is the variable name of the
prediction input in the user's frame (``eval_dataset`` when none is found); a repeated call adds
``-2``, ``-3``... to the metric name, and another object under an already used variable name
gets ``<name>-2``...

The "is this ours" check is the first thing a patched metric function does: a dict lookup on
the ids of its arguments, confirmed through a weak reference (ids are reused after objects die).
"""

from __future__ import annotations

import sys
import threading
import weakref
from collections import OrderedDict
from typing import Any

_MAX_PREDICTIONS = 1024  # remembered prediction objects (oldest forgotten first)
_MAX_RUNS = 1024  # runs with naming state
_SKIP_FRAME_MODULES = frozenset({"autolog", "wrapt", "sklearn", "joblib", "contextlib"})
FALLBACK_DATASET = "eval_dataset"

_lock = threading.Lock()
_fitted: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()
# id(prediction) -> (weakref to it, run, dataset name)
_predictions: OrderedDict[int, tuple[Any, Any, str]] = OrderedDict()
# run id -> {"datasets": {name: [ids]}, "calls": {(metric, dataset): count}, "info": {key: cmd}}
_run_state: OrderedDict[str, dict[str, Any]] = OrderedDict()


def reset() -> None:
    """Forget every remembered estimator and prediction (tests, ``autolog.disable``)."""
    with _lock:
        _fitted.clear()
        _predictions.clear()
        _run_state.clear()


def register_fitted(est: Any, run: Any) -> None:
    """Remember that ``est`` was fitted into ``run``. Unhashable/unweakrefable estimators are skipped."""
    try:
        with _lock:
            _fitted[est] = run
    except TypeError:
        pass


def forget_fitted(est: Any) -> None:
    try:
        with _lock:
            _fitted.pop(est, None)
    except TypeError:
        pass


def run_of(est: Any) -> Any:
    """The run ``est`` was last autolog-fitted into, or None (cheap; never raises)."""
    if not _fitted:
        return None
    try:
        return _fitted.get(est)
    except TypeError:
        return None


def _state(run_id: str) -> dict[str, Any]:
    state = _run_state.get(run_id)
    if state is None:
        state = {"datasets": {}, "calls": {}, "info": {}}
        _run_state[run_id] = state
        while len(_run_state) > _MAX_RUNS:
            _run_state.popitem(last=False)
    return state


def _user_frame():
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "") or ""
        if module.split(".", 1)[0] not in _SKIP_FRAME_MODULES:
            return frame
        frame = frame.f_back
    return None


def _var_name(obj: Any, frame: Any) -> str | None:
    if frame is None:
        return None
    try:
        names = [k for k, v in frame.f_locals.items() if v is obj]
    except Exception:
        return None
    if not names:
        return None
    public = [n for n in names if not n.startswith("_")]
    return (public or names)[0]


def dataset_name(run: Any, data: Any, frame: Any = None) -> str:
    """Name of ``data`` for metric keys in ``run``: its variable name in the user's frame,
    else ``eval_dataset``; another object seen earlier under that name gets ``-2``, ``-3``..."""
    frame = frame if frame is not None else _user_frame()
    base = _var_name(data, frame) or FALLBACK_DATASET
    with _lock:
        seen = _state(run.id)["datasets"].setdefault(base, [])
        ident = id(data)
        if ident not in seen:
            seen.append(ident)
        pos = seen.index(ident)
    return base if pos == 0 else f"{base}-{pos + 1}"


def remember_prediction(result: Any, run: Any, name: str) -> None:
    """Remember ``result`` (a prediction of a model fitted into ``run``) under dataset ``name``."""
    try:
        ref = weakref.ref(result)
    except TypeError:
        return  # lists, tuples: cannot be told apart from a copy later anyway
    with _lock:
        _predictions[id(result)] = (ref, run, name)
        _predictions.move_to_end(id(result))
        while len(_predictions) > _MAX_PREDICTIONS:
            _predictions.popitem(last=False)


def match(args: tuple, kwargs: dict) -> tuple[Any, str] | None:
    """(run, dataset name) if one of the arguments is a remembered prediction, else None.

    This is the hot path of every patched metric call on foreign data: a few dict lookups.
    """
    preds = _predictions
    if not preds:
        return None
    for value in args:
        entry = preds.get(id(value))
        if entry is not None and entry[0]() is value:
            return entry[1], entry[2]
    if kwargs:
        for value in kwargs.values():
            entry = preds.get(id(value))
            if entry is not None and entry[0]() is value:
                return entry[1], entry[2]
    return None


def metric_key(run: Any, metric: str, dataset: str) -> str:
    """``<metric>_<dataset>``, with ``-<n>`` after the metric name from the second call on."""
    with _lock:
        calls = _state(run.id)["calls"]
        n = calls.get((metric, dataset), 0) + 1
        calls[(metric, dataset)] = n
    return f"{metric}_{dataset}" if n == 1 else f"{metric}-{n}_{dataset}"


def _describe(value: Any, frame: Any) -> str:
    name = _var_name(value, frame)
    if name is not None:
        return name
    if isinstance(value, (str, int, float, bool)) or value is None:
        return repr(value)
    return f"<{type(value).__name__}>"


def call_command(fn_name: str, args: tuple, kwargs: dict, frame: Any) -> str:
    """A readable rendering of the metric call, e.g. ``accuracy_score(y_test, pred)``."""
    parts = [_describe(a, frame) for a in args]
    parts += [f"{k}={_describe(v, frame)}" for k, v in kwargs.items()]
    return f"{fn_name}({', '.join(parts)})"


def record_call_info(run: Any, key: str, command: str) -> dict[str, str]:
    """Add ``key -> command`` to the run's metric_info.json content and return a copy of it."""
    with _lock:
        info = _state(run.id)["info"]
        info[key] = command
        return dict(info)
