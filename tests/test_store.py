"""The embedded SQLite store: layout, URIs, processes, crashes, fork, schema migrations."""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

import autolog
from autolog._errors import AutologError, ConfigError
from autolog._tracking import _fluent, create_run
from autolog._tracking._sqlite_store import SCHEMA_VERSION, SQLiteStore
from _tracking_fixtures import fresh_memory_store  # noqa: F401  (autouse, shared)




def run_python(code: str, cwd=None, env_extra=None, check=True) -> subprocess.CompletedProcess:
    env = dict(os.environ, AUTOLOG_STRICT="1")
    env.pop("AUTOLOG_TRACKING_URI", None)
    env.update(env_extra or {})
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"child failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def count_points(root, run_id=None) -> int:
    conn = sqlite3.connect(os.path.join(root, "autolog.db"))
    try:
        if run_id is None:
            return conn.execute("SELECT sum(n) FROM metric_chunks").fetchone()[0]
        return conn.execute(
            "SELECT sum(n) FROM metric_chunks m JOIN runs r ON r.run_pk = m.run_pk "
            "WHERE r.run_id = ?",
            (run_id,),
        ).fetchone()[0]
    finally:
        conn.close()


def test_file_store_layout_and_reopen(tmp_path):
    root = tmp_path / "store"
    autolog.set_tracking_uri(str(root))
    with autolog.start_run("r") as run:
        autolog.log_param("p", "v")
        autolog.log_metric("m", 1.5)
        autolog.log_text("t", "a.txt")
    assert (root / "autolog.db").is_file()
    assert (root / "artifacts" / run.id / "a.txt").read_text() == "t"
    conn = sqlite3.connect(root / "autolog.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
    out = run_python(
        f"""
        import autolog
        autolog.set_tracking_uri({str(root)!r})
        r = autolog.get_run({run.id!r})
        print(r.status, r.params, r.metrics, r.artifacts)
        """
    )
    assert out.stdout.strip() == "FINISHED {'p': 'v'} {'m': 1.5} ['a.txt']"


def test_file_url_and_env_var(tmp_path, monkeypatch):
    root = tmp_path / "via url"
    autolog.set_tracking_uri(root.as_uri())
    with autolog.start_run():
        autolog.log_metric("m", 1)
    assert (root / "autolog.db").is_file()
    assert autolog.get_tracking_uri() == root.as_uri()

    env_root = tmp_path / "from-env"
    monkeypatch.setattr(_fluent, "_uri", None)
    monkeypatch.setattr(_fluent, "_client", None)
    monkeypatch.setenv("AUTOLOG_TRACKING_URI", str(env_root))
    assert autolog.get_tracking_uri() == str(env_root)
    assert not env_root.exists()  # read lazily: nothing opened yet
    with autolog.start_run():
        pass
    assert (env_root / "autolog.db").is_file()


def test_default_directory(tmp_path):
    run_python(
        """
        import autolog
        with autolog.start_run():
            autolog.log_metric("m", 1)
        print(autolog.get_tracking_uri())
        """,
        cwd=tmp_path,
    )
    assert (tmp_path / "autolog-runs" / "autolog.db").is_file()


def test_unsupported_uri_scheme(tmp_path):
    (tmp_path / "f.db").write_text("")
    autolog.set_tracking_uri(str(tmp_path / "f.db"))
    with pytest.raises(ConfigError, match="directory"):
        autolog.start_run()
    with pytest.raises(ConfigError, match="http"):
        autolog.set_tracking_uri("http://localhost:5000")
    with pytest.raises(ConfigError):
        autolog.set_tracking_uri("")


def test_exit_flushes_and_ends_runs(tmp_path):
    root = str(tmp_path / "s")
    ok = run_python(
        f"""
        import autolog
        autolog.set_tracking_uri({root!r})
        run = autolog.start_run()
        for i in range(2000):
            autolog.log_metric("m", i, step=i)
        print(run.id)
        """
    )
    failed = run_python(
        f"""
        import autolog
        autolog.set_tracking_uri({root!r})
        run = autolog.start_run()
        autolog.log_param("p", 1)
        print(run.id, flush=True)
        raise ValueError("user bug")
        """,
        check=False,
    )
    assert failed.returncode == 1 and "user bug" in failed.stderr
    autolog.set_tracking_uri(root)
    good = autolog.get_run(ok.stdout.strip())
    assert good.status == "FINISHED" and len(good.metric_history("m")) == 2000
    bad = autolog.get_run(failed.stdout.strip())
    assert bad.status == "FAILED" and bad.params == {"p": "1"}


def test_two_processes_write_one_store_concurrently(tmp_path):
    root = str(tmp_path / "shared")
    code = """
        import sys, autolog
        autolog.set_tracking_uri({root!r})
        tag = sys.argv[1]
        for r in range(20):
            with autolog.start_run(f"{{tag}}-{{r}}") as run:
                run.log_params({{f"p{{i}}": i for i in range(10)}})
                for i in range(500):
                    run.log_metric("m", i, step=i)
                autolog.flush()
        """.format(root=root)
    env = dict(os.environ, AUTOLOG_STRICT="1")
    procs = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), tag], env=env,
                         stderr=subprocess.PIPE, text=True)
        for tag in ("a", "b")
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    autolog.set_tracking_uri(root)
    df = autolog.search_runs()
    assert len(df) == 40
    assert sorted(df.name) == sorted(f"{t}-{r}" for t in "ab" for r in range(20))
    assert (df.status == "FINISHED").all()
    assert count_points(root) == 40 * 500
    assert all(len(autolog.get_run(i).params) == 10 for i in df.run_id)


