"""The :class:`Run` handle: logging methods, lifecycle and data read back from the store."""

from __future__ import annotations

import os
import threading
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Mapping

from autolog._errors import ParamConflictError, RunNotFoundError, RunStateError
from autolog._tracking._keys import _valid, validate_artifact_path, validate_key

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from autolog._tracking._client import Client
    from autolog._tracking._store_base import RunInfo

__all__ = ["Run", "RunNotFoundError", "RunStatus"]


class RunStatus:
    """Run status strings (MLflow's names)."""

    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    TERMINAL = frozenset({FINISHED, FAILED, KILLED})
    ALL = frozenset({RUNNING, FINISHED, FAILED, KILLED})


# Active-run stack of the current thread / asyncio task (a tuple, so contexts never share it).
_active_stack: ContextVar[tuple[Run, ...]] = ContextVar("autolog_active_runs", default=())

# queue op codes (metrics travel on their own queue, see Client)
OP_RUN, OP_PARAM, OP_TAG, OP_END = 0, 1, 2, 3

_CONFLICT_POLICIES = ("raise", "rename")
_TAG_POLICIES = ("overwrite", "raise", "rename")


_time_ns = time.time_ns
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


def _int64(value: Any, what: str) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise TypeError(f"metric {what} must be an integer, got {value!r}") from None
    if not _I64_MIN <= n <= _I64_MAX:
        raise ValueError(f"metric {what} {n} does not fit in 64 bits")
    return n


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _short(value: str, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _renamed_key(key: str, suffix: str, known: Mapping[str, str], value: str) -> str:
    """``key_suffix`` (trimmed to the key length limit); a counter if that is taken too."""
    base = f"{key[: 250 - len(suffix) - 1]}_{suffix}"
    candidate, n = base, 1
    while candidate in known and known[candidate] != value:
        n += 1
        tail = f"_{suffix}_{n}"
        candidate = f"{key[: 250 - len(tail)]}{tail}"
    return candidate


class Run:
    """A handle on one run. Thread-safe; several handles never exist for one run in a process.

    Immutable attributes: ``id``, ``name``, ``experiment`` (name), ``parent_id``, ``start_time``
    (ms since the epoch). ``status`` and ``end_time`` reflect this process's view. Data
    properties (``params``, ``metrics``, ``tags``, ``artifacts``) flush pending writes and
    background tasks first, then read the store.

    Used as a context manager the run ends FINISHED, FAILED on an exception, KILLED on
    KeyboardInterrupt.
    """

    __slots__ = (
        "id",
        "name",
        "experiment",
        "parent_id",
        "start_time",
        "_client",
        "_mq",
        "_oq",
        "_status",
        "_end_time",
        "_lock",
        "_params",
        "_tags",
        "__weakref__",
    )

    def __init__(
        self,
        client: Client,
        run_id: str,
        name: str | None,
        experiment: str,
        parent_id: str | None,
        start_time: int,
        status: str = RunStatus.RUNNING,
        end_time: int | None = None,
        *,
        fresh: bool = False,
    ) -> None:
        self.id = run_id
        self.name = name
        self.experiment = experiment
        self.parent_id = parent_id
        self.start_time = start_time
        self._client = client
        self._mq = client._mq
        self._oq = client._oq
        self._status = status
        self._end_time = end_time
        self._lock = threading.Lock()
        # params/tags known to be stored; None = not loaded yet (run created elsewhere)
        self._params: dict[str, str] | None = {} if fresh else None
        self._tags: dict[str, str] | None = {} if fresh else None

    def __repr__(self) -> str:
        return f"<Run {self.id} name={self.name!r} experiment={self.experiment!r} {self._status}>"

    def __reduce__(self) -> tuple:
        # pickled as a reference: unpickling finds the live handle, or reopens the run from
        # its store (RunNotFoundError where that store is another process's memory:)
        return (_restore_run, (self.id, self._client.store.uri))

    # lifecycle ---------------------------------------------------------------------------
    @property
    def status(self) -> str:
        """RUNNING, FINISHED, FAILED or KILLED."""
        return self._status

    @property
    def end_time(self) -> int | None:
        """End time in ms since the epoch, None while running."""
        return self._end_time

    @property
    def ended(self) -> bool:
        """Whether :meth:`end` was called on this handle (or the stored run had ended)."""
        return self._end_time is not None

    def end(self, status: str = RunStatus.FINISHED, *, wait: bool = True) -> None:
        """End the run with ``status`` (FINISHED, FAILED or KILLED).

        Ending an ended run is a no-op. The run leaves the current context's active stack.
        ``wait=True`` flushes (the run's data is durable on return; in strict mode background
        errors are raised here); ``wait=False`` only enqueues the end. An invalid status raises
        :class:`RunStateError`.
        """
        if status not in RunStatus.TERMINAL:
            raise RunStateError(
                f"cannot end run {self.id} with status {status!r}; "
                f"use one of {sorted(RunStatus.TERMINAL)}"
            )
        with self._lock:
            already = self._end_time is not None
            if not already:
                self._end_time = _now_ms()
                self._status = status
                self._oq.append((OP_END, self.id, status, self._end_time))
                self._client._poke()
        stack = _active_stack.get()
        if self in stack:
            _active_stack.set(tuple(r for r in stack if r is not self))
        if wait and not already:
            self._client.flush()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        self.end(status)
        return False

    # metrics -----------------------------------------------------------------------------
    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Record one metric point (every point is kept; value as float64, NaN/±inf allowed).

        ``step`` defaults to 0, ``timestamp`` (ms since the epoch) to now. Returns without
        waiting on disk. Raises :class:`InvalidKeyError` for a bad key, ``TypeError`` /
        ``ValueError`` for a value that is not a real number.
        """
        if key not in _valid:
            validate_key(key, "metric key")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"metric {key!r}: value must be a real number, got {type(value).__name__}"
            ) from None
        if step is None:
            step = 0
        elif type(step) is not int or not _I64_MIN <= step <= _I64_MAX:
            step = _int64(step, "step")
        self._mq.append(
            (
                self.id,
                key,
                v,
                step,
                _time_ns() // 1_000_000 if timestamp is None else _int64(timestamp, "timestamp"),
            )
        )
        if self._client._sleeping:
            self._client._poke()

    def log_metrics(
        self, metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Record several metric points sharing ``step`` and ``timestamp``; see :meth:`log_metric`.

        All keys and values are checked before any point is enqueued.
        """
        ts = _now_ms() if timestamp is None else _int64(timestamp, "timestamp")
        st = 0 if step is None else _int64(step, "step")
        rows = []
        for key, value in metrics.items():
            if key not in _valid:
                validate_key(key, "metric key")
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise TypeError(
                    f"metric {key!r}: value must be a real number, got {type(value).__name__}"
                ) from None
            rows.append((self.id, key, v, st, ts))
        self._mq.extend(rows)
        if self._client._sleeping:
            self._client._poke()

    # params and tags ---------------------------------------------------------------------
    def _load_known(self, kind: str) -> None:
        """Fetch stored params/tags of a run this process did not create (outside the run
        lock: waiting on the writer while holding it could deadlock a logging thread)."""
        self._client.drain()
        store = self._client.store
        loaded = store.get_params(self.id) if kind == "param" else store.get_tags(self.id)
        with self._lock:
            if kind == "param" and self._params is None:
                self._params = loaded
            elif kind == "tag" and self._tags is None:
                self._tags = loaded

    def _log_kv(
        self,
        kind: str,
        values: Mapping[str, Any],
        on_conflict: str,
        suffix: str | None,
    ) -> dict[str, str]:
        items = [(validate_key(k, f"{kind} key"), str(v)) for k, v in values.items()]
        op = OP_PARAM if kind == "param" else OP_TAG
        renamed: dict[str, str] = {}
        if (self._params if kind == "param" else self._tags) is None:
            self._load_known(kind)
        with self._lock:
            known = self._params if kind == "param" else self._tags
            assert known is not None
            if on_conflict == "raise":
                for k, v in items:
                    old = known.get(k)
                    if old is not None and old != v:
                        hint = (
                            "params cannot change; log it under another key"
                            if kind == "param"
                            else "use on_conflict='overwrite' to replace it"
                        )
                        raise ParamConflictError(
                            f"{kind} {k!r} of run {self.id} was already logged with value "
                            f"{_short(old)}; refusing new value {_short(v)} ({hint})"
                        )
            out = []
            for k, v in items:
                old = known.get(k)
                if old == v:
                    continue
                if old is not None and on_conflict == "rename":
                    if suffix is None:  # one random suffix for the whole call
                        suffix = os.urandom(4).hex()
                    sfx = suffix
                    new = validate_key(_renamed_key(k, sfx, known, v), f"renamed {kind} key")
                    renamed[k] = new
                    if known.get(new) == v:
                        continue
                    k = new
                known[k] = v
                out.append((op, self.id, k, v))
            if out:
                self._oq.extend(out)
                self._client._poke()
        return renamed

    def log_param(self, key: str, value: Any) -> None:
        """Log one param (stored as ``str(value)``, whole); see :meth:`log_params`."""
        self.log_params({key: value})

    def log_params(
        self,
        params: Mapping[str, Any],
        *,
        on_conflict: str = "raise",
        suffix: str | None = None,
    ) -> dict[str, str]:
        """Log params (values stored as ``str(value)``, never truncated).

        A key already stored with an equal value is skipped. With a different value:
        ``on_conflict="raise"`` raises :class:`ParamConflictError` naming the key and both values
        and logs none of ``params``; ``"rename"`` stores it as ``f"{key}_{suffix}"`` (``suffix``
        defaults to 8 random hex chars). Returns ``{original_key: stored_key}`` for renamed keys.
        Bad keys raise :class:`InvalidKeyError` before anything is logged.
        """
        if on_conflict not in _CONFLICT_POLICIES:
            raise ValueError(f"on_conflict must be one of {_CONFLICT_POLICIES}, got {on_conflict!r}")
        return self._log_kv("param", params, on_conflict, suffix)

    def set_tag(self, key: str, value: Any) -> None:
        """Set one tag (``str(value)``); an existing tag is overwritten. See :meth:`set_tags`."""
        self._log_kv("tag", {key: value}, "overwrite", None)

    def set_tags(
        self,
        tags: Mapping[str, Any],
        *,
        on_conflict: str = "overwrite",
        suffix: str | None = None,
    ) -> dict[str, str]:
        """Set tags (values stored as ``str(value)``).

        Unlike params, tags are mutable: the default ``on_conflict="overwrite"`` replaces a
        different stored value. ``"raise"`` and ``"rename"`` behave as in :meth:`log_params`
        (:class:`ParamConflictError` / ``key_suffix``). Returns the renamed keys.
        """
        if on_conflict not in _TAG_POLICIES:
            raise ValueError(f"on_conflict must be one of {_TAG_POLICIES}, got {on_conflict!r}")
        return self._log_kv("tag", tags, on_conflict, suffix)

    # artifacts ---------------------------------------------------------------------------
    @property
    def artifact_dir(self) -> Path:
        """Local directory of the run's artifacts (embedded store), created on access."""
        path = self._client.store.artifact_dir(self.id)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _target(self, artifact_file: str) -> Path:
        rel = validate_artifact_path(artifact_file, "artifact file")
        path = self.artifact_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def log_artifact(self, local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        """Copy a file (or a directory, recursively) into the run's artifacts.

        It lands at ``<artifact_path>/<basename>`` (``artifact_path`` relative, default the
        root). Raises ``FileNotFoundError`` if ``local_path`` does not exist,
        :class:`InvalidKeyError` for an invalid ``artifact_path``.
        """
        import shutil
        from pathlib import Path

        src = Path(local_path)
        if not src.exists():
            raise FileNotFoundError(f"cannot log artifact: {str(src)!r} does not exist")
        dest_dir = self.artifact_dir
        if artifact_path not in (None, "", "."):
            dest_dir = dest_dir / validate_artifact_path(artifact_path)
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / src.name
        if src.is_dir():
            shutil.copytree(src, dest, dirs_exist_ok=True)
        else:
            shutil.copyfile(src, dest)

    def log_artifact_bytes(self, data: bytes, artifact_file: str) -> None:
        """Write ``data`` as artifact ``artifact_file`` (relative path), replacing it atomically."""
        path = self._target(artifact_file)
        tmp = path.with_name(f".{path.name}.{os.urandom(4).hex()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def log_text(self, text: str, artifact_file: str) -> None:
        """Write ``text`` (UTF-8) as artifact ``artifact_file``."""
        self.log_artifact_bytes(str(text).encode("utf-8"), artifact_file)

    def log_dict(self, dictionary: Any, artifact_file: str) -> None:
        """Write a JSON-serialisable object as ``artifact_file``: YAML if it ends in .yaml/.yml
        (needs PyYAML), JSON otherwise. Raises ``TypeError`` for unserialisable content."""
        import json

        if artifact_file.endswith((".yaml", ".yml")):
            import yaml  # optional dependency, only for YAML artifacts

            text = yaml.safe_dump(dictionary, sort_keys=False)
        else:
            text = json.dumps(dictionary, indent=2, default=_json_default)
        self.log_text(text, artifact_file)

    def log_figure(self, figure: Any, artifact_file: str) -> None:
        """Save a matplotlib figure (``savefig``) or a plotly figure (``write_html`` /
        ``write_image``) as ``artifact_file``. Raises ``TypeError`` for other objects."""
        path = self._target(artifact_file)
        if hasattr(figure, "savefig"):
            figure.savefig(path)
        elif path.suffix == ".html" and hasattr(figure, "write_html"):
            figure.write_html(str(path))
        elif hasattr(figure, "write_image"):
            figure.write_image(str(path))
        else:
            raise TypeError(f"cannot save {type(figure).__name__} as a figure")

    @property
    def artifacts(self) -> list[str]:
        """Relative POSIX paths of the run's artifact files, sorted (after a flush)."""
        self._client.sync()
        return self._client.store.list_artifacts(self.id)

    # data read back ----------------------------------------------------------------------
    @property
    def params(self) -> dict[str, str]:
        """Stored params (after flushing pending writes)."""
        self._client.sync()
        return self._client.store.get_params(self.id)

    @property
    def tags(self) -> dict[str, str]:
        """Stored tags (after flushing pending writes)."""
        self._client.sync()
        return self._client.store.get_tags(self.id)

    @property
    def metrics(self) -> dict[str, float]:
        """Latest value of each metric (highest step, then latest timestamp)."""
        self._client.sync()
        return self._client.store.get_latest_metrics(self.id)

    def metric_history(self, key: str) -> list[tuple[int, int, float]]:
        """Every point of metric ``key`` as ``(step, timestamp, value)``, oldest step first."""
        self._client.sync()
        return self._client.store.get_metric_history(self.id, key)

    def children(self) -> list[Run]:
        """Runs whose parent is this run, oldest first."""
        self._client.sync()
        return [self._client.run_from_info(i) for i in self._client.store.get_children(self.id)]

    def to_dict(self) -> dict[str, Any]:
        """A plain snapshot: info, params, metrics, tags and artifacts."""
        return {
            "run_id": self.id,
            "name": self.name,
            "experiment": self.experiment,
            "parent_run_id": self.parent_id,
            "status": self.status,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "params": self.params,
            "metrics": self.metrics,
            "tags": self.tags,
            "artifacts": self.artifacts,
        }

    @classmethod
    def _from_info(cls, client: Client, info: RunInfo) -> Run:
        return cls(
            client,
            info.run_id,
            info.name,
            info.experiment,
            info.parent_id,
            info.start_time,
            info.status,
            info.end_time,
        )


def _restore_run(run_id: str, uri: str) -> Run:
    from autolog._tracking import _fluent

    return _fluent.run_by_reference(run_id, uri)


def _json_default(obj: Any) -> Any:
    for attr in ("tolist", "item"):  # numpy arrays and scalars without importing numpy
        if hasattr(obj, attr):
            return getattr(obj, attr)()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")
