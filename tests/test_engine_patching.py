"""Engine rules at the Patcher level: error boundary, nesting, stacking, exact revert, pickling."""

from __future__ import annotations

import copy
import inspect
import pickle
import sys
import threading
import traceback
import types
from pathlib import Path

import cloudpickle
import joblib
import pytest

from autolog import _patching
from autolog._errors import AutologWarning, set_strict
from autolog._patching import Owner, Patcher, carry_context, find_wrapper, is_patched

FAKES = Path(__file__).parent / "fakes"


@pytest.fixture
def fakeml(monkeypatch):
    monkeypatch.syspath_prepend(str(FAKES))
    for name in [m for m in sys.modules if m == "fakeml" or m.startswith("fakeml.")]:
        del sys.modules[name]
    import fakeml

    yield fakeml
    for name in [m for m in sys.modules if m == "fakeml" or m.startswith("fakeml.")]:
        del sys.modules[name]


@pytest.fixture
def patchers():
    made = []

    def make(name="fake"):
        patcher = Patcher(Owner(name))
        made.append(patcher)
        return patcher

    yield make
    for patcher in made:
        patcher.revert()


def recorder(events, tag="hook"):
    def hook(call):
        events.append((tag, "before", call.function_name, call.args, dict(call.kwargs)))
        try:
            result = yield
        except BaseException as exc:
            events.append((tag, "raised", exc))
            raise
        events.append((tag, "after", result))

    return hook


# ---------------------------------------------------------------- error boundary


def test_original_called_once_and_result_identity(fakeml, patchers):
    events, calls = [], []
    original = fakeml.models.Linear.__dict__["fit"]

    def counting(self, X, y=None, callbacks=None, epochs=1):
        calls.append(1)
        return original(self, X, y, callbacks, epochs)

    fakeml.Linear.fit = counting
    patchers().wrap(fakeml.Linear, "fit", recorder(events))
    est = fakeml.Linear()
    assert est.fit([1, 2, 3]) is est
    assert calls == [1]
    assert events[0][:3] == ("hook", "before", "fit") and events[-1] == ("hook", "after", est)


def test_user_exception_same_object_thrown_into_hook(fakeml, patchers):
    events = []
    patchers().wrap(fakeml.Boom, "fit", recorder(events))
    error = ValueError("user")
    with pytest.raises(ValueError) as caught:
        fakeml.Boom(error).fit([1])
    assert caught.value is error
    assert events[-1] == ("hook", "raised", error)
    frames = [f.name for f in traceback.extract_tb(caught.value.__traceback__)]
    assert "hook" not in frames  # the hook's frames are kept out of the user's traceback


def test_keyboard_interrupt_passes_through(fakeml, patchers):
    events = []
    patchers().wrap(fakeml.Boom, "fit", recorder(events))
    error = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt) as caught:
        fakeml.Boom(error).fit([1])
    assert caught.value is error and events[-1][2] is error


def failing_before(call):
    raise RuntimeError("hook bug before")
    yield  # pragma: no cover


def failing_after(call):
    yield
    raise RuntimeError("hook bug after")


def test_hook_error_before_yield_original_still_called_with_user_args(fakeml, patchers, lenient_mode):
    def mutate_then_fail(call):
        call.args = ([100, 100],)
        raise RuntimeError("hook bug")
        yield  # pragma: no cover

    patchers().wrap(fakeml.Linear, "fit", mutate_then_fail)
    with pytest.warns(AutologWarning, match="hook bug"):
        est = fakeml.Linear().fit([1, 3])
    assert est.coef_ == 2.0  # the user's args, not the hook's


def test_hook_error_after_yield_returns_result_and_warns_once(fakeml, patchers, lenient_mode):
    patchers("one").wrap(fakeml.Linear, "fit", failing_after)
    with pytest.warns(AutologWarning) as record:
        est = fakeml.Linear()
        assert est.fit([1]) is est
        assert est.fit([2]) is est
    assert len(record) == 1 and "one integration failed" in str(record[0].message)