def test_sigkill_after_flush_keeps_flushed_data(tmp_path):
    root = str(tmp_path / "crash")
    code = f"""
        import time, autolog
        autolog.set_tracking_uri({root!r})
        run = autolog.start_run("victim")
        autolog.log_params({{"a": 1, "b": "x" * 1000}})
        for i in range(5000):
            autolog.log_metric("m", i, step=i)
        autolog.flush()
        print(run.id, flush=True)
        i = 0
        while True:  # keep writing until killed
            autolog.log_metric("later", i, step=i)
            i += 1
            if i % 1000 == 0:
                time.sleep(0.001)
        """
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, AUTOLOG_STRICT="1"),
    )
    run_id = proc.stdout.readline().strip()
    import time

    time.sleep(0.3)  # let the writer be busy with "later" points
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    conn = sqlite3.connect(os.path.join(root, "autolog.db"))
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    autolog.set_tracking_uri(root)
    run = autolog.get_run(run_id)
    assert run.status == "RUNNING"
    assert run.params == {"a": "1", "b": "x" * 1000}
    assert [s for s, _, _ in run.metric_history("m")] == list(range(5000))
    with autolog.start_run():  # the store is writable again
        autolog.log_metric("after", 1)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_child_drops_parents_pending_writes(tmp_path):
    root = str(tmp_path / "fork")
    autolog.set_tracking_uri(root)
    run = create_run("forked")
    autolog.flush()
    for i in range(300):  # pending in the parent when it forks
        run.log_metric("parent", i, step=i)
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            for i in range(50):
                run.log_metric("child", i, step=i)
            autolog.flush()
        except BaseException:  # noqa: BLE001
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    run.end()
    assert len(run.metric_history("parent")) == 300  # written once, by the parent
    assert len(run.metric_history("child")) == 50


