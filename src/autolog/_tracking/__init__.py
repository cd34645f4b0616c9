"""Run model, manual logging API, background writer and the embedded run store.

Internal package: the public names are re-exported by :mod:`autolog`. Other autolog modules
(engine, models) use the helpers below, which are not part of the user-facing API.
"""

from __future__ import annotations

from autolog._tracking._fluent import (
    create_run,
    flush,
    get_client,
    pop_active_run,
    push_active_run,
    submit_background,
)
from autolog._tracking._run import Run, RunNotFoundError, RunStatus
from autolog._tracking._store_base import ExperimentInfo, RunInfo, Store, WriteBatch

__all__ = [
    "ExperimentInfo",
    "Run",
    "RunInfo",
    "RunNotFoundError",
    "RunStatus",
    "Store",
    "WriteBatch",
    "create_run",
    "flush",
    "get_client",
    "pop_active_run",
    "push_active_run",
    "submit_background",
]
