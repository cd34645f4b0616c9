"""Module-level tracking API: tracking URI, experiments, the active-run stack and log_* calls.

The active-run stack lives in a ``contextvars.ContextVar``: every thread and asyncio task has
its own. Module-level ``log_*`` calls act on the top of the current context's stack and raise
:class:`RunStateError` when it is empty (no run is started implicitly).

Importing this module is cheap: sqlite3 and pandas are imported when a store is first needed.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any, Mapping

from autolog._errors import ConfigError, RunStateError
from autolog._tracking._client import (
    Client,
    _clients,
    _tasks,
    flush_all,
    raise_problems,
    submit_background,
)
from autolog._tracking._run import Run, RunNotFoundError, RunStatus, _active_stack

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from autolog._tracking._store_base import ExperimentInfo, Store

__all__ = [
    "DEFAULT_TRACKING_DIR",
    "active_run",
    "create_run",
    "end_run",
    "flush",
    "get_client",
    "get_run",
    "get_tracking_uri",
    "last_run",
    "list_experiments",
    "log_artifact",
    "log_dict",
    "log_figure",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "pop_active_run",
    "push_active_run",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
    "submit_background",
]

DEFAULT_TRACKING_DIR = "autolog-runs"
DEFAULT_EXPERIMENT = "Default"
TRACKING_URI_ENV = "AUTOLOG_TRACKING_URI"
EXPERIMENT_ENV = "AUTOLOG_EXPERIMENT_NAME"

_lock = threading.RLock()
_uri: str | None = None  # set by set_tracking_uri; None = env or default
_client: Client | None = None
_experiment: str | None = None
_last_run: Run | None = None
_last_run_var: ContextVar[Run | None] = ContextVar("autolog_last_run", default=None)


# tracking URI and store -------------------------------------------------------------------
def _open_store(uri: str) -> Store:
    from autolog._tracking._sqlite_store import SQLiteStore

    if uri in ("memory:", "memory://"):
        return SQLiteStore(None)
    if uri.startswith("file:"):
        from urllib.parse import unquote, urlparse
        from urllib.request import url2pathname

        parsed = urlparse(uri)
        if parsed.netloc not in ("", "localhost"):
            raise ConfigError(f"file URI {uri!r} names a remote host; use a local path")
        return SQLiteStore(url2pathname(unquote(parsed.path)), uri=uri)
    scheme = uri.split(":", 1)[0] if "://" in uri else ""
    if scheme:
        raise ConfigError(
            f"tracking URI {uri!r}: scheme {scheme!r} is not supported "
            "(use a directory path, a file:// URL or 'memory:')"
        )
    return SQLiteStore(uri)


def _effective_uri() -> str:
    if _uri is not None:
        return _uri
    env = os.environ.get(TRACKING_URI_ENV, "").strip()
    return env or os.path.abspath(DEFAULT_TRACKING_DIR)


def get_client() -> Client:
    """The client of the current tracking URI, opening its store on first use.

    Raises :class:`ConfigError` for an unsupported URI, ``OSError`` / ``sqlite3.Error`` if the
    store cannot be opened.
    """
    client = _client
    if client is not None:
        return client
    return _ensure_client()


def _ensure_client() -> Client:
    global _client
    with _lock:
        if _client is None:
            _client = Client(_open_store(_effective_uri()))
        return _client


def set_tracking_uri(uri: str | os.PathLike[str]) -> None:
    """Select where runs are stored: a directory path or ``file://`` URL (embedded SQLite store,
    created if missing), or ``"memory:"`` (in-memory; every call gives a new, empty store).

    Overrides ``AUTOLOG_TRACKING_URI``. Runs already started keep writing to their own store.
    Raises :class:`ConfigError` for an unsupported scheme; errors opening the store surface
    here for ``memory:``, otherwise on first use.
    """
    global _uri, _client, _last_run
    uri = os.fspath(uri)
    if not isinstance(uri, str) or not uri.strip():
        raise ConfigError(f"tracking URI must be a non-empty string, got {uri!r}")
    uri = uri.strip()
    if "://" not in uri and not uri.startswith("memory:"):
        uri = os.path.abspath(os.path.expanduser(uri))  # immune to later chdir()
    with _lock:
        old = _client
        _uri = uri
        _client = None
        if uri.startswith("memory:"):
            _client = Client(_open_store(uri))
        elif "://" in uri and not uri.startswith("file:"):
            _open_store(uri)  # raises ConfigError for the unsupported scheme
        _last_run = None
        _last_run_var.set(None)
    if old is not None:
        old.retire()


def get_tracking_uri() -> str:
    """The current tracking URI: set_tracking_uri's, else ``AUTOLOG_TRACKING_URI``, else the
    absolute path of ``./autolog-runs``. Never raises."""
    return _effective_uri()


# experiments --------------------------------------------------------------------------------
def _current_experiment() -> str:
    if _experiment is not None:
        return _experiment
    return os.environ.get(EXPERIMENT_ENV, "").strip() or DEFAULT_EXPERIMENT


def _check_experiment_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"experiment name must be a non-empty string, got {name!r}")
    return name


def set_experiment(name: str) -> str:
    """Make ``name`` the current experiment (for new runs and ``search_runs``), creating it in
    the store if missing; returns its id. The ``"Default"`` experiment always exists.

    Raises :class:`ConfigError` for an empty or non-string name.
    """
    global _experiment
    name = _check_experiment_name(name)
    exp_id = get_client().store.get_or_create_experiment(name)
    _experiment = name
    return exp_id


def list_experiments() -> list[ExperimentInfo]:
    """All experiments of the current store as ``ExperimentInfo(experiment_id, name,
    creation_time)`` named tuples, oldest first."""
    return get_client().store.list_experiments()


# active runs --------------------------------------------------------------------------------
def _top() -> Run | None:
    stack = _active_stack.get()
    if stack and stack[-1].ended:
        stack = tuple(r for r in stack if not r.ended)
        _active_stack.set(stack)
    return stack[-1] if stack else None


def active_run() -> Run | None:
    """The run on top of this context's active stack (thread / asyncio task), or None."""
    return _top()


