"""Embedded run store: one SQLite database (WAL) plus an artifact tree in a directory.

Layout of a store directory::

    <root>/autolog.db          experiments, runs, params, tags, metric_chunks, latest_metrics
    <root>/artifacts/<run_id>/ artifact files of each run

``memory:`` uses the same class with an in-memory database and a temporary artifact directory
removed at interpreter exit.

Metric points are stored in chunks: one row per (run, key, write batch) holding the steps,
timestamps and values as packed little-endian int64/float64 arrays, so every float64 (NaN,
±inf, -0.0) round-trips bit for bit and the writer inserts one row per key instead of one per
point. ``latest_metrics`` keeps the latest point per (run, key) as SQL values for search; there
SQLite turns NaN into NULL, so NULL *means* NaN (values are never missing otherwise).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import sys
import threading
import time
from array import array
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TypeVar, Union

from autolog._errors import AutologError, ConfigError
from autolog._tracking._store_base import ExperimentInfo, RunInfo, Store, WriteBatch

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

T = TypeVar("T")

DB_NAME = "autolog.db"
DEFAULT_EXPERIMENT = "Default"
_BUSY_TIMEOUT_MS = 30_000
_RETRY_SECONDS = 120.0

# Schema history. Entry i upgrades a database from user_version i to i + 1: SQL statements, or
# a function of the connection for data conversions. Never edit a released entry; append.
MIGRATIONS: list[Union[str, Callable[[sqlite3.Connection], None]]] = [
    # v1: initial layout
    """
    CREATE TABLE experiments (
        experiment_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        creation_time INTEGER NOT NULL
    );
    INSERT INTO experiments (experiment_id, name, creation_time)
        VALUES (0, 'Default', CAST(strftime('%s', 'now') AS INTEGER) * 1000);
    CREATE TABLE runs (
        run_pk INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL UNIQUE,
        experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),
        name TEXT,
        parent_run_id TEXT,
        status TEXT NOT NULL,
        start_time INTEGER NOT NULL,
        end_time INTEGER
    );
    CREATE TABLE params (
        run_pk INTEGER NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (run_pk, key)
    ) WITHOUT ROWID;
    CREATE TABLE tags (
        run_pk INTEGER NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (run_pk, key)
    ) WITHOUT ROWID;
    CREATE TABLE metrics (
        run_pk INTEGER NOT NULL,
        key TEXT NOT NULL,
        step INTEGER NOT NULL,
        timestamp INTEGER NOT NULL,
        value REAL
    );
    CREATE INDEX metrics_run_key_step ON metrics (run_pk, key, step);
    """,
    # v2: latest value per (run, metric) for fast search; run lookup indexes
    """
    CREATE TABLE latest_metrics (
        run_pk INTEGER NOT NULL,
        key TEXT NOT NULL,
        step INTEGER NOT NULL,
        timestamp INTEGER NOT NULL,
        value REAL,
        PRIMARY KEY (run_pk, key)
    ) WITHOUT ROWID;
    INSERT INTO latest_metrics (run_pk, key, step, timestamp, value)
        SELECT run_pk, key, step, timestamp, value FROM (
            SELECT run_pk, key, step, timestamp, value,
                   ROW_NUMBER() OVER (PARTITION BY run_pk, key
                                      ORDER BY step DESC, timestamp DESC, rowid DESC) AS rn
            FROM metrics)
        WHERE rn = 1;
    CREATE INDEX runs_experiment_start ON runs (experiment_id, start_time);
    CREATE INDEX runs_parent ON runs (parent_run_id);
    """,
    # v3: metric points packed in chunks (see module docstring)
    lambda conn: _migrate_points_to_chunks(conn),
]
SCHEMA_VERSION = len(MIGRATIONS)

_LITTLE = sys.byteorder == "little"
_COL0, _COL1, _COL2, _COL3, _COL4 = (itemgetter(i) for i in range(5))


def _pack(typecode: str, values) -> bytes:
    arr = array(typecode, values)
    if not _LITTLE:  # pragma: no cover - big-endian hosts
        arr.byteswap()
    return arr.tobytes()


def _unpack(typecode: str, data: bytes) -> array:
    arr = array(typecode)
    arr.frombytes(data)
    if not _LITTLE:  # pragma: no cover
        arr.byteswap()
    return arr


def _migrate_points_to_chunks(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE metric_chunks (
            chunk_id INTEGER PRIMARY KEY,
            run_pk INTEGER NOT NULL,
            key TEXT NOT NULL,
            n INTEGER NOT NULL,
            steps BLOB NOT NULL,
            timestamps BLOB NOT NULL,
            vals BLOB NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX metric_chunks_run_key ON metric_chunks (run_pk, key)")
    nan = float("nan")
    groups: dict[tuple[int, str], list[tuple]] = {}
    for run_pk, key, step, ts, value in conn.execute(
        "SELECT run_pk, key, step, timestamp, value FROM metrics ORDER BY rowid"
    ):
        groups.setdefault((run_pk, key), []).append((step, ts, nan if value is None else value))
    for (run_pk, key), points in groups.items():
        steps, stamps, vals = zip(*points)
        conn.execute(
            "INSERT INTO metric_chunks (run_pk, key, n, steps, timestamps, vals) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (run_pk, key, len(points), _pack("q", steps), _pack("q", stamps), _pack("d", vals)),
        )
    conn.execute("DROP TABLE metrics")

_UPSERT_LATEST = """
INSERT INTO latest_metrics (run_pk, key, step, timestamp, value) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (run_pk, key) DO UPDATE SET
    step = excluded.step, timestamp = excluded.timestamp, value = excluded.value
