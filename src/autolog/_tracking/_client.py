"""In-process write queue, background writer thread and background task worker.

Callers append tuples to a deque (no lock, no disk); one daemon writer thread per store drains
the deques in batches into the store. ``flush`` drains synchronously under the writer lock, so
it never depends on the writer thread being alive. Problems found off the caller's thread are
reported through :func:`report_problem`: an :class:`AutologWarning`, or, in strict mode, an error
raised by the next ``flush()``.
"""

from __future__ import annotations

import contextvars
import os
import sys
import threading
import time
import warnings
import weakref
from collections import deque
from typing import Any, Callable

from autolog._errors import AutologWarning, is_strict
from autolog._tracking._keys import validate_key
from autolog._tracking._run import OP_END, OP_PARAM, OP_RUN, OP_TAG, Run, RunStatus
from autolog._tracking._store_base import RunInfo, Store, WriteBatch

_MAX_BATCH = 200_000
_IDLE_WAIT_S = 1.0
_GATHER_S = 0.02  # batch window after a wake-up; flush() drains at once, so only crash-loss grows
_GATHER_UNTIL = 20_000  # skip the window when this many points already wait

_problems: list[tuple[str, BaseException | None]] = []
_problems_lock = threading.Lock()


def report_problem(message: str, exc: BaseException | None = None) -> None:
    """Warn now (AutologWarning) or, in strict mode, keep it for the next ``flush()`` to raise."""
    if is_strict():
        with _problems_lock:
            _problems.append((message, exc))
    else:
        warnings.warn(message, AutologWarning, stacklevel=2)


def raise_problems() -> None:
    """Raise the first kept problem as an AutologWarning (chained to its cause) and clear all."""
    with _problems_lock:
        if not _problems:
            return
        kept = list(_problems)
        _problems.clear()
    message, exc = kept[0]
    if len(kept) > 1:
        message += f" (and {len(kept) - 1} more problem(s))"
    raise AutologWarning(message) from exc


_ADJECTIVES = (
    "amber", "bold", "brisk", "calm", "clever", "crisp", "dapper", "eager", "fuzzy", "gentle",
    "glad", "keen", "lucid", "merry", "nimble", "proud", "quiet", "rapid", "shy", "sunny",
    "tidy", "vivid", "witty", "zesty",
)
_NOUNS = (
    "otter", "heron", "lynx", "panda", "koala", "falcon", "badger", "gecko", "ibis", "marten",
    "newt", "orca", "puffin", "quail", "raven", "seal", "tapir", "vole", "wombat", "yak",
)


def _generate_name(run_id: str) -> str:
    n = int(run_id[:8], 16)
    return f"{_ADJECTIVES[n % len(_ADJECTIVES)]}-{_NOUNS[(n >> 8) % len(_NOUNS)]}-{n % 1000}"


