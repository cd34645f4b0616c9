"""Sessions: managed runs, user runs, several fits in one run, child runs, threads, models."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pytest

import autolog
from autolog._errors import AutologWarning
from autolog.integration import Integration, carry_context, register
from autolog.testing import logged_runs

FAKES = Path(__file__).parent / "fakes"
sys.path.insert(0, str(FAKES))

import fakeml_autolog  # noqa: E402


@pytest.fixture(autouse=True)
def fakeml():
    for name in [m for m in sys.modules if m == "fakeml" or m.startswith("fakeml.")]:
        del sys.modules[name]
    fakeml_autolog.EVENTS.clear()
    register(fakeml_autolog.FakeIntegration)
    autolog.autolog()
    import fakeml

    yield fakeml
    for name in [m for m in sys.modules if m == "fakeml" or m.startswith("fakeml.")]:
        del sys.modules[name]


def fits_of(run):
    autolog.flush()
    return json.loads((run.artifact_dir / "autolog" / "fits.json").read_text())["fits"]


def test_managed_run_lifecycle(fakeml):
    seen = []
    original = fakeml.Linear.fit.__wrapped__

    def spy(self, X, y=None, callbacks=None, epochs=1):
        seen.append(autolog.active_run())
        return original(self, X, y, callbacks, epochs)

    class Spy(fakeml.Linear):
        fit = spy

    Spy(alpha=0.5).fit([1, 2])
    (run,) = logged_runs()
    assert seen == [run]  # active while the original ran
    assert autolog.active_run() is None
    assert run.status == "FINISHED" and run.name == "Spy"
    assert run.tags["autolog.integration"] == "fakeml"
    assert run.params == {"alpha": "0.5"} and run.metrics == {"coef": 1.5}
    (fit,) = fits_of(run)
    assert fit["estimator"].endswith("Spy") and fit["integration"] == "fakeml"
    assert len(fit["suffix"]) == 8 and fit["managed_run"] is True


def test_failed_and_killed_runs(fakeml):
    error = ValueError("bad data")
    with pytest.raises(ValueError) as caught:
        fakeml.Boom(error).fit([1])
    assert caught.value is error
    with pytest.raises(KeyboardInterrupt):
        fakeml.Boom(KeyboardInterrupt()).fit([1])
    statuses = [run.status for run in logged_runs()]
    assert statuses == ["FAILED", "KILLED"]
    assert autolog.active_run() is None


def test_our_error_after_success_does_not_fail_run(fakeml, lenient_mode, monkeypatch):
    from autolog._session import Session

    def broken(self, metrics, step=None):
        raise RuntimeError("metric bug")

    monkeypatch.setattr(Session, "log_metrics", broken)
    with pytest.warns(AutologWarning, match="metric bug"):
        model = fakeml.Linear().fit([3])
    assert model.coef_ == 3.0
    (run,) = logged_runs()
    assert run.status == "FINISHED"


def test_bad_value_logged_is_contained_and_rest_still_logs(fakeml, lenient_mode):
    with pytest.warns(AutologWarning):
        fakeml.Linear(**{"bad key\n": 1}).fit([2])  # invalid param key
    (run,) = logged_runs()
    assert run.metrics == {"coef": 2.0}  # metrics after the failing call still logged


def test_user_run_is_used_and_left_open(fakeml):
    with autolog.start_run("mine") as run:
        fakeml.Linear(alpha=1).fit([1])
        assert autolog.active_run() is run and run.status == "RUNNING"
    assert [r.id for r in logged_runs()] == [run.id]
    assert autolog.get_run(run.id).params == {"alpha": "1"}


def test_exclusive_logs_nothing_into_user_runs(fakeml):
    autolog.autolog(exclusive=True)
    with autolog.start_run("mine") as run:
        fakeml.Linear(alpha=1).fit([1])
    assert autolog.get_run(run.id).params == {}
    fakeml.Linear(alpha=1).fit([1])  # no user run: a managed run as usual
    assert len(logged_runs()) == 2


def test_several_fits_in_one_run_rename_and_keep_history(fakeml):
    with autolog.start_run("many") as run:
        run.log_params({"alpha": "user"})  # the user's own param conflicts too
        fakeml.Linear(alpha=1).fit([1])
        fakeml.Linear(alpha=1).fit([3])  # equal value: not duplicated
        fakeml.SuperChain(alpha=2).fit([5])
    params = autolog.get_run(run.id).params
    assert params["alpha"] == "user"
    fits = fits_of(run)
    assert [f["estimator"].rsplit(".", 1)[1] for f in fits] == ["Linear", "Linear", "SuperChain"]
    renamed = [f["renamed_params"].get("alpha") for f in fits]
    assert renamed[0] == f"alpha_{fits[0]['suffix']}" and params[renamed[0]] == "1"
    assert renamed[1] == f"alpha_{fits[1]['suffix']}"  # each fit's conflicts carry its suffix
    assert renamed[2] == f"alpha_{fits[2]['suffix']}" and params[renamed[2]] == "2"
    tags = autolog.get_run(run.id).tags
    assert tags["estimator"] == "Linear" and tags[f"estimator_{fits[2]['suffix']}"] == "SuperChain"
    assert [v for _, _, v in run.metric_history("coef")] == [1.0, 3.0, 5.0]


def test_nested_fits_log_once(fakeml):
    fakeml.Pipeline([fakeml.Linear(a=1), fakeml.SuperChain(b=2)]).fit([1, 2])
    (run,) = logged_runs()
    assert run.params == {"steps": "2"}
    assert [e[1] for e in fakeml_autolog.EVENTS if e[0] == "fit"] == ["Pipeline"]


def test_child_runs(fakeml):
    class Search(Integration):
        name = "search"
        modules = ("fakeml",)

        def install(self, patcher):
            patcher.wrap(fakeml.Pipeline, "fit", self.hook)

        def hook(self, call):
            with call.session() as s:
                result = yield
                for i, step in enumerate(call.instance.steps):
                    s.child_run(f"step-{i}", params={"i": i}, metrics={"coef": step.coef_})
                ended = s.child_run("already-ended")
                ended.end("FAILED", wait=False)

    autolog.disable("fakeml")
    register(Search)
    fakeml.Pipeline([fakeml.Linear(), fakeml.Linear()]).fit([2])
    runs = logged_runs()
    parent = [r for r in runs if r.parent_id is None]
    children = [r for r in runs if r.parent_id is not None]
    assert len(parent) == 1 and len(children) == 3
    assert {c.parent_id for c in children} == {parent[0].id}
    assert sorted(c.status for c in children) == ["FAILED", "FINISHED", "FINISHED"]
    assert all(c.tags["autolog.integration"] == "search" for c in children)


def test_three_threads_three_complete_runs(fakeml):
    barrier = threading.Barrier(3)
    errors = []

    class Slow(fakeml.Linear):
        def fit(self, X, y=None, callbacks=None, epochs=1):
            barrier.wait(timeout=10)  # all three fits overlap
            return super().fit(X, y, callbacks, epochs)

    def work(i):
        try:
            Slow(worker=i).fit([i])
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    runs = logged_runs()
    assert len(runs) == 3
    assert sorted(r.params["worker"] for r in runs) == ["0", "1", "2"]
    assert all(r.status == "FINISHED" and "coef" in r.metrics for r in runs)


def test_worker_threads_with_carry_context_create_no_runs(fakeml):
    fakeml.models.Threaded(wrap=carry_context, n=4).fit([1])
    assert len(logged_runs()) == 1


def test_injected_callbacks_copy_user_list(fakeml):
    user = []
    result = fakeml.train({"lr": 0.1}, [1, 2], 3, user)  # positional callbacks
    assert user == [] and result["rounds"] == 3
    (run,) = logged_runs()
    assert run.params == {"lr": "0.1", "rounds": "3"} and run.metrics["seen"] == 1.0


def test_log_model_honours_options(fakeml, monkeypatch):
    import autolog._models as models

    calls = []
    monkeypatch.setattr(models, "log_model", lambda model, path, **kw: calls.append((path, kw)) or "uri")

    class WithModel(Integration):
        name = "withmodel"
        modules = ("fakeml",)

        def install(self, patcher):
            patcher.wrap(fakeml.Pipeline, "fit", self.hook)

        def hook(self, call):
            with call.session() as s:
                model = yield
                s.log_model(model, signature=lambda: "SIG", input_example=lambda: "EX")

    register(WithModel)
    fakeml.Pipeline([]).fit([1])
    assert calls[-1][1]["signature"] == "SIG" and calls[-1][1]["input_example"] is None
    assert calls[-1][1]["background"] is True
    autolog.autolog(log_input_examples=True, log_model_signatures=False)
    fakeml.Pipeline([]).fit([1])
    assert calls[-1][1]["signature"] is False and calls[-1][1]["input_example"] == "EX"
    autolog.autolog(withmodel={"log_models": False, "log_input_examples": False})
    fakeml.Pipeline([]).fit([1])
    assert len(calls) == 2


def test_background_artifacts(fakeml):
    class Artifacts(Integration):
        name = "artifacts"
        modules = ("fakeml",)

        def install(self, patcher):
            patcher.wrap(fakeml.Pipeline, "fit", self.hook)

        def hook(self, call):
            with call.session() as s:
                yield
                s.log_text("hello", "notes/hello.txt")
                s.log_dict({"a": 1}, "notes/a.json")

    register(Artifacts)
    fakeml.Pipeline([]).fit([1])
    (run,) = logged_runs()  # both integrations' hooks wrote into the one managed run
    assert {"notes/hello.txt", "notes/a.json", "autolog/fits.json"} <= set(run.artifacts)


def test_several_fits_keep_every_model(fakeml, monkeypatch):
    import autolog._models as models
    from autolog._errors import ModelError

    taken = {"user-model"}

    def fake_log_model(model, path, **kw):
        if path in taken:
            raise ModelError(f"model runs:/x/{path} already exists; choose another artifact_path")
        taken.add(path)
        return f"runs:/x/{path}"

    monkeypatch.setattr(models, "log_model", fake_log_model)

    class WithModel(Integration):
        name = "withmodel2"
        modules = ("fakeml",)

        def install(self, patcher):
            patcher.wrap(fakeml.Pipeline, "fit", self.hook)

        def hook(self, call):
            with call.session() as s:
                model = yield
                s.log_model(model)
                s.log_model(model, "user-model")

    autolog.disable("fakeml")
    register(WithModel)
    with autolog.start_run() as run:
        fakeml.Pipeline([]).fit([1])
        fakeml.Pipeline([]).fit([1])
    fits = fits_of(run)
    first, second = fits[0]["suffix"], fits[1]["suffix"]
    assert fits[0]["models"] == ["model", f"user-model_{first}"]
    assert fits[1]["models"] == [f"model_{second}", f"user-model_{second}"]


def test_nested_hook_without_active_run_creates_no_run(fakeml):
    class NestedScore(Integration):
        name = "nestedscore"
        modules = ("fakeml",)

        def install(self, patcher):
            patcher.wrap(fakeml.models, "score", self.hook, nested=True)

        def hook(self, call):
            with call.session() as s:
                yield
                s.log_metrics({"score": 1.0})

    register(NestedScore)
    carry_context(fakeml.models.score)([1], [1])  # as in a worker process: nested, no run
    assert logged_runs() == []
    fakeml.models.score([1], [1])  # top level: a run of its own
    with autolog.start_run() as run:
        fakeml.models.score([1], [2])
    assert len(logged_runs()) == 2 and autolog.get_run(run.id).metrics == {"score": 1.0}


# ---------------------------------------------------------------- peer lessons (MLflow defects)


def test_one_bad_param_never_loses_the_batch(fakeml, lenient_mode):
    # MLflow defect 3: one rejected key made the whole batch fail; here only that key is lost
    with pytest.warns(AutologWarning):
        fakeml.Linear(**{"alpha": 1, "bad key\n": 2, "beta": 3}).fit([2])
    (run,) = logged_runs()
    assert run.params == {"alpha": "1", "beta": "3"}
    assert run.metrics == {"coef": 2.0}


def test_conflicting_param_keeps_whole_batch_and_both_fits_metrics(fakeml):
    # MLflow defect 3: a param conflicting with the user's lost every autologged param, and a
    # second fit's metrics overwrote the first's
    with autolog.start_run() as run:
        run.log_params({"alpha": "user"})
        fakeml.Linear(alpha=1, beta=2, gamma=3).fit([1])
        fakeml.Linear(alpha=1, beta=2, gamma=4).fit([5])
    params = autolog.get_run(run.id).params
    fits = fits_of(run)
    first, second = fits[0]["suffix"], fits[1]["suffix"]
    assert params == {"alpha": "user", f"alpha_{first}": "1", "beta": "2", "gamma": "3",
                      f"alpha_{second}": "1", f"gamma_{second}": "4"}
    assert [v for _, _, v in run.metric_history("coef")] == [1.0, 5.0]


def test_long_param_values_are_kept_whole(fakeml):
    # MLflow defect 10: a param over 500 characters lost the whole run
    long_value = "x" * 6000
    fakeml.Linear(alpha=1, description=long_value).fit([1])
    (run,) = logged_runs()
    assert run.params == {"alpha": "1", "description": long_value}
    assert run.status == "FINISHED" and run.metrics == {"coef": 1.0}


def test_one_bad_metric_never_loses_the_batch(fakeml, lenient_mode):
    class Metrics(Integration):
        name = "badmetric"
        modules = ("fakeml",)

        def install(self, patcher):
            patcher.wrap(fakeml.Pipeline, "fit", self.hook)

        def hook(self, call):
            with call.session() as s:
                yield
                s.log_metrics({"good": 1.0, "bad": "not a number", "also_good": 2})

    autolog.disable("fakeml")
    register(Metrics)
    with pytest.warns(AutologWarning, match="real number"):
        fakeml.Pipeline([]).fit([1])
    (run,) = logged_runs()
    assert run.metrics == {"good": 1.0, "also_good": 2.0}