def test_migrates_v1_store(tmp_path):
    root = tmp_path / "old"
    root.mkdir()
    conn = sqlite3.connect(root / "autolog.db")
    conn.executescript(
        """
        CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
                                  creation_time INTEGER NOT NULL);
        INSERT INTO experiments VALUES (0, 'Default', 1000), (1, 'old-exp', 2000);
        CREATE TABLE runs (run_pk INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE,
                           experiment_id INTEGER NOT NULL, name TEXT, parent_run_id TEXT,
                           status TEXT NOT NULL, start_time INTEGER NOT NULL, end_time INTEGER);
        INSERT INTO runs VALUES (1, 'oldrun', 1, 'legacy', NULL, 'FINISHED', 5000, 6000);
        CREATE TABLE params (run_pk INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
                             PRIMARY KEY (run_pk, key)) WITHOUT ROWID;
        INSERT INTO params VALUES (1, 'lr', '0.1');
        CREATE TABLE tags (run_pk INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
                           PRIMARY KEY (run_pk, key)) WITHOUT ROWID;
        CREATE TABLE metrics (run_pk INTEGER NOT NULL, key TEXT NOT NULL, step INTEGER NOT NULL,
                              timestamp INTEGER NOT NULL, value REAL);
        CREATE INDEX metrics_run_key_step ON metrics (run_pk, key, step);
        INSERT INTO metrics VALUES (1, 'acc', 0, 10, 0.5), (1, 'acc', 2, 5, 0.9),
                                   (1, 'acc', 1, 99, 0.7), (1, 'loss', 0, 1, NULL);
        PRAGMA user_version = 1;
        """
    )
    conn.close()
    autolog.set_tracking_uri(str(root))
    run = autolog.get_run("oldrun")
    assert run.experiment == "old-exp" and run.params == {"lr": "0.1"}
    assert run.metrics["acc"] == 0.9
    assert run.metrics["loss"] != run.metrics["loss"]  # NaN
    assert run.metric_history("acc") == [(0, 10, 0.5), (1, 99, 0.7), (2, 5, 0.9)]
    assert math.isnan(run.metric_history("loss")[0][2])
    df = autolog.search_runs("old-exp", filter_string="metrics.acc > 0.8")
    assert list(df.run_id) == ["oldrun"]
    with autolog.start_run(experiment="old-exp") as new:
        autolog.log_metric("acc", 1.0)
    assert len(autolog.search_runs("old-exp")) == 2 and new.metrics == {"acc": 1.0}
    conn = sqlite3.connect(root / "autolog.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_newer_schema_is_refused(tmp_path):
    root = tmp_path / "future"
    SQLiteStore(root).close()
    conn = sqlite3.connect(root / "autolog.db")
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    with pytest.raises(AutologError, match="newer"):
        SQLiteStore(root)


def test_many_threads_into_file_store(tmp_path):
    import threading

    autolog.set_tracking_uri(str(tmp_path / "threads"))
    run = create_run()
    threads = [
        threading.Thread(target=lambda: [run.log_metric("m", i, step=i) for i in range(1000)])
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.end()
    assert count_points(str(tmp_path / "threads"), run.id) == 8000


def test_writer_waits_out_a_locked_database(tmp_path):
    import threading
    import time

    root = tmp_path / "locked"
    autolog.set_tracking_uri(str(root))
    run = create_run()
    autolog.flush()
    blocker = sqlite3.connect(root / "autolog.db", isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN EXCLUSIVE")
    # the lock is released only after the logging thread is done, so a log_metric that
    # waited on disk would never return (30 s is a hang guard, not a speed bound)
    logger = threading.Thread(target=lambda: [run.log_metric("m", i, step=i) for i in range(100)])
    logger.start()
    logger.join(timeout=30)
    assert not logger.is_alive(), "log_metric blocked on a locked database"
    time.sleep(0.1)  # let the writer thread run into the lock
    assert blocker.in_transaction
    threading.Timer(0.2, lambda: blocker.execute("COMMIT")).start()
    run.end()  # flushes: waits for the lock instead of failing
    blocker.close()
    assert len(run.metric_history("m")) == 100 and run.status == "FINISHED"


def test_retry_on_locked_error_is_bounded():
    from autolog._tracking import _sqlite_store

    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise sqlite3.OperationalError("database is locked")
        return "ok"

    assert _sqlite_store._retry(flaky) == "ok" and len(calls) == 3

    def broken():
        raise sqlite3.OperationalError("no such table: x")

    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        _sqlite_store._retry(broken)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_with_memory_store_keeps_stores_apart():
    run = create_run("mem")
    run.log_metric("before", 1)
    autolog.flush()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            run.log_metric("child", 1)
            autolog.flush()
            assert run.metrics == {"before": 1.0, "child": 1.0}
        except BaseException:  # noqa: BLE001
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    run.end()
    assert run.metrics == {"before": 1.0}  # the child's copy is its own


def test_write_batch_groups_series_and_picks_latest(tmp_path):
    from autolog._tracking._store_base import WriteBatch

    store = SQLiteStore(tmp_path / "batch")
    setup = WriteBatch()
    setup.runs.extend([("ra", 0, "a", None, "RUNNING", 1), ("rb", 0, "b", None, "RUNNING", 1)])
    store.write(setup)
    one_series = WriteBatch()  # a single (run, key): the transpose fast path
    one_series.metrics = [("ra", "loss", 1.0 / (i + 1), i, 1000 + i) for i in range(50)]
    assert store.write(one_series) == []
    same_step = WriteBatch()  # every point at step 0: latest = max timestamp, then last logged
    same_step.metrics = [("ra", "nostep", float(i), 0, t) for i, t in enumerate([5, 9, 9, 3])]
    store.write(same_step)
    mixed = WriteBatch()  # interleaved runs and keys, NaN/inf values
    mixed.metrics = [
        (run, key, v, step, 10 + step)
        for step in range(20)
        for run, key, v in (("ra", "acc", step / 20), ("rb", "acc", -step), ("rb", "x", math.nan))
    ] + [("rb", "inf", math.inf, 0, 1), ("unknown-run", "acc", 1.0, 0, 1)]
    problems = store.write(mixed)
    assert len(problems) == 1 and "unknown-run" in problems[0]
    expected_loss = [(i, 1000 + i, 1.0 / (i + 1)) for i in range(50)]
    assert store.get_metric_history("ra", "loss") == expected_loss
    assert store.get_metric_history("rb", "acc") == [(s, 10 + s, float(-s)) for s in range(20)]
    assert store.get_latest_metrics("ra") == {"loss": 1.0 / 50, "nostep": 2.0, "acc": 19 / 20}
    latest_b = store.get_latest_metrics("rb")
    assert latest_b["acc"] == -19.0 and latest_b["inf"] == math.inf and math.isnan(latest_b["x"])
    assert store.count_metric_points() == 50 + 4 + 60 + 1
    store.close()