def test_hook_errors_raise_in_strict_mode(fakeml, patchers):
    set_strict(True)
    patcher = patchers()
    patcher.wrap(fakeml.Linear, "fit", failing_before)
    patcher.wrap(fakeml.Pipeline, "fit", failing_after)
    with pytest.raises(RuntimeError, match="before"):
        fakeml.Linear().fit([1])
    with pytest.raises(RuntimeError, match="after"):
        fakeml.Pipeline([]).fit([1])


def test_silent_option_suppresses_warning(fakeml, lenient_mode, recwarn):
    from autolog._config import resolve

    patcher = Patcher(Owner("quiet", resolve({"silent": True}, {}, {})))
    patcher.wrap(fakeml.Linear, "fit", failing_after)
    try:
        fakeml.Linear().fit([1])
    finally:
        patcher.revert()
    assert not [w for w in recwarn if issubclass(w.category, AutologWarning)]


def test_hook_error_while_handling_user_exception(fakeml, patchers, lenient_mode):
    def bad_handler(call):
        try:
            yield
        except ValueError:
            raise RuntimeError("cleanup bug") from None

    patchers().wrap(fakeml.Boom, "fit", bad_handler)
    error = ValueError("user")
    with pytest.warns(AutologWarning, match="cleanup bug"):
        with pytest.raises(ValueError) as caught:
            fakeml.Boom(error).fit([1])
    assert caught.value is error


def test_protocol_violations_are_reported(fakeml, patchers, lenient_mode):
    def not_a_generator(call):
        return 1

    def yields_twice(call):
        yield
        yield

    patchers("a").wrap(fakeml.Linear, "fit", not_a_generator)
    patchers("b").wrap(fakeml.Pipeline, "fit", yields_twice)
    with pytest.warns(AutologWarning):
        assert fakeml.Linear().fit([1]).coef_ == 1.0
    with pytest.warns(AutologWarning, match="more than once"):
        fakeml.Pipeline([]).fit([1])


def test_hook_that_returns_before_yield_opts_out(fakeml, patchers):
    def opt_out(call):
        if call.instance is not None:
            return
        yield  # pragma: no cover

    patchers().wrap(fakeml.Linear, "fit", opt_out)
    assert fakeml.Linear().fit([4]).coef_ == 4.0


# ---------------------------------------------------------------- arguments


def test_arguments_bound_through_signature(fakeml, patchers):
    seen = {}

    def hook(call):
        seen.update(call.arguments)
        yield

    patchers().wrap(fakeml.Linear, "fit", hook)
    fakeml.Linear().fit([1], None, None, 3)  # epochs given positionally
    assert seen == {"X": [1], "y": None, "callbacks": None, "epochs": 3}


def test_set_argument_keeps_positional_and_copies(fakeml, patchers):
    user_callbacks = [lambda epoch: None]
    extra = []

    def hook(call):
        callbacks = list(call.get_argument("callbacks") or [])
        callbacks.append(extra.append)
        call.set_argument("callbacks", callbacks)
        yield

    patchers().wrap(fakeml.Linear, "fit", hook)
    est = fakeml.Linear().fit([1], None, user_callbacks, 2)  # callbacks positional: no duplicate
    assert est.epochs_ == 2 and extra == [0, 1]
    assert len(user_callbacks) == 1  # the user's list is untouched
    fakeml.Linear().fit([1], epochs=1)  # not given at all: passed by keyword
    assert extra == [0, 1, 0]


def test_set_argument_unknown_name(fakeml, patchers):
    errors = []

    def hook(call):
        try:
            call.set_argument("nope", 1)
        except TypeError as exc:
            errors.append(exc)
        yield

    patchers().wrap(fakeml.Linear, "fit", hook)
    fakeml.Linear().fit([1])
    assert errors


def test_args_replaced_with_wrong_types_are_ignored(fakeml, patchers, lenient_mode):
    def hook(call):
        call.args = [[9]]  # a list, not a tuple
        yield

    patchers().wrap(fakeml.Linear, "fit", hook)
    with pytest.warns(AutologWarning):
        assert fakeml.Linear().fit([1]).coef_ == 1.0


# ---------------------------------------------------------------- nesting


