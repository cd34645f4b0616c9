"""Runs, the active-run stack and the manual logging API (in-memory store)."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import threading
import warnings

import pytest

import autolog
from autolog import InvalidKeyError, ParamConflictError, RunStateError
from autolog._errors import AutologWarning, set_strict
from autolog._tracking import (
    RunNotFoundError,
    create_run,
    pop_active_run,
    push_active_run,
    submit_background,
)
from _tracking_fixtures import fresh_memory_store  # noqa: F401  (autouse, shared)




# lifecycle -------------------------------------------------------------------------------
def test_context_manager_finished():
    with autolog.start_run("ok") as run:
        assert autolog.active_run() is run
        assert run.status == "RUNNING" and run.end_time is None
    assert autolog.active_run() is None
    stored = autolog.get_run(run.id)
    assert stored.status == "FINISHED"
    assert stored.end_time >= stored.start_time
    assert stored.name == "ok" and stored.experiment == "Default"


def test_context_manager_failed_and_killed():
    with pytest.raises(ZeroDivisionError):
        with autolog.start_run() as failed:
            1 / 0
    with pytest.raises(KeyboardInterrupt):
        with autolog.start_run() as killed:
            raise KeyboardInterrupt
    df = autolog.search_runs()
    status = dict(zip(df.run_id, df.status))
    assert status[failed.id] == "FAILED"
    assert status[killed.id] == "KILLED"
    assert autolog.active_run() is None


def test_start_while_active_requires_nested():
    with autolog.start_run("parent") as parent:
        with pytest.raises(RunStateError, match="nested=True"):
            autolog.start_run()
        with autolog.start_run("child", nested=True) as child:
            assert autolog.active_run() is child
            assert child.parent_id == parent.id
        assert autolog.active_run() is parent
    assert [c.id for c in parent.children()] == [child.id]
    assert autolog.get_run(child.id).parent_id == parent.id


def test_end_run_and_statuses():
    autolog.end_run()  # no active run: no-op
    run = autolog.start_run()
    with pytest.raises(RunStateError, match="BOGUS"):
        autolog.end_run("BOGUS")
    autolog.end_run("KILLED")
    assert run.status == "KILLED" and autolog.active_run() is None
    run.end("FINISHED")  # ending twice is a no-op
    assert autolog.get_run(run.id).status == "KILLED"
    with pytest.raises(RunStateError):
        create_run().end("RUNNING")


def test_last_run_and_generated_name():
    assert autolog.last_run() is None
    with autolog.start_run() as run:
        pass
    assert autolog.last_run() is run
    assert run.name and "-" in run.name


@pytest.mark.parametrize(
    "call",
    [
        lambda: autolog.log_metric("m", 1.0),
        lambda: autolog.log_metrics({"m": 1.0}),
        lambda: autolog.log_param("p", 1),
        lambda: autolog.log_params({"p": 1}),
        lambda: autolog.set_tag("t", 1),
        lambda: autolog.set_tags({"t": 1}),
        lambda: autolog.log_text("x", "a.txt"),
        lambda: autolog.log_dict({}, "a.json"),
        lambda: autolog.log_artifact(__file__),
        lambda: autolog.log_figure(object(), "f.png"),
    ],
)
def test_module_logging_without_active_run_raises(call):
    with pytest.raises(RunStateError, match="needs an active run"):
        call()


def test_create_run_push_pop():
    run = create_run("managed", tags={"k": "v"})
    assert autolog.active_run() is None
    token = push_active_run(run)
    assert autolog.active_run() is run
    autolog.log_metric("m", 1)
    pop_active_run(token)
    assert autolog.active_run() is None
    run.end(wait=False)
    autolog.flush()
    stored = autolog.get_run(run.id)
    assert stored.metrics == {"m": 1.0} and stored.tags == {"k": "v"}
    assert autolog.get_run(run.id).status == "FINISHED"
    with pytest.raises(RunStateError):
        pop_active_run(token)


def test_end_wait_false_then_flush_persists():
    run = create_run()
    run.log_metric("m", 2.0)
    run.end("FAILED", wait=False)
    autolog.flush()
    df = autolog.search_runs()
    assert df.loc[df.run_id == run.id, "status"].item() == "FAILED"
    run.log_metric("late", 1.0)  # background writers may still log after the end
    assert run.metrics["late"] == 1.0


def test_set_tracking_uri_memory_gives_fresh_store():
    with autolog.start_run() as run:
        autolog.log_param("p", 1)
    assert autolog.get_run(run.id).params == {"p": "1"}
    autolog.set_tracking_uri("memory:")
    with pytest.raises(RunNotFoundError):
        autolog.get_run(run.id)
    assert autolog.search_runs().empty
    assert run.params == {"p": "1"}  # the handle still reads its own store
    assert autolog.get_tracking_uri() == "memory:"


def test_get_run_unknown_raises():
    with pytest.raises(RunNotFoundError, match="nope"):
        autolog.get_run("nope")
    with pytest.raises(LookupError):
        autolog.get_run("nope")


def test_experiments():
    names = [e.name for e in autolog.list_experiments()]
    assert names == ["Default"]
    autolog.set_experiment("exp-a")
    with autolog.start_run() as a:
        pass
    with autolog.start_run(experiment="exp-b") as b:
        with autolog.start_run(nested=True) as child:
            pass
    assert a.experiment == "exp-a" and b.experiment == "exp-b" and child.experiment == "exp-b"
    assert [e.name for e in autolog.list_experiments()] == ["Default", "exp-a", "exp-b"]
    assert list(autolog.search_runs().run_id) == [a.id]  # current experiment
    assert set(autolog.search_runs("*").run_id) == {a.id, b.id, child.id}
    assert set(autolog.search_runs(["exp-b"]).run_id) == {b.id, child.id}
    with pytest.raises(ValueError):
        autolog.set_experiment("")


# params and tags ----------------------------------------------------------------------------
def test_param_same_value_is_noop_and_conflict_names_both_values():
    with autolog.start_run() as run:
        autolog.log_param("lr", 0.1)
        autolog.log_param("lr", 0.1)
        autolog.log_params({"lr": "0.1", "depth": 3})
        with pytest.raises(ParamConflictError) as info:
            autolog.log_params({"other": 1, "lr": 0.2})
        msg = str(info.value)
        assert "'lr'" in msg and "'0.1'" in msg and "'0.2'" in msg
        with pytest.raises(ValueError):  # ParamConflictError is a ValueError too
            run.log_param("depth", 4)
    assert run.params == {"lr": "0.1", "depth": "3"}  # nothing of the failed batch


def test_param_conflict_against_stored_value_of_reloaded_run():
    with autolog.start_run() as run:
        autolog.log_param("a", 1)
    autolog.flush()
    run_id = run.id
    del run
    import gc

    gc.collect()
    reloaded = autolog.get_run(run_id)
    reloaded.log_param("a", 1)
    with pytest.raises(ParamConflictError):
        reloaded.log_param("a", 2)


def test_param_rename_policy():
    run = create_run()
    run.log_params({"alpha": 1, "beta": 2})
    renamed = run.log_params({"alpha": 5, "beta": 2, "gamma": 3}, on_conflict="rename", suffix="abcd1234")
    assert renamed == {"alpha": "alpha_abcd1234"}
    again = run.log_params({"alpha": 5}, on_conflict="rename", suffix="abcd1234")
    assert again == {"alpha": "alpha_abcd1234"}  # same renamed value: nothing new stored
    third = run.log_params({"alpha": 6}, on_conflict="rename", suffix="abcd1234")
    assert third == {"alpha": "alpha_abcd1234_2"}
    random_sfx = run.log_params({"beta": 9}, on_conflict="rename")
    new_key = random_sfx["beta"]
    assert new_key.startswith("beta_") and len(new_key) == len("beta_") + 8
    run.end()
    assert run.params == {
        "alpha": "1",
        "beta": "2",
        "gamma": "3",
        "alpha_abcd1234": "5",
        "alpha_abcd1234_2": "6",
        new_key: "9",
    }
    with pytest.raises(ValueError):
        run.log_params({"x": 1}, on_conflict="ignore")


def test_rename_keeps_key_length_valid():
    run = create_run()
    key = "k" * 250
    run.log_param(key, 1)
    renamed = run.log_params({key: 2}, on_conflict="rename", suffix="deadbeef")
    assert len(renamed[key]) == 250 and renamed[key].endswith("_deadbeef")
    run.end()


def test_tags_overwrite_raise_rename():
    with autolog.start_run(tags={"team": "a"}) as run:
        autolog.set_tag("team", "b")
        with pytest.raises(ParamConflictError, match="team"):
            autolog.set_tags({"team": "c"}, on_conflict="raise")
        assert autolog.set_tags({"team": "d"}, on_conflict="rename", suffix="s1") == {
            "team": "team_s1"
        }
    assert run.tags == {"team": "b", "team_s1": "d"}


def test_long_param_value_kept_whole():
    value = "x" * 100_000
    with autolog.start_run() as run:
        autolog.log_param("big", value)
    assert autolog.get_run(run.id).params["big"] == value


@pytest.mark.parametrize(
    "key",
    ["", "k" * 251, "..", "a/../b", "../a", "a/..", "a\nb", "a\x00b", "tab\there", "del\x7f", 3, None],
)
def test_invalid_keys_rejected(key):
    run = create_run()
    for call in (
        lambda: run.log_param(key, 1),
        lambda: run.log_metric(key, 1.0),
        lambda: run.set_tag(key, 1),
    ):
        with pytest.raises(InvalidKeyError) as info:
            call()
        if isinstance(key, str) and key:
            assert repr(key)[:20] in str(info.value)
    run.end()
    assert run.params == {} and run.metrics == {} and run.tags == {}


@pytest.mark.parametrize("key", ["k" * 250, "a/b", "a..b", "my key", "x.y-z:1", "ünï"])
def test_valid_keys_accepted(key):
    with autolog.start_run() as run:
        autolog.log_param(key, 1)
        autolog.log_metric(key, 1.0)
        autolog.set_tag(key, 1)
    assert run.params == {key: "1"} and run.metrics == {key: 1.0} and run.tags == {key: "1"}


def test_invalid_key_in_batch_logs_nothing():
    run = create_run()
    with pytest.raises(InvalidKeyError):
        run.log_params({"ok": 1, "": 2})
    with pytest.raises(InvalidKeyError):
        run.log_metrics({"ok": 1, "a\n": 2})
    run.end()
    assert run.params == {} and run.metrics == {}


# metrics ------------------------------------------------------------------------------------
def test_metric_special_values_round_trip():
    values = [float("nan"), float("inf"), float("-inf"), -0.0, 1e308, 5e-324, 0.1 + 0.2]
    with autolog.start_run() as run:
        for step, v in enumerate(values):
            autolog.log_metric("m", v, step=step)
    history = autolog.get_run(run.id).metric_history("m")
    assert [s for s, _, _ in history] == list(range(len(values)))
    got = [v for _, _, v in history]
    assert math.isnan(got[0])
    assert got[1:] == values[1:]
    assert math.copysign(1, got[3]) == -1  # -0.0 keeps its sign
    assert run.metrics["m"] == 0.1 + 0.2
    with autolog.start_run() as nan_run:
        autolog.log_metric("m", float("nan"))
    assert math.isnan(nan_run.metrics["m"])


def test_every_point_kept_and_latest_by_step_then_timestamp():
    run = create_run()
    run.log_metric("m", 1.0, step=5, timestamp=100)
    run.log_metric("m", 1.0, step=5, timestamp=100)  # duplicates are kept
    run.log_metric("m", 2.0, step=7, timestamp=50)
    run.log_metric("m", 3.0, step=6, timestamp=999)
    run.log_metric("m", 4.0, step=7, timestamp=60)
    run.log_metric("m", 0.5, step=1, timestamp=2000)
    run.end()
    assert len(run.metric_history("m")) == 6
    assert run.metrics == {"m": 4.0}
    assert run.metric_history("m")[0] == (1, 2000, 0.5)
    assert run.metric_history("missing") == []


def test_metric_defaults_and_numpy_values():
    np = pytest.importorskip("numpy")
    with autolog.start_run() as run:
        autolog.log_metric("a", np.float32(0.5), step=np.int64(3))
        autolog.log_metric("b", np.int64(7))
        autolog.log_metrics({"c": True, "d": np.float64(2.5)}, step=2, timestamp=1234)
    hist_a = run.metric_history("a")
    assert hist_a[0][0] == 3 and hist_a[0][2] == 0.5
    step_b, ts_b, value_b = run.metric_history("b")[0]
    assert step_b == 0 and ts_b >= run.start_time and value_b == 7.0
    assert run.metric_history("c") == [(2, 1234, 1.0)]
    with pytest.raises(TypeError, match="real number"):
        run.log_metric("bad", "abc")
    with pytest.raises(TypeError):
        run.log_metric("bad", None)


def test_many_threads_log_into_one_run():
    run = create_run()

    def work(t: int) -> None:
        for i in range(1000):
            run.log_metric(f"m{t % 2}", float(i), step=i)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.end()
    assert len(run.metric_history("m0")) + len(run.metric_history("m1")) == 8000
    assert run.metrics == {"m0": 999.0, "m1": 999.0}


def test_threads_log_params_concurrently_without_losing_any():
    run = create_run()

    def work(t: int) -> None:
        for i in range(200):
            run.log_params({f"t{t}_{i}": i, "shared": "same"})

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.end()
    assert len(run.params) == 4 * 200 + 1


# context isolation --------------------------------------------------------------------------
def test_active_stack_is_per_thread():
    barrier = threading.Barrier(4)
    seen: dict[int, tuple] = {}
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            assert autolog.active_run() is None
            with autolog.start_run(f"thread-{t}") as run:
                barrier.wait()
                for i in range(50):
                    autolog.log_metric("i", i, step=i)
                autolog.log_param("t", t)
                barrier.wait()
                seen[t] = (run.id, autolog.active_run().id)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(a == b for a, b in seen.values())
    for t, (run_id, _) in seen.items():
        run = autolog.get_run(run_id)
        assert run.params == {"t": str(t)} and len(run.metric_history("i")) == 50


def test_active_stack_is_per_asyncio_task():
    async def task(n: int) -> str:
        with autolog.start_run(f"task-{n}") as run:
            await asyncio.sleep(0.01)
            autolog.log_param("n", n)
            await asyncio.sleep(0.01)
            assert autolog.active_run() is run
            return run.id

    async def main() -> list[str]:
        return await asyncio.gather(*(task(n) for n in range(5)))

    ids = asyncio.run(main())
    assert autolog.active_run() is None
    assert [autolog.get_run(i).params for i in ids] == [{"n": str(n)} for n in range(5)]


def test_ended_run_leaves_other_context_stack_lazily():
    run = autolog.start_run()
    done = threading.Event()
    threading.Thread(target=lambda: (run.end(wait=False), done.set())).start()
    done.wait(5)
    assert autolog.active_run() is None
    with autolog.start_run():  # no "already active" error
        pass


# artifacts ----------------------------------------------------------------------------------
def test_artifacts(tmp_path):
    f = tmp_path / "data.csv"
    f.write_text("a,b\n1,2\n")
    d = tmp_path / "folder"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "x.txt").write_text("x")
    with autolog.start_run() as run:
        autolog.log_artifact(f)
        autolog.log_artifact(str(f), artifact_path="inputs/raw")
        autolog.log_artifact(d)
        autolog.log_text("hello", "notes/readme.md")
        autolog.log_dict({"a": [1, 2]}, "config.json")
        run.log_artifact_bytes(b"\x00\x01", "bin/blob")
        with pytest.raises(InvalidKeyError):
            autolog.log_text("x", "../escape.txt")
        with pytest.raises(InvalidKeyError):
            autolog.log_text("x", "/abs.txt")
        with pytest.raises(InvalidKeyError):
            autolog.log_artifact(f, artifact_path="a/../../b")
        with pytest.raises(FileNotFoundError):
            autolog.log_artifact(tmp_path / "missing")
    assert run.artifacts == [
        "bin/blob",
        "config.json",
        "data.csv",
        "folder/sub/x.txt",
        "inputs/raw/data.csv",
        "notes/readme.md",
    ]
    assert json.loads((run.artifact_dir / "config.json").read_text()) == {"a": [1, 2]}
    assert (run.artifact_dir / "bin" / "blob").read_bytes() == b"\x00\x01"


def test_log_figure():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    with autolog.start_run() as run:
        autolog.log_figure(fig, "plots/line.png")
        with pytest.raises(TypeError):
            autolog.log_figure(object(), "x.png")
    plt.close(fig)
    assert run.artifacts == ["plots/line.png"]
    assert (run.artifact_dir / "plots" / "line.png").read_bytes()[:4] == b"\x89PNG"


# background tasks --------------------------------------------------------------------------
def test_submit_background_runs_and_flush_waits():
    run = create_run()
    done = []

    def task(r, n):
        import time

        time.sleep(0.05)
        r.log_artifact_bytes(b"model", "model/model.pkl")
        r.log_metric("bg", n)
        done.append(n)

    submit_background(task, run, 3)
    run.end(wait=False)
    autolog.flush()
    assert done == [3]
    assert run.artifacts == ["model/model.pkl"] and run.metrics == {"bg": 3.0}


def test_background_task_error_strict_raised_by_flush():
    def boom():
        raise RuntimeError("kaput")

    submit_background(boom)
    with pytest.raises(AutologWarning, match="kaput") as info:
        autolog.flush()
    assert isinstance(info.value.__cause__, RuntimeError)
    autolog.flush()  # reported once


def test_background_task_error_non_strict_warns(monkeypatch):
    monkeypatch.delenv("AUTOLOG_STRICT")
    set_strict(False)
    try:
        def boom():
            raise RuntimeError("kaput")

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            submit_background(boom)
            autolog.flush()
        assert any(issubclass(w.category, AutologWarning) and "kaput" in str(w.message) for w in caught)
    finally:
        set_strict(None)


def test_background_task_sees_callers_context():
    seen = []
    with autolog.start_run() as run:
        submit_background(lambda: seen.append(autolog.active_run()))
        autolog.flush()
    assert seen == [run]


def test_run_to_dict_and_repr():
    with autolog.start_run("named", tags={"a": 1}) as run:
        autolog.log_metric("m", 1)
    d = run.to_dict()
    assert d["name"] == "named" and d["tags"] == {"a": "1"} and d["metrics"] == {"m": 1.0}
    assert "named" in repr(run)


def test_run_pickles_as_reference(tmp_path):
    import copy
    import pickle

    with autolog.start_run() as run:
        autolog.log_param("p", 1)
        assert pickle.loads(pickle.dumps(run)) is run
        assert copy.deepcopy(run) is run
    autolog.set_tracking_uri(str(tmp_path / "s"))
    with autolog.start_run() as file_run:
        autolog.log_metric("m", 1)
    data = pickle.dumps(file_run)
    run_id = file_run.id
    del file_run
    import gc

    gc.collect()
    autolog.set_tracking_uri("memory:")  # unpickling still finds the file store
    again = pickle.loads(data)
    assert again.id == run_id and again.metrics == {"m": 1.0}


def test_rename_uses_one_random_suffix_per_call():
    run = create_run()
    run.log_params({"a": 1, "b": 1})
    renamed = run.log_params({"a": 2, "b": 2}, on_conflict="rename")
    assert renamed["a"][2:] == renamed["b"][2:]
    run.end()


def test_flush_is_not_starved_by_a_busy_producer():
    import time

    run = create_run()
    stop = threading.Event()

    def produce():
        i = 0
        while not stop.is_set():
            run.log_metric("m", i, step=i)
            i += 1

    worker = threading.Thread(target=produce)
    worker.start()
    try:
        time.sleep(0.05)
        flusher = threading.Thread(target=lambda: [autolog.flush() for _ in range(3)])
        flusher.start()
        flusher.join(timeout=60)  # hang guard only: a starved flush never returns
        assert not flusher.is_alive(), "flush() starved by a busy producer"
    finally:
        stop.set()
        worker.join()
    run.end()


def test_importing_the_fluent_api_stays_light():
    import subprocess
    import sys

    code = (
        "import sys, autolog, autolog._tracking._fluent; "
        "heavy = [m for m in ('sqlite3', 'pandas', 'numpy') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_bad_step_or_timestamp_rejected_at_the_call():
    run = create_run()
    with pytest.raises(ValueError, match="64 bits"):
        run.log_metric("m", 1.0, step=2**70)
    with pytest.raises(TypeError, match="step"):
        run.log_metric("m", 1.0, step="x")
    with pytest.raises(TypeError, match="timestamp"):
        run.log_metrics({"m": 1.0}, timestamp="now")
    run.end()
    assert run.metrics == {}


def test_unstorable_record_does_not_lose_the_batch():
    run = create_run()
    run.log_params({"ok": 1, "bad": "\udc80"})  # a lone surrogate cannot be encoded
    run.log_metric("m", 1.0)
    with pytest.raises(AutologWarning, match="dropped"):
        autolog.flush()
    assert run.params == {"ok": "1"} and run.metrics == {"m": 1.0}
    run.end()


def test_bad_tag_at_start_creates_no_run():
    with pytest.raises(InvalidKeyError):
        autolog.start_run(tags={"bad\n": 1})
    assert autolog.active_run() is None
    assert autolog.search_runs().empty


def test_background_task_submitted_during_interpreter_teardown_runs_and_exit_does_not_hang(tmp_path):
    # a generator still suspended at exit is finalized after atexit, when daemon threads are
    # frozen: its task must run in place, and the flush after it must not wait forever
    script = tmp_path / "late.py"
    script.write_text(
        "import autolog\n"
        "from autolog._tracking import submit_background\n"
        "flush = autolog.flush\n"
        "autolog.set_tracking_uri('memory:')\n"
        "def held():\n"
        "    try:\n"
        "        yield\n"
        "    finally:\n"
        "        submit_background(print, 'late task ran')\n"
        "        flush()\n"
        "g = held()\n"
        "next(g)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60)  # hang guard only
    assert done.returncode == 0, done.stderr
    assert "late task ran" in done.stdout