class Client:
    """Owns one store in this process: the write queues, the writer thread and Run handles."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._mq: deque[tuple] = deque()  # metric points (run_id, key, value, step, ts)
        self._oq: deque[tuple] = deque()  # other ops, see autolog._tracking._run OP_*
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._sleeping = True  # writer idle (or not started): producers must poke it
        self._writer: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._runs: weakref.WeakValueDictionary[str, Run] = weakref.WeakValueDictionary()
        self._retiring = False
        _clients.add(self)

    # writer ------------------------------------------------------------------------------
    def _poke(self) -> None:
        if self._writer is None:
            with self._start_lock:
                if self._writer is None:
                    t = threading.Thread(target=self._loop, name="autolog-writer", daemon=True)
                    try:
                        t.start()
                    except RuntimeError:  # interpreter shutting down: the exit hook drains
                        return
                    self._writer = t
        # producers stop poking at once, not only when the writer next gets the GIL (until
        # then every log call would pay for another Event.set)
        self._sleeping = False
        self._wake.set()

    def _loop(self) -> None:
        wake = self._wake
        while True:
            if not self._mq and not self._oq:
                self._sleeping = True
                if not self._mq and not self._oq:
                    wake.wait(_IDLE_WAIT_S)
                wake.clear()
                self._sleeping = False
                if len(self._mq) < _GATHER_UNTIL:
                    time.sleep(_GATHER_S)  # let a burst accumulate into one transaction
            self.drain()
            if self._retiring:
                with self._start_lock:
                    if not self._mq and not self._oq:
                        self._writer = None
                        self._sleeping = True
                        return

    def drain(self) -> None:
        """Write every record enqueued before the call (in this thread). Records other threads
        enqueue meanwhile are left to the writer, so a busy producer cannot starve a flush.
        Errors are reported (see :func:`report_problem`), not raised."""
        with self._write_lock:
            mq, oq = self._mq, self._oq
            # metrics are counted before other ops: a counted metric was enqueued after its
            # run's creation, which is then among the counted ops
            left_m = len(mq)
            left_o = len(oq)
            while left_m or left_o:
                n_metrics = min(left_m, _MAX_BATCH)
                left_m -= n_metrics
                batch = WriteBatch()
                runs, params, tags, ends = batch.runs, batch.params, batch.tags, batch.ends
                pop = oq.popleft
                for _ in range(left_o):
                    item = pop()
                    op = item[0]
                    if op == OP_PARAM:
                        params.append(item[1:])
                    elif op == OP_TAG:
                        tags.append(item[1:])
                    elif op == OP_END:
                        ends.append(item[1:])
                    else:
                        runs.append(item[1:])
                left_o = 0
                mpop = mq.popleft
                batch.metrics = [mpop() for _ in range(n_metrics)]
                try:
                    problems = self.store.write(batch)
                except Exception as exc:  # noqa: BLE001 - must never kill the writer
                    report_problem(
                        f"autolog could not write {len(batch)} record(s) to {self.store.uri}: "
                        f"{exc}",
                        exc,
                    )
                    continue
                for p in problems:
                    report_problem(p)

    def sync(self) -> None:
        """Wait for background tasks (unless called from one) and write pending records."""
        _tasks.wait()
        self.drain()

    def flush(self) -> None:
        """:meth:`sync`, then raise kept problems (strict mode)."""
        self.sync()
        raise_problems()

    def retire(self) -> None:
        """Let the writer thread exit once the queues are empty (the client is no longer the
        current one; a later write to one of its runs starts a writer again)."""
        self._retiring = True
        self._wake.set()

    def _after_fork_in_child(self) -> None:
        # pending items belong to the parent, which writes them; start afresh
        self._mq.clear()
        self._oq.clear()
        self._write_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._wake = threading.Event()
        self._writer = None
        self._sleeping = True
        for run in list(self._runs.values()):
            run._lock = threading.Lock()
        self.store.after_fork_in_child()

    # runs --------------------------------------------------------------------------------
    def create_run(
        self,
        name: str | None,
        experiment: str,
        parent_id: str | None,
        tags: dict[str, Any] | None,
    ) -> Run:
        """Create a RUNNING run (its creation is enqueued, not awaited) and return its handle."""
        for key in tags or ():
            validate_key(key, "tag key")  # before the run exists: a bad tag must not leave one
        exp_id = self.store.get_or_create_experiment(experiment)
        run_id = os.urandom(16).hex()
        name = name if name is not None else _generate_name(run_id)
        start = time.time_ns() // 1_000_000
        run = Run(self, run_id, str(name), experiment, parent_id, start, fresh=True)
        self._runs[run_id] = run
        self._oq.append((OP_RUN, run_id, exp_id, run.name, parent_id, RunStatus.RUNNING, start))
        if tags:
            run.set_tags(tags)
        else:
            self._poke()
        return run

    def run_from_info(self, info: RunInfo) -> Run:
        run = self._runs.get(info.run_id)
        if run is None:
            run = Run._from_info(self, info)
            self._runs[info.run_id] = run
        return run

    def get_run(self, run_id: str) -> Run | None:
        run = self._runs.get(run_id)
        if run is not None:
            return run
        self.sync()
        info = self.store.get_run_info(run_id)
        return None if info is None else self.run_from_info(info)


_clients: weakref.WeakSet[Client] = weakref.WeakSet()


class _TaskWorker:
    """One daemon thread running submitted callables in order; ``wait`` blocks until idle."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._queue: deque[tuple] = deque()
        self._cond = threading.Condition()
        self._pending = 0
        self._thread: threading.Thread | None = None

    def submit(self, fn: Callable[..., Any], args: tuple) -> None:
        ctx = contextvars.copy_context()
        if sys.is_finalizing():
            # daemon threads no longer run once the interpreter finalizes: a queued task would
            # never finish and wait() would hang the exit, so run it here and now
            self._run(ctx, fn, args)
            return
        with self._cond:
            self._queue.append((ctx, fn, args))
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="autolog-tasks", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                ctx, fn, args = self._queue.popleft()
            try:
                self._run(ctx, fn, args)
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()

    @staticmethod
    def _run(ctx: contextvars.Context, fn: Callable[..., Any], args: tuple) -> None:
        try:
            ctx.run(fn, *args)
        except BaseException as exc:  # noqa: BLE001 - a task must not kill the worker
            name = getattr(fn, "__qualname__", repr(fn))
            report_problem(f"autolog background task {name} failed: {exc!r}", exc)

    def in_worker(self) -> bool:
        return threading.current_thread() is self._thread

    def wait(self) -> None:
        if self._pending == 0 or self.in_worker():
            return
        if sys.is_finalizing():
            self._drain_here()  # the worker is frozen for good: finish its queue ourselves
            return
        with self._cond:
            while self._pending:
                self._cond.wait()

    def _drain_here(self) -> None:
        while True:
            with self._cond:
                if not self._queue:
                    return
                ctx, fn, args = self._queue.popleft()
                self._pending -= 1
            self._run(ctx, fn, args)


_tasks = _TaskWorker()


def submit_background(fn: Callable[..., Any], *args: Any) -> None:
    """Run ``fn(*args)`` on autolog's background worker thread (in a copy of the caller's
    context), in submission order. ``flush()`` and interpreter exit wait for it. An exception
    becomes an AutologWarning (strict mode: raised by the next ``flush()``)."""
    _tasks.submit(fn, args)


def flush_all() -> None:
    """Wait for background tasks, write every client's pending records, raise kept problems."""
    _tasks.wait()
    for client in list(_clients):
        client.drain()
    raise_problems()


def _after_fork_in_child() -> None:
    global _problems_lock
    _problems_lock = threading.Lock()  # may have been held by a parent thread at fork time
    _tasks._reset()
    for client in list(_clients):
        client._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