def test_nested_calls_skip_hooks_unless_nested_true(fakeml, patchers):
    events = []
    patcher = patchers()
    patcher.wrap_subclasses(fakeml.Estimator, "fit", recorder(events, "fit"))
    patcher.wrap(fakeml.models, "score", recorder(events, "score"), nested=True)

    def fit_and_score(call):
        yield
        fakeml.models.score([1], [2])

    patchers("outer").wrap(fakeml.Pipeline, "fit", fit_and_score)
    fakeml.Pipeline([fakeml.Linear(), fakeml.SuperChain()]).fit([1, 2])
    tags = [(e[0], e[1]) for e in events]
    assert tags.count(("fit", "before")) == 1  # only the Pipeline's own fit
    assert ("score", "before") in tags  # nested=True hook ran inside


def test_super_chain_logs_once(fakeml, patchers):
    events = []
    patchers().wrap_subclasses(fakeml.Estimator, "fit", recorder(events))
    fakeml.SuperChain().fit([1])
    assert [e[1] for e in events] == ["before", "after"]


def test_carry_context_marks_workers_nested(fakeml, patchers):
    events = []
    patchers().wrap_subclasses(fakeml.Estimator, "fit", recorder(events))
    fakeml.models.Threaded(wrap=carry_context, n=3).fit([1])
    assert [e[1] for e in events] == ["before", "after"]  # workers ran as nested
    events.clear()
    fakeml.models.Threaded(wrap=None, n=2).fit([1])  # plain threads start a fresh context
    assert [e[1] for e in events].count("before") == 3


def test_carry_context_is_picklable_and_transparent():
    carried = carry_context(len)
    assert carried([1, 2]) == 2 and carried.__name__ == "len"
    again = pickle.loads(pickle.dumps(carried))
    assert again([1]) == 1
    assert not _patching.in_autologged_call()

    seen = []
    carry_context(lambda: seen.append(_patching.in_autologged_call()))()
    assert seen == [True]


