"""Sessions: where one autologged call writes, and the managed-run lifecycle.

``with call.session() as s:`` inside a hook either creates a *managed* run (no run active in
this context: tagged ``autolog.integration=<name>``, active while the call runs, ended
FINISHED / FAILED / KILLED without waiting on disk) or logs into the run the user started
(left open; nothing is logged with ``exclusive``). Several fits in one run never lose data:
params / tags that already hold a different value are stored under ``<key>_<suffix>``, and
``autolog/fits.json`` lists every fit with the suffix it used and the keys it renamed.

Logging methods never raise into the hook for a bad value: each failure is reported once per
integration (strict mode: raised) and the remaining calls still log.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from autolog import _tracking
from autolog._patching import Call, report
from autolog._tracking import Run, RunStatus

__all__ = ["Session", "FITS_ARTIFACT"]

FITS_ARTIFACT = "autolog/fits.json"
INTEGRATION_TAG = "autolog.integration"

# run id -> fit records logged into that run by this process (bounded: runs the user keeps open)
_fits: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
_fits_lock = threading.Lock()
_MAX_TRACKED_RUNS = 512
# runs created by sessions: nested hooks log into these even with `exclusive`
_managed_runs: weakref.WeakSet[Run] = weakref.WeakSet()


def _evaluate(value: Any) -> Any:
    return value() if callable(value) else value


class Session:
    """Context manager returned by ``call.session(run_name=None, exclusive=None)``.

    With no active run, a nested call (``nested=True`` hooks) logs nothing: only the outermost
    autologged call creates a run.

    Attributes: ``run`` (the Run logged into, None when nothing is logged), ``managed``
    (whether this session created the run), ``suffix`` (8 hex chars of a uuid4 for renamed
    keys of this fit), ``config``, ``renamed`` (``{"params": {...}, "tags": {...}}``),
    ``models`` (artifact paths of models logged by this fit).
    ``exclusive`` overrides the integration's option for this session. Truthy when logging.
    """

    __slots__ = ("_call", "_run_name", "_exclusive", "run", "managed", "suffix", "renamed",
                 "models", "_token", "_children", "_start")

    def __init__(self, call: Call, run_name: str | None = None, *, exclusive: bool | None = None) -> None:
        self._call = call
        self._run_name = run_name
        self._exclusive = exclusive
        self.run: Run | None = None
        self.managed = False
        self.suffix = uuid.uuid4().hex[:8]
        self.renamed: dict[str, dict[str, str]] = {"params": {}, "tags": {}}
        self._token: Any = None
        self._children: list[Run] = []
        self._start = 0
        self.models: list[str] = []  # artifact paths of the models this fit logged

    @property
    def config(self) -> Any:
        """Resolved options of the integration."""
        return self._call.config

    def __bool__(self) -> bool:
        return self.run is not None

    # lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> Session:
        self._start = int(time.time() * 1000)
        call = self._call
        user_run = _tracking._fluent.active_run()
        if user_run is not None:
            exclusive = self._exclusive if self._exclusive is not None else call.config.get("exclusive")
            if not exclusive or user_run in _managed_runs:
                self.run = user_run
            return self
        if call.nested:
            return self  # only the outermost call owns a run (e.g. a carried task in a worker process)
        tags = {INTEGRATION_TAG: call.integration}
        tags.update(call.config.get("extra_tags") or {})
        run = _tracking.create_run(self._run_name or _default_name(call), tags=tags)
        self.run, self.managed = run, True
        _managed_runs.add(run)
        self._token = _tracking.push_active_run(run)
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        run = self.run
        if run is None:
            return False
        try:
            self._end_children(exc)
            self._record_fit(run, exc)
        finally:
            if self.managed:
                try:
                    _tracking.pop_active_run(self._token)
                finally:
                    run.end(self._status(exc), wait=False)
        return False

    def _status(self, exc: BaseException | None) -> str:
        # only the original's own exception fails the run; ours does not
        if exc is None or exc is not self._call.exception:
            return RunStatus.FINISHED
        return RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED

    def _end_children(self, exc: BaseException | None) -> None:
        status = self._status(exc)
        for child in self._children:
            if not child.ended:
                child.end(status, wait=False)

    def _record_fit(self, run: Run, exc: BaseException | None) -> None:
        call = self._call
        instance = call.instance
        if instance is None:
            estimator = f"{_owner_name(call.owner)}.{call.function_name}"
        else:
            klass = instance if isinstance(instance, type) else type(instance)
            estimator = f"{klass.__module__}.{klass.__qualname__}"
        record = {
            "integration": call.integration,
            "estimator": estimator,
            "function": call.function_name,
            "start_time": self._start,
            "end_time": int(time.time() * 1000),
            "status": self._status(exc),
            "suffix": self.suffix,
            "renamed_params": dict(self.renamed["params"]),
            "renamed_tags": dict(self.renamed["tags"]),
            "models": list(self.models),
            "managed_run": self.managed,
        }
        with _fits_lock:
            fits = _fits.pop(run.id, None) or []
            fits.append(record)
            if not self.managed:
                _fits[run.id] = fits
                while len(_fits) > _MAX_TRACKED_RUNS:
                    _fits.popitem(last=False)
            snapshot = list(fits)  # records are never changed once appended
        _tracking.submit_background(_write_fits, run, snapshot)

    # logging ---------------------------------------------------------------------------------
    def _guard(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            err = report(self._call._owner, exc, f"to {what}")
            if err is not None:
                raise err
            return None

    def _log_batch(self, what: str, fn: Callable[..., Any], items: Mapping[str, Any],
                   **kwargs: Any) -> dict[str, str]:
        # a store validates a batch before writing any of it: when one entry is rejected,
        # log the others one by one so that only the bad entry is lost
        try:
            return fn(items, **kwargs) or {}
        except Exception as exc:
            err = report(self._call._owner, exc, f"to {what}")
            if err is not None:
                raise err
        done: dict[str, str] = {}
        for key, value in dict(items).items():
            try:
                done.update(fn({key: value}, **kwargs) or {})
            except Exception as exc:
                report(self._call._owner, exc, f"to {what}")  # not strict here: reported above
        return done

    def log_params(self, params: Mapping[str, Any]) -> dict[str, str]:
        """Log params; a key holding a different value is stored as ``<key>_<suffix>``
        (recorded in ``renamed`` and fits.json). Returns the renamed keys. A rejected key
        (invalid name) is reported and the rest of the batch is still logged."""
        if self.run is None or not params:
            return {}
        renamed = self._log_batch("log params", self.run.log_params, params, on_conflict="rename",
                                  suffix=self.suffix)
        self.renamed["params"].update(renamed)
        return renamed

    def set_tags(self, tags: Mapping[str, Any]) -> dict[str, str]:
        """Set tags with the same rename-on-conflict rule as :meth:`log_params`."""
        if self.run is None or not tags:
            return {}
        renamed = self._log_batch("set tags", self.run.set_tags, tags, on_conflict="rename",
                                  suffix=self.suffix)
        self.renamed["tags"].update(renamed)
        return renamed

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Log metric values (history is kept). A value that is not a number, or a bad key,
        is reported and the rest of the batch is still logged."""
        if self.run is None or not metrics:
            return
        self._log_batch("log metrics", self.run.log_metrics, metrics, step=step)

    def log_model(self, model: Any, artifact_path: str = "model", *, signature: Any = None,
                  input_example: Any = None) -> str | None:
        """Log ``model`` in the background, honouring ``log_models`` /
        ``log_model_signatures`` / ``log_input_examples``; returns its URI, or None when not
        logged. ``signature`` and ``input_example`` may be zero-argument callables, evaluated
        only when the option is on (saves inference work). When another fit already logged a
        model at ``artifact_path`` in this run, ``<artifact_path>_<suffix>`` is used (listed in
        fits.json), so several fits in one run keep every model. Errors are reported once
        per integration (strict mode: raised)."""
        if self.run is None:
            return None
        config = self._call.config
        if not config.get("log_models", True):
            return None

        def log() -> Any:
            from autolog._errors import ModelError
            from autolog._models import log_model

            sig = _evaluate(signature) if config.get("log_model_signatures", True) else False
            example = _evaluate(input_example) if config.get("log_input_examples", False) else None
            path = artifact_path
            if path in self._used_model_paths():
                path = f"{artifact_path}_{self.suffix}"
            try:
                uri = log_model(model, path, signature=sig, input_example=example, run=self.run,
                                background=True)
            except ModelError as exc:
                if path != artifact_path or "already exists" not in str(exc):
                    raise
                path = f"{artifact_path}_{self.suffix}"  # the user logged one there
                uri = log_model(model, path, signature=sig, input_example=example, run=self.run,
                                background=True)
            self.models.append(path)
            return uri

        return self._guard("log the model", log)

    def _used_model_paths(self) -> set[str]:
        used = set(self.models)
        with _fits_lock:
            for record in _fits.get(self.run.id, ()):  # type: ignore[union-attr]
                used.update(record.get("models", ()))
        return used

    def log_text(self, text: str, artifact_file: str) -> None:
        """Write a text artifact in the background."""
        self._background("log text", "log_text", text, artifact_file)

    def log_dict(self, dictionary: Any, artifact_file: str) -> None:
        """Write a JSON / YAML artifact in the background."""
        self._background("log a dict", "log_dict", dictionary, artifact_file)

    def log_figure(self, figure: Any, artifact_file: str) -> None:
        """Render and write a matplotlib figure in the background."""
        self._background("log a figure", "log_figure", figure, artifact_file)

    def _background(self, what: str, method: str, *args: Any) -> None:
        if self.run is None:
            return
        self._guard(what, _tracking.submit_background, getattr(self.run, method), *args)

    def child_run(self, name: str | None = None, params: Mapping[str, Any] | None = None,
                  metrics: Mapping[str, Any] | None = None,
                  tags: Mapping[str, Any] | None = None) -> Run | None:
        """Create a child run of ``run`` (not made active), log ``params`` / ``metrics`` /
        ``tags`` into it and return it; the session ends it at exit unless it was ended.
        None when the session logs nothing."""
        if self.run is None:
            return None
        call = self._call

        def make() -> Run:
            all_tags = {INTEGRATION_TAG: call.integration}
            all_tags.update(call.config.get("extra_tags") or {})
            all_tags.update(tags or {})
            child = _tracking.create_run(name, experiment=self.run.experiment, parent_id=self.run.id,
                                         tags=all_tags)
            self._children.append(child)
            if params:
                child.log_params(params, on_conflict="rename", suffix=self.suffix)
            if metrics:
                child.log_metrics(metrics)
            return child

        return self._guard("create a child run", make)


def _write_fits(run: Run, fits: list[dict[str, Any]]) -> None:
    # background worker: tasks run in order, so the newest list is written last
    run.log_artifact_bytes(json.dumps({"fits": fits}, indent=1).encode(), FITS_ARTIFACT)


def _owner_name(owner: Any) -> str:
    return getattr(owner, "__qualname__", None) or getattr(owner, "__name__", "?")


def _default_name(call: Call) -> str | None:
    instance = call.instance
    if instance is None:
        return None  # let the store pick a readable random name
    klass = instance if isinstance(instance, type) else type(instance)
    return klass.__name__