WHERE excluded.step > latest_metrics.step
   OR (excluded.step = latest_metrics.step AND excluded.timestamp >= latest_metrics.timestamp)
"""

_RUN_COLUMNS = (
    "r.run_id, r.name, e.name, r.parent_run_id, r.status, r.start_time, r.end_time"
)

_temp_dirs: list[str] = []


def remove_temp_dirs() -> None:
    """Delete memory stores' artifact directories (called at interpreter exit)."""
    for d in _temp_dirs:
        shutil.rmtree(d, ignore_errors=True)
    _temp_dirs.clear()

# Connections inherited across fork() must never be used nor closed in the child (closing
# can release the parent's POSIX locks); they are parked here for the child's lifetime.
_abandoned: list[sqlite3.Connection] = []


def _is_contention(exc: BaseException) -> bool:
    msg = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in msg or "busy" in msg)


def _retry(fn: Callable[[], T]) -> T:
    """Call ``fn`` until it stops failing with 'database is locked/busy' (bounded)."""
    deadline = time.monotonic() + _RETRY_SECONDS
    delay = 0.001
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if not _is_contention(exc) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


class SQLiteStore(Store):
    """The embedded store. ``root=None`` means in-memory (``memory:``)."""

    def __init__(self, root: str | os.PathLike[str] | None, uri: str | None = None) -> None:
        self.root = None if root is None else Path(root).expanduser().resolve()
        self.uri = uri or (str(self.root) if self.root else "memory:")
        self._lock = threading.RLock()
        self._pk_cache: dict[str, int] = {}
        self._exp_cache: dict[str, str] = {}
        self._artifact_root: Path | None = None
        if self.root is not None:
            if self.root.exists() and not self.root.is_dir():
                raise ConfigError(
                    f"tracking URI {self.uri!r} names a file; the embedded store is a directory "
                    f"(it holds {DB_NAME} and artifacts/)"
                )
            self.root.mkdir(parents=True, exist_ok=True)
            self._artifact_root = self.root / "artifacts"
        self._conn = self._connect()

    # connection ----------------------------------------------------------------------
    @property
    def db_path(self) -> Path | None:
        return None if self.root is None else self.root / DB_NAME

    def _connect(self) -> sqlite3.Connection:
        target = ":memory:" if self.root is None else str(self.root / DB_NAME)
        conn = sqlite3.connect(
            target, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        if self.root is not None:
            _retry(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
            # NORMAL in WAL mode: a commit survives the process being killed (only an OS
            # crash / power cut may lose the last commits), without an fsync per commit
            conn.execute("PRAGMA synchronous = NORMAL")
            # search_runs reads a run's params/metrics/tags by key lookups; keep the pages of a
            # few tens of thousands of runs cached between calls (allocated only as used)
            conn.execute("PRAGMA cache_size = -32768")
        conn.execute("PRAGMA case_sensitive_like = ON")
        self._migrate(conn)
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise AutologError(
                f"run store {self.uri} has schema version {version}, newer than this autolog "
                f"understands ({SCHEMA_VERSION}); upgrade autolog"
            )

        def upgrade() -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # another process may have migrated while we waited for the write lock
                current = conn.execute("PRAGMA user_version").fetchone()[0]
                for i in range(current, SCHEMA_VERSION):
                    step = MIGRATIONS[i]
                    if callable(step):
                        step(conn)
                    else:
                        for statement in step.split(";"):
                            if statement.strip():
                                conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {i + 1}")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        _retry(upgrade)

    def after_fork_in_child(self) -> None:
        self._lock = threading.RLock()
        if self.root is not None:
            _abandoned.append(self._conn)
            self._pk_cache = {}
            self._conn = self._connect()
        elif self._conn.in_transaction:
            # an in-memory database is a private copy in the child, kept; a transaction the
            # parent's writer had open at fork time must not leak into the child's writes
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:  # pragma: no cover
                pass

    def close(self) -> None:
        with self._lock:
            try:
                self._conn.close()
            except sqlite3.Error:  # pragma: no cover - closing must not raise
                pass

    def _read(self, sql: str, args: tuple | list = ()) -> list[tuple]:
        with self._lock:
            return _retry(lambda: self._conn.execute(sql, args).fetchall())

    # experiments ---------------------------------------------------------------------
    def get_or_create_experiment(self, name: str) -> str:
        cached = self._exp_cache.get(name)
        if cached is not None:
            return cached

        def run() -> str:
            with self._lock:
                row = self._conn.execute(
                    "SELECT experiment_id FROM experiments WHERE name = ?", (name,)
                ).fetchone()
                if row is None:
                    self._conn.execute(
                        "INSERT OR IGNORE INTO experiments (name, creation_time) VALUES (?, ?)",
                        (name, int(time.time() * 1000)),
                    )
                    row = self._conn.execute(
                        "SELECT experiment_id FROM experiments WHERE name = ?", (name,)
                    ).fetchone()
                return str(row[0])

        exp_id = _retry(run)
        self._exp_cache[name] = exp_id
        return exp_id

    def list_experiments(self) -> list[ExperimentInfo]:
        rows = self._read(
            "SELECT experiment_id, name, creation_time FROM experiments ORDER BY experiment_id"
        )
        return [ExperimentInfo(str(i), n, t) for i, n, t in rows]

    # writes --------------------------------------------------------------------------
    def write(self, batch: WriteBatch) -> list[str]:
        with self._lock:
            try:
                return _retry(lambda: self._write(batch))
            except (sqlite3.DatabaseError, ValueError, OverflowError, UnicodeError) as exc:
                if len(batch) <= 1 or _is_contention(exc):
                    raise
                return self._salvage(batch)

    def _salvage(self, batch: WriteBatch) -> list[str]:
        """Write ``batch`` piece by piece after it failed as a whole; report what cannot go in."""
        problems: list[str] = []
        for part in batch.split():
            try:
                problems.extend(_retry(lambda: self._write(part)))
            except (sqlite3.DatabaseError, ValueError, OverflowError, UnicodeError) as exc:
                if _is_contention(exc):
                    raise
                rows = part.runs or part.params or part.tags or part.metrics or part.ends
                problems.append(
                    f"autolog dropped {len(rows)} record(s) it could not store in {self.uri} "
                    f"({exc}); first: {str(rows[0])[:200]}"
                )
        return problems

    def _resolve_pks(self, run_ids: set[str], fresh: dict[str, int]) -> None:
        missing = [r for r in run_ids if r not in self._pk_cache and r not in fresh]
        for i in range(0, len(missing), 500):
            chunk = missing[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for run_id, pk in self._conn.execute(
                f"SELECT run_id, run_pk FROM runs WHERE run_id IN ({marks})", chunk
            ):
                fresh[run_id] = pk

    def _write(self, b: WriteBatch) -> list[str]:
        conn = self._conn
        problems: list[str] = []
        fresh: dict[str, int] = {}
        conn.execute("BEGIN IMMEDIATE")
        try:
            if b.runs:
                conn.executemany(
                    "INSERT OR IGNORE INTO runs (run_id, experiment_id, name, parent_run_id, "
                    "status, start_time) VALUES (?, ?, ?, ?, ?, ?)",
                    b.runs,
                )
            needed = set(map(_COL0, b.metrics))
            for rows in (b.params, b.tags, b.ends):
                needed.update(map(_COL0, rows))
            self._resolve_pks(needed, fresh)
            pks = self._pk_cache
            unknown: set[str] = set()

            def pk_of(run_id: str) -> int | None:
                pk = pks.get(run_id)
                if pk is None:
                    pk = fresh.get(run_id)
                    if pk is None:
                        unknown.add(run_id)
                return pk

            if b.params:
                rows = [(pk_of(r), k, v) for r, k, v in b.params]
                conn.executemany(
                    "INSERT OR IGNORE INTO params (run_pk, key, value) VALUES (?, ?, ?)",
                    [row for row in rows if row[0] is not None],
                )
            if b.tags:
                rows = [(pk_of(r), k, v) for r, k, v in b.tags]
                conn.executemany(
                    "INSERT OR REPLACE INTO tags (run_pk, key, value) VALUES (?, ?, ?)",
                    [row for row in rows if row[0] is not None],
                )
            if b.metrics:
                self._write_metrics(conn, b.metrics, pk_of)
            if b.ends:
                rows = [(s, t, pk_of(r)) for r, s, t in b.ends]
                conn.executemany(
                    "UPDATE runs SET status = ?, end_time = ? WHERE run_pk = ?",
                    [row for row in rows if row[2] is not None],
                )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite may already have rolled back (disk full...)
                conn.execute("ROLLBACK")
            raise
        self._pk_cache.update(fresh)
        if unknown:
            problems.append(
                f"dropped data for run(s) unknown to store {self.uri}: {sorted(unknown)[:5]}"
            )
        return problems

    @staticmethod
    def _write_metrics(conn: sqlite3.Connection, metrics: list[tuple], pk_of) -> None:
        # columns by itemgetter maps (C loops; zip(*metrics) would make an iterator per point)
        run_ids = list(map(_COL0, metrics))
        keys = list(map(_COL1, metrics))
        first_run, first_key = run_ids[0], keys[0]
        n = len(metrics)
        if run_ids.count(first_run) == n and keys.count(first_key) == n:
            # one series (a training loop's usual batch)
            groups: dict[tuple[str, str], tuple] = {
                (first_run, first_key): (
                    list(map(_COL2, metrics)),
                    list(map(_COL3, metrics)),
                    list(map(_COL4, metrics)),
                )
            }
        else:
            by_ident: dict[tuple[str, str], list[tuple]] = {}
            get = by_ident.get
            for point in metrics:
                ident = (point[0], point[1])
                group = get(ident)
                if group is None:
                    by_ident[ident] = group = []
                group.append(point)
            groups = {
                ident: (
                    list(map(_COL2, points)),
                    list(map(_COL3, points)),
                    list(map(_COL4, points)),
                )
                for ident, points in by_ident.items()
            }
        chunks = []
        latest = []
        for (run_id, key), (vals, steps, stamps) in groups.items():
            pk = pk_of(run_id)
            if pk is None:
                continue
            chunks.append(
                (pk, key, len(steps), _pack("q", steps), _pack("q", stamps), _pack("d", vals))
            )
            top = max(steps)
            at_top = steps.count(top)
            if at_top == 1:
                i = steps.index(top)
            elif at_top == len(steps):  # e.g. every point logged without a step
                last = max(stamps)
                i = len(stamps) - 1 - stamps[::-1].index(last)
            else:  # same step several times: latest timestamp, then last logged
                i = max(
                    (j for j in range(len(steps)) if steps[j] == top),
                    key=lambda j: (stamps[j], j),
                )
            v = vals[i]
            latest.append((pk, key, top, stamps[i], None if v != v else v))
        conn.executemany(
            "INSERT INTO metric_chunks (run_pk, key, n, steps, timestamps, vals) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            chunks,
        )
        conn.executemany(_UPSERT_LATEST, latest)

    # reads ---------------------------------------------------------------------------
    def get_run_info(self, run_id: str) -> RunInfo | None:
        rows = self._read(
            f"SELECT {_RUN_COLUMNS} FROM runs r JOIN experiments e "
            "ON e.experiment_id = r.experiment_id WHERE r.run_id = ?",
            (run_id,),
        )
        return RunInfo(*rows[0]) if rows else None

    def _kv(self, table: str, run_id: str) -> dict[str, str]:
        rows = self._read(
            f"SELECT t.key, t.value FROM {table} t JOIN runs r ON r.run_pk = t.run_pk "
            "WHERE r.run_id = ?",
            (run_id,),
        )
        return dict(rows)

    def get_params(self, run_id: str) -> dict[str, str]:
        return self._kv("params", run_id)

    def get_tags(self, run_id: str) -> dict[str, str]:
        return self._kv("tags", run_id)

    def get_latest_metrics(self, run_id: str) -> dict[str, float]:
        rows = self._read(
            "SELECT m.key, m.value FROM latest_metrics m JOIN runs r ON r.run_pk = m.run_pk "
            "WHERE r.run_id = ?",
            (run_id,),
        )
        nan = float("nan")
        return {k: (nan if v is None else float(v)) for k, v in rows}

    def get_metric_history(self, run_id: str, key: str) -> list[tuple[int, int, float]]:
        rows = self._read(
            "SELECT c.steps, c.timestamps, c.vals FROM metric_chunks c JOIN runs r "
            "ON r.run_pk = c.run_pk WHERE r.run_id = ? AND c.key = ? ORDER BY c.chunk_id",
            (run_id, key),
        )
        points: list[tuple[int, int, float]] = []
        for steps, stamps, vals in rows:
            points.extend(zip(_unpack("q", steps), _unpack("q", stamps), _unpack("d", vals)))
        points.sort(key=lambda p: (p[0], p[1]))  # stable: equal points keep logging order
        return points

    def count_metric_points(self, run_id: str | None = None) -> int:
        """Number of stored metric points (of one run, or of the whole store)."""
        if run_id is None:
            rows = self._read("SELECT coalesce(sum(n), 0) FROM metric_chunks")
        else:
            rows = self._read(
                "SELECT coalesce(sum(c.n), 0) FROM metric_chunks c JOIN runs r "
                "ON r.run_pk = c.run_pk WHERE r.run_id = ?",
                (run_id,),
            )
        return rows[0][0]

    def get_children(self, run_id: str) -> list[RunInfo]:
        rows = self._read(
            f"SELECT {_RUN_COLUMNS} FROM runs r JOIN experiments e "
            "ON e.experiment_id = r.experiment_id WHERE r.parent_run_id = ? "
            "ORDER BY r.start_time, r.run_pk",
            (run_id,),
        )
        return [RunInfo(*row) for row in rows]

    def search(
        self,
        experiments: list[str] | None,
        filter_string: str | None,
        order_by: list[str] | None,
        max_results: int | None,
    ) -> pd.DataFrame:
        from autolog._tracking._search import search_sqlite

        with self._lock:
            return search_sqlite(self._conn, experiments, filter_string, order_by, max_results)

    # artifacts -----------------------------------------------------------------------
    def artifact_dir(self, run_id: str) -> Path:
        if self._artifact_root is None:
            self._artifact_root = Path(tempfile.mkdtemp(prefix="autolog-memory-"))
            _temp_dirs.append(str(self._artifact_root))
        return self._artifact_root / run_id