def test_contexts_are_per_thread(fakeml, patchers):
    events = []
    barrier = threading.Barrier(3)

    def slow_hook(call):
        barrier.wait(timeout=10)
        events.append(threading.get_ident())
        yield

    patchers().wrap(fakeml.Linear, "fit", slow_hook)
    threads = [threading.Thread(target=fakeml.Linear().fit, args=([1],)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(events)) == 3


# ---------------------------------------------------------------- stacking and revert


def test_two_integrations_on_one_attribute_do_not_undo_each_other(fakeml, patchers):
    events = []
    original = fakeml.models.__dict__["score"]
    first, second = patchers("first"), patchers("second")
    first.wrap(fakeml.models, "score", recorder(events, "first"))
    second.wrap(fakeml.models, "score", recorder(events, "second"))
    assert find_wrapper(fakeml.models, "score").__wrapped__ is original  # one wrapper
    fakeml.models.score([1], [1])
    assert [e[0] for e in events if e[1] == "before"] == ["first", "second"]
    first.revert()
    events.clear()
    fakeml.models.score([1], [1])
    assert [e[0] for e in events if e[1] == "before"] == ["second"]
    second.revert()
    assert fakeml.models.__dict__["score"] is original


def test_wrapping_same_hook_twice_is_a_noop(fakeml, patchers):
    events = []
    hook = recorder(events)
    patcher = patchers()
    patcher.wrap(fakeml.Linear, "fit", hook)
    patcher.wrap(fakeml.Linear, "fit", hook)
    patcher.wrap_subclasses(fakeml.Estimator, "fit", hook)
    fakeml.Linear().fit([1])
    assert [e[1] for e in events] == ["before", "after"]
    assert not isinstance(find_wrapper(fakeml.Linear, "fit").__wrapped__, _patching.AutologWrapper)


def test_revert_restores_own_and_deletes_inherited(fakeml, patchers):
    snapshots = {cls: dict(vars(cls)) for cls in (fakeml.Estimator, fakeml.Linear, fakeml.Plain)}
    module_snapshot = dict(vars(fakeml.models))
    patcher = patchers()
    for name in ("fit", "create", "helper"):
        patcher.wrap(fakeml.Estimator, name, recorder([]))
    patcher.wrap(fakeml.Plain, "fit", recorder([]))  # inherited: patched on Plain itself
    patcher.wrap(fakeml.models, "train", recorder([]))
    assert "fit" in vars(fakeml.Plain)
    assert fakeml.Estimator.create().params == {} and fakeml.Estimator.helper(2) == 4
    patcher.revert()
    assert "fit" not in vars(fakeml.Plain)
    for cls, before in snapshots.items():
        after = dict(vars(cls))
        assert set(after) == set(before)
        assert all(after[k] is before[k] for k in before if k != "__dict__")
    assert all(vars(fakeml.models)[k] is v for k, v in module_snapshot.items())
    assert isinstance(vars(fakeml.Estimator)["create"], classmethod)
    assert isinstance(vars(fakeml.Estimator)["helper"], staticmethod)


def test_foreign_wrapper_on_top_survives_revert(fakeml, patchers):
    import functools

    events, foreign = [], []
    patcher = patchers()
    patcher.wrap(fakeml.models, "score", recorder(events))
    ours = vars(fakeml.models)["score"]

    @functools.wraps(ours)
    def foreign_wrapper(*args, **kwargs):
        foreign.append(1)
        return ours(*args, **kwargs)

    fakeml.models.score = foreign_wrapper
    patcher.revert()
    assert vars(fakeml.models)["score"] is foreign_wrapper
    assert fakeml.models.score([1], [3]) == 2.0
    assert foreign == [1] and events == []  # ours stays in place, inert
    again = patchers("again")
    again.wrap(fakeml.models, "score", recorder(events))
    assert vars(fakeml.models)["score"] is foreign_wrapper  # reused under the foreign one
    fakeml.models.score([1], [3])
    assert len(events) == 2 and foreign == [1, 1]


def test_wrap_subclasses_existing_future_include_and_init_subclass(fakeml, patchers):
    events = []
    base_dict = dict(vars(fakeml.Estimator))
    patcher = patchers()
    patcher.wrap_subclasses(fakeml.Estimator, "fit", recorder(events),
                            include=lambda cls: cls.__name__ != "Boom")
    assert is_patched(fakeml.Linear, "fit") and is_patched(fakeml.Estimator, "fit")
    assert not is_patched(fakeml.Boom, "fit")
    assert "fit" not in vars(fakeml.Plain)  # inherits the base's wrapper, no copy

    class Later(fakeml.Linear):
        def fit(self, X, y=None):
            return super().fit(X, y)

    class NoFit(fakeml.Linear):
        pass

    assert is_patched(Later, "fit") and "fit" not in vars(NoFit)
    Later().fit([1])
    assert [e[1] for e in events] == ["before", "after"]
    patcher.revert()
    assert not is_patched(Later, "fit")
    after = dict(vars(fakeml.Estimator))
    assert set(after) == set(base_dict) and "__init_subclass__" not in after


def test_wrap_subclasses_skips_a_subclass_that_hides_the_method_with_a_property(patchers):
    class Base:
        def fit_predict(self):
            return "base"

    class Hidden(Base):  # as sklearn hides fit_predict on some clusterers
        @property
        def fit_predict(self):
            raise AttributeError("not available")

    patcher = patchers()
    patcher.wrap_subclasses(Base, ["fit_predict"], recorder([]))

    class HiddenLater(Base):
        fit_predict = None

    assert is_patched(Base, "fit_predict")
    assert isinstance(vars(Hidden)["fit_predict"], property)
    assert vars(HiddenLater)["fit_predict"] is None


class _Copier:
    """What sklearn's _FuncWrapper does with the task it wraps: copy its __dict__ onto itself."""

    def __init__(self, fn):
        import functools

        self.fn = fn
        functools.update_wrapper(self, fn)

    def __call__(self, *args):
        return self.fn(*args)


def test_carried_context_stays_out_of_copies_of_its_dict():
    copied = _Copier(carry_context(len))
    assert not any(isinstance(v, type(_patching.contextvars.copy_context()))
                   for v in vars(copied).values())
    assert pickle.loads(pickle.dumps(copied))([1, 2, 3]) == 3


def test_init_subclass_of_base_still_runs(patchers):
    calls = []

    class Base:
        def __init_subclass__(cls, flavour=None, **kwargs):
            super().__init_subclass__(**kwargs)
            calls.append((cls.__name__, flavour))

        def fit(self):
            return self

    original = vars(Base)["__init_subclass__"]
    patcher = patchers()
    patcher.wrap_subclasses(Base, ["fit"], recorder([]))

    class Child(Base, flavour="x"):
        def fit(self):
            return self

    assert calls == [("Child", "x")] and is_patched(Child, "fit")
    patcher.revert()
    assert vars(Base)["__init_subclass__"] is original


def test_on_import_now_later_and_after_revert(fakeml, patchers, tmp_path, monkeypatch):
    seen = []
    patcher = patchers()
    patcher.on_import("fakeml", lambda m: seen.append(("now", m.__name__)))
    patcher.on_import("fakeml_lazy_sub", lambda m: seen.append(("later", m.__name__)))
    assert seen == [("now", "fakeml")]
    # a real import through the finder
    (tmp_path / "fakeml_lazy_sub.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        import importlib

        importlib.invalidate_caches()
        importlib.import_module("fakeml_lazy_sub")
        assert seen[-1] == ("later", "fakeml_lazy_sub")
        patcher.revert()
        del sys.modules["fakeml_lazy_sub"]
        importlib.import_module("fakeml_lazy_sub")
        assert len(seen) == 2
        assert sys.modules["fakeml_lazy_sub"].__loader__.__class__.__name__ != "_ChainedLoader"
    finally:
        sys.modules.pop("fakeml_lazy_sub", None)


# ---------------------------------------------------------------- transparency


def test_signature_name_doc_preserved(fakeml, patchers):
    def describe():
        return [(str(inspect.signature(f)), f.__name__, f.__doc__, f.__qualname__)
                for f in (fakeml.Linear.fit, fakeml.Linear().fit, fakeml.models.train,
                          fakeml.Estimator.create, fakeml.Estimator.helper)]

    before = describe()
    patcher = patchers()
    patcher.wrap_subclasses(fakeml.Estimator, ["fit", "create", "helper"], recorder([]))
    patcher.wrap(fakeml.models, "train", recorder([]))
    assert describe() == before
    assert inspect.ismethod(fakeml.Linear().fit)


def test_pickling_patched_functions_instances_and_methods(fakeml, patchers, tmp_path):
    patcher = patchers()
    patcher.wrap_subclasses(fakeml.Estimator, "fit", recorder([]))
    patcher.wrap(fakeml.models, "score", recorder([]))
    patcher.wrap(fakeml, "score", recorder([]))  # a re-export: pickles by its owner
    est = fakeml.Linear(alpha=1).fit([1, 2])
    for dumps, loads in ((pickle.dumps, pickle.loads), (cloudpickle.dumps, pickle.loads)):
        assert loads(dumps(fakeml.models.score)) is fakeml.models.score
        # cloudpickle pickles a function by value unless its defining module holds it (a
        # re-export patched only where re-exported): it still round-trips to a working function
        again = loads(dumps(fakeml.score))
        assert again is fakeml.score or again([1], [3]) == 2.0
        assert pickle.loads(pickle.dumps(fakeml.score)) is fakeml.score
        copy_est = loads(dumps(est))
        assert copy_est.coef_ == est.coef_ and type(copy_est) is fakeml.Linear
        bound = loads(dumps(est.fit))
        assert bound.__self__.params == {"alpha": 1} and bound([3]).coef_ == 3.0
        assert loads(dumps(fakeml.Linear.fit)) is not None
    path = tmp_path / "objects.joblib"
    joblib.dump({"f": fakeml.models.score, "est": est, "m": est.fit}, path)
    loaded = joblib.load(path)
    assert loaded["f"] is fakeml.models.score and loaded["est"].coef_ == est.coef_
    assert copy.copy(fakeml.models.score) is fakeml.models.score
    assert copy.deepcopy(est).coef_ == est.coef_
    # unpickling yields what the owner holds now: after revert, the original
    data = pickle.dumps(fakeml.models.score)
    patcher.revert()
    assert pickle.loads(data) is fakeml.models.score
    assert not isinstance(fakeml.models.score, _patching.AutologWrapper)


def test_cannot_patch_non_callables(fakeml, patchers):
    with pytest.raises(TypeError):
        patchers().wrap(fakeml, "__version__", recorder([]))
    with pytest.raises(AttributeError):
        patchers().wrap(fakeml.Linear, "missing", recorder([]))


def test_opted_out_outer_call_lets_inner_calls_log(fakeml, patchers):
    events = []

    def hook(call):
        if isinstance(call.instance, fakeml.Pipeline):
            return  # not interested: the steps log on their own
        events.append(type(call.instance).__name__)
        yield

    patchers().wrap_subclasses(fakeml.Estimator, "fit", hook)
    fakeml.Pipeline([fakeml.Linear(), fakeml.SuperChain()]).fit([1])
    assert events == ["Linear", "SuperChain"]


def test_arguments_when_called_through_the_class(fakeml, patchers):
    seen = []

    def hook(call):
        seen.append((call.instance, call.arguments))
        yield

    patchers().wrap(fakeml.Linear, "fit", hook)
    est = fakeml.Linear()
    fakeml.Linear.fit(est, [2], epochs=2)
    assert seen == [(est, {"X": [2], "y": None, "callbacks": None, "epochs": 2})]


def test_module_lazy_attribute_is_deleted_again(patchers):
    module = types.ModuleType("lazy_mod_for_test")

    def lazy(a):
        return a + 1

    module.__getattr__ = lambda name: lazy if name == "lazy" else (_ for _ in ()).throw(AttributeError(name))
    patcher = patchers()
    patcher.wrap(module, "lazy", recorder([]))
    assert "lazy" in vars(module) and module.lazy(1) == 2
    patcher.revert()
    assert "lazy" not in vars(module) and module.lazy is lazy


def test_public_plugin_api_names():
    import autolog.integration as api

    assert api.Patcher is Patcher and api.carry_context is carry_context
    assert api.Call is _patching.Call and api.Session.__name__ == "Session"
    with pytest.raises(AttributeError):
        api.nope  # noqa: B018


# ---------------------------------------------------------------- regressions (review)


def test_user_stop_iteration_reaches_caller_unchanged(fakeml, patchers, recwarn):
    # PEP 479 turns a StopIteration thrown into a generator hook into RuntimeError: the
    # user's own StopIteration (an exhausted data iterator) must still come out as itself
    events = []
    patchers().wrap(fakeml.Boom, "fit", recorder(events))
    error = StopIteration("no more batches")
    with pytest.raises(StopIteration) as caught:
        fakeml.Boom(error).fit([1])
    assert caught.value is error
    assert events[-1] == ("hook", "raised", error)
    assert not [w for w in recwarn if issubclass(w.category, AutologWarning)]


def test_user_stop_iteration_through_a_session_marks_run_failed(fakeml, patchers):
    import autolog
    from autolog.testing import logged_runs

    def hook(call):
        with call.session():
            yield

    patchers().wrap(fakeml.Boom, "fit", hook)
    error = StopIteration()
    with pytest.raises(StopIteration) as caught:
        fakeml.Boom(error).fit([1])
    assert caught.value is error and autolog.active_run() is None
    assert [r.status for r in logged_runs()] == ["FAILED"]


def test_strict_mode_catches_a_hook_that_mutates_the_users_list(fakeml, patchers):
    # MLflow defect 2 (callbacks appended to the user's own list): strict mode -- the test
    # suites of every integration -- fails the hook that does it
    def appends_in_place(call):
        callbacks = call.get_argument("callbacks")
        callbacks.append(lambda epoch: None)
        yield

    patchers("inplace").wrap(fakeml.Linear, "fit", appends_in_place)
    with pytest.raises(_patching.HookProtocolError, match="inplace.*callbacks"):
        fakeml.Linear().fit([1], callbacks=[])
    with pytest.raises(_patching.HookProtocolError):
        fakeml.Linear().fit([1], None, [])  # given positionally


def test_strict_mode_accepts_hooks_that_copy_and_originals_that_mutate(fakeml, patchers):
    seen = []

    def copies(call):
        call.set_argument("callbacks", [*call.get_argument("callbacks"), seen.append])
        yield

    def consumes(X, y=None, callbacks=None, epochs=1):
        for callback in callbacks:
            callback(1)
        X.clear()  # the user's own code may change its own objects
        return X

    fakeml.models.consume = consumes
    patchers().wrap(fakeml.models, "consume", copies)
    user_data, user_callbacks = [1], [print]
    assert fakeml.models.consume(user_data, None, user_callbacks) is user_data
    assert user_data == [] and user_callbacks == [print] and seen == [1]


def test_warnings_as_errors_never_break_the_users_call(fakeml, patchers, lenient_mode, caplog):
    # `python -W error` / pytest's filterwarnings=error must not turn our bug into the user's
    import warnings

    calls = []
    patchers("before").wrap(fakeml.Linear, "fit", failing_before)
    patchers("after").wrap(fakeml.models, "score", failing_after)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = fakeml.Linear()
        fit = fakeml.Linear.__dict__["fit"].__wrapped__

        class Counting(fakeml.Linear):
            def fit(self, X, y=None, callbacks=None, epochs=1):
                calls.append(1)
                return fit(self, X, y, callbacks, epochs)

        patchers("counting").wrap(Counting, "fit", failing_before)
        assert Counting().fit([2]).coef_ == 2.0 and calls == [1]
        assert est.fit([3]) is est
        assert fakeml.models.score([1], [2]) == 1.0
    assert "hook bug" in caplog.text  # still reported, through logging


def test_set_argument_rejects_star_parameters(fakeml, patchers):
    errors = []

    def hook(call):
        for name in ("args", "kwargs"):
            try:
                call.set_argument(name, ())
            except TypeError as exc:
                errors.append(name)
        yield

    def star(a, *args, **kwargs):
        return a, args, kwargs

    fakeml.models.star = star
    patchers().wrap(fakeml.models, "star", hook)
    assert fakeml.models.star(1, 2, 3, k=4) == (1, (2, 3), {"k": 4})
    assert errors == ["args", "kwargs"]


def test_interrupt_inside_a_hook_leaves_no_run_open(fakeml, patchers):
    # Ctrl-C while a later hook prepares: the earlier hook's session must still end its run
    import autolog
    from autolog.testing import logged_runs

    def opens_run(call):
        with call.session():
            yield

    def interrupted(call):
        raise KeyboardInterrupt
        yield  # pragma: no cover

    patchers("first").wrap(fakeml.Linear, "fit", opens_run)
    patchers("second").wrap(fakeml.Linear, "fit", interrupted)
    try:
        fakeml.Linear().fit([1])
    except KeyboardInterrupt:
        active = autolog.active_run()  # the interrupt (and its traceback) still alive here
    else:  # pragma: no cover
        pytest.fail("KeyboardInterrupt swallowed")
    assert active is None
    assert [r.status for r in logged_runs()] == ["FINISHED"]


# ---------------------------------------------------------------- when: the first check


def test_when_predicate_decides_before_anything_else(patchers):
    module = types.ModuleType("metrics_mod")
    calls = []

    def score(y_true, y_pred):
        calls.append((y_true, y_pred))
        return 0.5

    module.score = score
    ours = object()
    events = []
    patcher = patchers()
    patcher.wrap(module, "score", recorder(events), when=lambda args, kwargs: ours in args)

    assert module.score(1, 2) == 0.5  # foreign: the hook never starts
    assert events == [] and calls == [(1, 2)]
    assert module.score(1, ours) == 0.5  # ours: the hook runs around the one original call
    assert [e[1] for e in events] == ["before", "after"] and len(calls) == 2


def test_when_predicate_that_raises_falls_back_to_the_full_path(patchers):
    module = types.ModuleType("metrics_mod2")
    module.score = lambda a: a * 2
    events = []

    def broken(args, kwargs):
        raise RuntimeError("bug in our predicate")

    patcher = patchers()
    patcher.wrap(module, "score", recorder(events), when=broken)
    assert module.score(21) == 42
    assert [e[1] for e in events] == ["before", "after"]


def test_when_gates_only_if_every_hook_on_the_attribute_has_one(patchers):
    module = types.ModuleType("metrics_mod3")
    module.score = lambda a: a
    gated, plain = [], []
    patchers("one").wrap(module, "score", recorder(gated, "gated"), when=lambda a, k: False)
    patchers("two").wrap(module, "score", recorder(plain, "plain"))
    assert module.score(3) == 3
    assert [e[1] for e in plain] == ["before", "after"]