def last_run() -> Run | None:
    """The run most recently made active (started or pushed) in this context, falling back to
    the last one in the process; None if there was none in the current store. Useful after an
    autologged fit: ``model.fit(X, y); autolog.last_run().metrics``."""
    run = _last_run_var.get()
    if run is None:
        run = _last_run
    # a run of a previous tracking URI is not "last" in the current store
    return run if run is not None and run._client is _client else None


def _mark_last(run: Run) -> None:
    global _last_run
    _last_run = run
    _last_run_var.set(run)


def create_run(
    name: str | None = None,
    *,
    experiment: str | None = None,
    parent_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> Run:
    """Create a RUNNING run without making it active (child runs, managed runs).

    ``experiment`` defaults to the current experiment. The caller ends it with ``run.end()``.
    """
    exp = _check_experiment_name(experiment) if experiment is not None else _current_experiment()
    return get_client().create_run(name, exp, parent_id, dict(tags) if tags else None)


def start_run(
    name: str | None = None,
    *,
    nested: bool = False,
    tags: Mapping[str, Any] | None = None,
    experiment: str | None = None,
) -> Run:
    """Create a run and push it on this context's active stack; returns the :class:`Run`.

    As a context manager it ends FINISHED, FAILED on an exception, KILLED on KeyboardInterrupt.
    With a run already active, ``nested=True`` makes the new run its child (in the parent's
    experiment unless ``experiment`` is given); without it, :class:`RunStateError` is raised.
    """
    parent = _top()
    if parent is not None and not nested:
        raise RunStateError(
            f"run {parent.id} ({parent.name!r}) is already active in this context; end it "
            "first, or pass nested=True to start a child run"
        )
    if experiment is None and parent is not None:
        experiment = parent.experiment
    run = create_run(
        name, experiment=experiment, parent_id=parent.id if parent else None, tags=tags
    )
    _active_stack.set(_active_stack.get() + (run,))
    _mark_last(run)
    return run


def end_run(status: str = RunStatus.FINISHED) -> None:
    """End the active run of this context with ``status`` and flush; no-op without one.

    Raises :class:`RunStateError` for a status other than FINISHED, FAILED or KILLED.
    """
    if status not in RunStatus.TERMINAL:
        raise RunStateError(
            f"invalid run status {status!r}; use one of {sorted(RunStatus.TERMINAL)}"
        )
    run = _top()
    if run is not None:
        run.end(status)


def push_active_run(run: Run) -> Token:
    """Make ``run`` active in this context (without starting anything); returns the token for
    :func:`pop_active_run`."""
    token = _active_stack.set(_active_stack.get() + (run,))
    _mark_last(run)
    return token


def pop_active_run(token: Token) -> None:
    """Restore the active stack saved by :func:`push_active_run` (same context only).

    Raises :class:`RunStateError` if the token belongs to another context or was used already.
    """
    try:
        _active_stack.reset(token)
    except (ValueError, RuntimeError) as exc:
        raise RunStateError(f"cannot pop the active run: {exc}") from exc


_get_stack = _active_stack.get


def _require(action: str) -> Run:
    stack = _active_stack.get()
    if stack:
        run = stack[-1]
        if not run.ended:
            return run
        run = _top()
        if run is not None:
            return run
    raise RunStateError(
        f"autolog.{action}() needs an active run: call it inside "
        "`with autolog.start_run():`, or log through the Run object (active runs belong to "
        "one thread / asyncio task; a thread does not see a run started in another one)"
    )


# logging --------------------------------------------------------------------------------------
def log_metric(key: str, value: float, step: int | None = None, timestamp: int | None = None) -> None:
    """Log one metric point to the active run; see :meth:`Run.log_metric`.

    Raises :class:`RunStateError` without an active run.
    """
    stack = _get_stack()
    if stack:
        run = stack[-1]
        if run._end_time is None:  # hot path: no property, no helper call
            run.log_metric(key, value, step, timestamp)
            return
    _require("log_metric").log_metric(key, value, step, timestamp)


def log_metrics(
    metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
) -> None:
    """Log several metric points to the active run; see :meth:`Run.log_metrics`."""
    _require("log_metrics").log_metrics(metrics, step, timestamp)


def log_param(key: str, value: Any) -> None:
    """Log one param to the active run; :class:`ParamConflictError` if it already has another
    value, :class:`RunStateError` without an active run."""
    _require("log_param").log_params({key: value})


def log_params(
    params: Mapping[str, Any], *, on_conflict: str = "raise", suffix: str | None = None
) -> dict[str, str]:
    """Log params to the active run; see :meth:`Run.log_params`."""
    return _require("log_params").log_params(params, on_conflict=on_conflict, suffix=suffix)


def set_tag(key: str, value: Any) -> None:
    """Set one tag on the active run (overwrites); :class:`RunStateError` without one."""
    _require("set_tag").set_tag(key, value)


def set_tags(
    tags: Mapping[str, Any], *, on_conflict: str = "overwrite", suffix: str | None = None
) -> dict[str, str]:
    """Set tags on the active run; see :meth:`Run.set_tags`."""
    return _require("set_tags").set_tags(tags, on_conflict=on_conflict, suffix=suffix)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    """Copy a file or directory into the active run's artifacts; see :meth:`Run.log_artifact`."""
    _require("log_artifact").log_artifact(local_path, artifact_path)


def log_text(text: str, artifact_file: str) -> None:
    """Write text as an artifact of the active run; see :meth:`Run.log_text`."""
    _require("log_text").log_text(text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str) -> None:
    """Write a dict as JSON/YAML artifact of the active run; see :meth:`Run.log_dict`."""
    _require("log_dict").log_dict(dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> None:
    """Save a figure as an artifact of the active run; see :meth:`Run.log_figure`."""
    _require("log_figure").log_figure(figure, artifact_file)


# flushing and queries ---------------------------------------------------------------------
def flush() -> None:
    """Block until every record enqueued before the call is durable in its store and every
    background task has finished. In strict mode, raises (as :class:`AutologWarning`) the first
    problem a background write or task met since the last flush."""
    flush_all()


def get_run(run_id: str) -> Run:
    """The run ``run_id`` of the current store (pending writes are flushed first).

    Raises :class:`RunNotFoundError` (a ``LookupError``) if the store has no such run.
    """
    run = get_client().get_run(str(run_id))
    if run is None:
        raise RunNotFoundError(f"no run with id {run_id!r} in store {get_tracking_uri()}")
    return run


_clients_by_uri: dict[str, Client] = {}


def run_by_reference(run_id: str, uri: str) -> Run:
    """The handle of run ``run_id`` stored at ``uri`` (used to unpickle runs): a live handle in
    this process if any, else the run read from that store. Raises :class:`RunNotFoundError`."""
    for client in list(_clients):
        run = client._runs.get(run_id)
        if run is not None:
            return run
    client = get_client()
    if client.store.uri != uri and not uri.startswith("memory:"):
        with _lock:
            client = _clients_by_uri.get(uri) or _clients_by_uri.setdefault(
                uri, Client(_open_store(uri))
            )
    run = client.get_run(run_id)
    if run is None:
        raise RunNotFoundError(f"no run with id {run_id!r} in store {uri}")
    return run


def search_runs(
    experiment: str | list[str] | None = None,
    filter_string: str | None = None,
    order_by: str | list[str] | None = None,
    max_results: int | None = None,
) -> pd.DataFrame:
    """Runs as a pandas DataFrame, one row per run (pending writes are flushed first).

    ``experiment``: a name, a list of names, ``"*"`` for every experiment, or None for the
    current experiment (as MLflow does). Unknown names match nothing.
    ``filter_string``: comparisons joined by ``AND``, e.g.
    ``"params.lr = '0.1' AND metrics.acc > 0.9 AND tags.team != 'x' AND attributes.status =
    'FINISHED' AND attributes.name LIKE 'cv-%'"``; operators ``= != < <= > >=`` (metrics and
    start/end times compare numerically) and ``LIKE`` / ``ILIKE`` for strings; quote odd keys
    with backquotes: ``params.`my key```. A malformed filter raises
    :class:`MalformedFilterError` naming the position and the bad token.
    ``order_by``: e.g. ``["metrics.acc DESC", "start_time"]``; default newest first.
    ``max_results``: at most that many rows (a positive int).

    Columns: ``run_id, parent_run_id, name, status, start_time, end_time`` (UTC datetimes),
    ``experiment``, then ``params.<k>``, ``metrics.<k>`` (float, latest value) and ``tags.<k>``.
    """
    if max_results is not None and (
        isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1
    ):
        raise ValueError(f"max_results must be a positive int or None, got {max_results!r}")
    if experiment is None:
        names: list[str] | None = [_current_experiment()]
    elif experiment == "*":
        names = None
    elif isinstance(experiment, str):
        names = [experiment]
    else:
        names = [str(e) for e in experiment]
    if isinstance(order_by, str):
        order_by = [order_by]
    client = get_client()
    client.sync()
    return client.store.search(names, filter_string, list(order_by) if order_by else None, max_results)


# process lifecycle --------------------------------------------------------------------------
def _at_exit() -> None:
    exc = getattr(sys, "last_value", None)
    status = RunStatus.FINISHED
    if exc is not None:
        status = RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
    try:
        for run in reversed(_active_stack.get()):
            if not run.ended:
                run.end(status, wait=False)
        _tasks.wait()
        for client in list(_clients):
            client.drain()
    except Exception as err:  # noqa: BLE001 - never break interpreter exit
        print(f"autolog: could not flush at exit: {err!r}", file=sys.stderr)
    try:
        raise_problems()
    except Exception as err:  # noqa: BLE001 - strict-mode problems nobody flushed
        print(f"autolog: {err}", file=sys.stderr)
    store_module = sys.modules.get("autolog._tracking._sqlite_store")
    if store_module is not None:
        store_module.remove_temp_dirs()


atexit.register(_at_exit)


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.RLock()  # may have been held by another thread of the parent


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
