"""The :class:`Store` interface every run store implements (embedded SQLite now, an MLflow
tracking server later), and the plain records it exchanges with the client.

A store is driven by exactly one :class:`~autolog._tracking._client.Client` per process: writes
arrive in :class:`WriteBatch` objects assembled by the background writer; reads are synchronous.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    import pandas as pd


class RunInfo(NamedTuple):
    """Immutable facts about a run plus its lifecycle fields, as stored."""

    run_id: str
    name: str | None
    experiment: str
    parent_id: str | None
    status: str
    start_time: int
    end_time: int | None


class ExperimentInfo(NamedTuple):
    experiment_id: str
    name: str
    creation_time: int


class WriteBatch:
    """Rows to write in one transaction, in this order: runs, params, tags, metrics, ends.

    runs:    (run_id, experiment_id, name, parent_id, status, start_time)
    params:  (run_id, key, value)                 first value wins
    tags:    (run_id, key, value)                 last value wins
    metrics: (run_id, key, value, step, timestamp) every point kept; value float (NaN/inf ok)
    ends:    (run_id, status, end_time)
    """

    __slots__ = ("runs", "params", "tags", "metrics", "ends")

    def __init__(self) -> None:
        self.runs: list[tuple] = []
        self.params: list[tuple] = []
        self.tags: list[tuple] = []
        self.metrics: list[tuple] = []
        self.ends: list[tuple] = []

    def __len__(self) -> int:
        return (
            len(self.runs) + len(self.params) + len(self.tags) + len(self.metrics) + len(self.ends)
        )

    def split(self) -> list[WriteBatch]:
        """Smaller batches in write order (each run, param, tag, end alone; metrics per run and
        key), so a store can isolate a record it cannot write instead of losing the batch."""
        parts: list[WriteBatch] = []

        def part(attr: str, rows: list[tuple]) -> None:
            b = WriteBatch()
            setattr(b, attr, rows)
            parts.append(b)

        for row in self.runs:
            part("runs", [row])
        for row in self.params:
            part("params", [row])
        for row in self.tags:
            part("tags", [row])
        groups: dict[tuple[str, str], list[tuple]] = {}
        for point in self.metrics:
            groups.setdefault((point[0], point[1]), []).append(point)
        for rows in groups.values():
            part("metrics", rows)
        for row in self.ends:
            part("ends", [row])
        return parts


class Store(ABC):
    """Persistent home of experiments, runs, params, tags, metrics and artifacts.

    Implementations must be safe to call from several threads of one process (the client's
    writer thread writes while user threads read) and, for shared backends, from several
    processes at once without losing rows.
    """

    uri: str

    # experiments -------------------------------------------------------------------------
    @abstractmethod
    def get_or_create_experiment(self, name: str) -> str:
        """Return the id of experiment ``name``, creating it if missing."""

    @abstractmethod
    def list_experiments(self) -> list[ExperimentInfo]:
        """All experiments, oldest first."""

    # writes ----------------------------------------------------------------------------
    @abstractmethod
    def write(self, batch: WriteBatch) -> list[str]:
        """Persist ``batch`` atomically (retrying on contention).

        Returns human-readable problems for rows that were skipped (e.g. a metric for a run the
        store does not know); raises only if the whole batch could not be written.
        """

    # reads -----------------------------------------------------------------------------
    @abstractmethod
    def get_run_info(self, run_id: str) -> RunInfo | None:
        """The run's :class:`RunInfo`, or None if the store has no such run."""

    @abstractmethod
    def get_params(self, run_id: str) -> dict[str, str]:
        """The run's params ({} for an unknown run)."""

    @abstractmethod
    def get_tags(self, run_id: str) -> dict[str, str]:
        """The run's tags ({} for an unknown run)."""

    @abstractmethod
    def get_latest_metrics(self, run_id: str) -> dict[str, float]:
        """Latest value per metric key: the point with the highest step, then timestamp."""

    @abstractmethod
    def get_metric_history(self, run_id: str, key: str) -> list[tuple[int, int, float]]:
        """Every point of metric ``key`` as (step, timestamp, value), in step/timestamp order."""

    @abstractmethod
    def get_children(self, run_id: str) -> list[RunInfo]:
        """Runs whose parent is ``run_id``, oldest first."""

    @abstractmethod
    def search(
        self,
        experiments: list[str] | None,
        filter_string: str | None,
        order_by: list[str] | None,
        max_results: int | None,
    ) -> pd.DataFrame:
        """Runs of ``experiments`` (names; None = all) matching ``filter_string``, as a DataFrame."""

    # artifacts -------------------------------------------------------------------------
    @abstractmethod
    def artifact_dir(self, run_id: str) -> Path:
        """Local directory holding the run's artifacts (created on demand)."""

    def list_artifacts(self, run_id: str) -> list[str]:
        """Relative POSIX paths of every artifact file of the run, sorted."""
        root = self.artifact_dir(run_id)
        if not root.is_dir():
            return []
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    # lifecycle -------------------------------------------------------------------------
    def after_fork_in_child(self) -> None:
        """Drop resources that must not be shared with the parent process (connections)."""

    def close(self) -> None:
        """Release resources; the store must not be used afterwards."""

    def describe(self) -> dict[str, Any]:
        """A small JSON-able description of the store (for status output)."""
        return {"uri": self.uri}
