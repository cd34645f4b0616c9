"""pytest helpers for autolog and for integration authors.

Fixtures (use ``pytest_plugins = ["autolog.testing"]`` in a conftest, or import them):

* ``strict_mode`` -- autolog's own errors raise (``set_strict(True)``) for the test;
* ``lenient_mode`` -- the opposite: errors become one AutologWarning per integration;
* ``memory_store`` -- a brand-new in-memory store (``set_tracking_uri("memory:")``);
* ``autolog_reset`` -- every patch removed and the registry reset after the test.

Helpers: :func:`logged_runs`, :func:`is_patched`, :func:`find_wrapper`, :func:`snapshot_dict`.

:class:`IntegrationContract` is the base test class every integration's tests inherit; its
docstring lists what a subclass provides.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

import autolog
from autolog import _registry
from autolog._errors import AutologWarning, set_strict

__all__ = [
    "ContractError",
    "IntegrationContract",
    "autolog_reset",
    "find_wrapper",
    "is_patched",
    "lenient_mode",
    "logged_runs",
    "memory_store",
    "snapshot_dict",
    "strict_mode",
]


# --------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture
def strict_mode() -> Iterator[None]:
    """Strict mode on for this test: autolog's own errors are raised, not warned."""
    set_strict(True)
    try:
        yield
    finally:
        set_strict(None)


@pytest.fixture
def lenient_mode() -> Iterator[None]:
    """Strict mode off for this test: autolog's errors become one warning per integration."""
    set_strict(False)
    try:
        yield
    finally:
        set_strict(None)


@pytest.fixture
def memory_store() -> Iterator[str]:
    """A fresh, empty in-memory store for this test; yields its URI."""
    autolog.set_tracking_uri("memory:")
    yield "memory:"
    autolog.flush()


@pytest.fixture
def autolog_reset() -> Iterator[None]:
    """After the test: every patch removed, options and registrations forgotten."""
    yield
    _registry.reset()


# --------------------------------------------------------------------------------------------
# helpers


def logged_runs(experiment: str = "*") -> list[Any]:
    """Every run of the current store (oldest first), after flushing pending writes."""
    autolog.flush()
    frame = autolog.search_runs(experiment=experiment)
    ids = list(frame["run_id"]) if len(frame) else []
    return [autolog.get_run(run_id) for run_id in reversed(ids)]


def is_patched(owner: Any, attr: str) -> bool:
    """Whether ``owner.attr`` currently runs autolog hooks."""
    from autolog._patching import is_patched as _is_patched

    return _is_patched(owner, attr)


def find_wrapper(owner: Any, attr: str) -> Any:
    """autolog's wrapper for ``owner.attr`` (even under a foreign wrapper), or None."""
    from autolog._patching import find_wrapper as _find_wrapper

    return _find_wrapper(owner, attr)


def snapshot_dict(owner: Any) -> dict[str, Any]:
    """A shallow copy of ``owner.__dict__``, to compare by identity after a revert."""
    return dict(vars(owner))


def assert_dict_restored(before: dict[str, Any], owner: Any) -> None:
    """Fail unless ``owner.__dict__`` holds exactly the objects of ``before``.

    ``__slotnames__`` is ignored: pickle caches it on classes it has pickled instances of."""
    after = dict(vars(owner))
    after.pop("__slotnames__", None)
    before = {k: v for k, v in before.items() if k != "__slotnames__"}
    assert set(after) == set(before), (
        f"{owner!r}: keys added {sorted(set(after) - set(before))}, "
        f"removed {sorted(set(before) - set(after))}")
    changed = [k for k in before if after[k] is not before[k] and k != "__dict__"]
    assert not changed, f"{owner!r}: attributes not restored: {changed}"


class ContractError(Exception):
    """Raised by the contract through ``failing_fit`` to check exception identity."""


# --------------------------------------------------------------------------------------------
# the contract


class IntegrationContract:
    """Shared checks for one integration. Inherit in a class named ``Test...``.

    A subclass PROVIDES:

    * ``integration: ClassVar[str]`` -- the integration's name (``"sklearn"``).
    * ``patched_targets(self) -> list[tuple[object, str]]`` -- ``(owner, attr)`` pairs that
      are patched while the integration is on (a few representative ones; owners are
      importable classes or modules). The owners' ``__dict__`` (and their subclasses'
      ``__init_subclass__``) must be exactly restored after disable.
    * ``fit(self) -> Any`` -- one top-level training call on tiny data (e.g.
      ``LinearRegression().fit(X, y)``), returning its result. It must log exactly one
      top-level run while the integration is on.
    * ``failing_fit(self, error: BaseException) -> Any`` -- a top-level training call during
      which user code raises ``error`` (from a user subclass's method, an input object, a
      callback...) and lets it propagate out of the patched call.
    * ``nested_fit(self) -> Any`` -- a top-level call that makes other patched calls inside
      (Pipeline steps, a meta-estimator's inner fits, ``super().fit``); it must log exactly
      one top-level run (child runs the integration asks for are fine).
    * ``subprocess_code: ClassVar[str]`` -- Python source that imports the framework and
      makes one top-level training call; run in a fresh interpreter right after
      ``autolog.autolog()`` (enable-before-import), it must log one run.

    A subclass MAY override:

    * ``enable(self, **options)`` -- default ``autolog.autolog(<integration>=options or True)``;
    * ``check_run(self, run)`` -- extra assertions on the run ``fit()`` logged;
    * ``break_hook(self, monkeypatch)`` -- make the integration's own code fail during
      ``fit()``; default: ``Session.__enter__`` raises ``RuntimeError``.

    Every test gets a fresh in-memory store and a reset registry; strict mode is on unless a
    test says otherwise. Test names start with ``test_contract_``; they check: enable -> fit
    logs one run; targets patched; disable (one / all) -> fit logs nothing; enabling twice
    does not double wrap; enable/disable/enable; signature, name, docstring unchanged; owners'
    ``__dict__`` restored exactly; the user's exception reaches the caller as the same object
    (run FAILED); a hook error is one warning when not strict and raised when strict; a nested
    fit logs once; no run left active or RUNNING; a fit inside a user run logs into it;
    patched module functions pickle by reference, results of ``fit()`` (when picklable without
    autolog) round-trip through pickle and cloudpickle; enable-before-import in a subprocess.
    """

    integration: ClassVar[str]
    subprocess_code: ClassVar[str] = ""

    # ---- to provide -------------------------------------------------------------------------
    def patched_targets(self) -> list[tuple[Any, str]]:
        raise NotImplementedError

    def fit(self) -> Any:
        raise NotImplementedError

    def failing_fit(self, error: BaseException) -> Any:
        raise NotImplementedError

    def nested_fit(self) -> Any:
        raise NotImplementedError

    # ---- may override -----------------------------------------------------------------------
    def enable(self, **options: Any) -> None:
        autolog.autolog(**{self.integration: options or True})

    def check_run(self, run: Any) -> None:
        return None

    def break_hook(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from autolog._session import Session

        def broken(self: Any) -> Any:
            raise RuntimeError("autolog contract: injected hook failure")

        monkeypatch.setattr(Session, "__enter__", broken)

    # ---- plumbing ---------------------------------------------------------------------------
    @pytest.fixture(autouse=True)
    def _contract_env(self) -> Iterator[None]:
        _registry.reset()
        set_strict(True)
        autolog.set_tracking_uri("memory:")
        try:
            yield
        finally:
            set_strict(None)
            _registry.reset()
            autolog.flush()

    def _top_runs(self) -> list[Any]:
        return [run for run in logged_runs() if run.parent_id is None]

    def _owners(self) -> list[Any]:
        owners: list[Any] = []
        for owner, _ in self.patched_targets():
            if not any(owner is o for o in owners):
                owners.append(owner)
        return owners

    # ---- the checks -------------------------------------------------------------------------
    def test_contract_enable_fit_logs_run(self) -> None:
        self.enable()
        self.fit()
        runs = self._top_runs()
        assert len(runs) == 1, f"expected one run, got {len(runs)}"
        run = runs[0]
        assert run.tags.get("autolog.integration") == self.integration
        assert run.status == "FINISHED"
        assert autolog.active_run() is None
        self.check_run(run)

    def test_contract_targets_patched(self) -> None:
        self.enable()
        for owner, attr in self.patched_targets():
            assert is_patched(owner, attr), f"{owner!r}.{attr} is not patched"

    def test_contract_disable_fit_logs_nothing(self) -> None:
        self.enable()
        autolog.disable(self.integration)
        self.fit()
        assert logged_runs() == []
        for owner, attr in self.patched_targets():
            assert not is_patched(owner, attr)

    def test_contract_disable_all_fit_logs_nothing(self) -> None:
        self.enable()
        autolog.autolog(disable=True)
        self.fit()
        assert logged_runs() == []

    def test_contract_enable_twice_does_not_double_wrap(self) -> None:
        self.enable()
        counts = {(id(o), a): len(find_wrapper(o, a)._self_slot.handlers) for o, a in self.patched_targets()}
        self.enable()
        autolog.autolog()
        for owner, attr in self.patched_targets():
            wrapper = find_wrapper(owner, attr)
            assert wrapper is not None
            inner = wrapper.__wrapped__
            assert type(inner).__name__ != "AutologWrapper", f"{owner!r}.{attr} wrapped twice"
            assert len(wrapper._self_slot.handlers) == counts[(id(owner), attr)], f"{owner!r}.{attr}"
        self.fit()
        assert len(self._top_runs()) == 1

    def test_contract_enable_disable_enable(self) -> None:
        self.enable()
        autolog.disable(self.integration)
        self.enable()
        self.fit()
        assert len(self._top_runs()) == 1
        autolog.disable()
        autolog.autolog()
        self.enable()
        self.fit()
        assert len(self._top_runs()) == 2

    def test_contract_signature_unchanged(self) -> None:
        def describe(owner: Any, attr: str) -> tuple[Any, ...]:
            value = getattr(owner, attr)
            return (str(inspect.signature(value)), value.__name__, value.__doc__,
                    getattr(value, "__qualname__", None), getattr(value, "__module__", None))

        before = {(id(o), a): describe(o, a) for o, a in self.patched_targets()}
        self.enable()
        for owner, attr in self.patched_targets():
            assert describe(owner, attr) == before[(id(owner), attr)], f"{owner!r}.{attr} changed"

    def test_contract_dict_restored_after_disable(self) -> None:
        owners = self._owners()
        before = [snapshot_dict(o) for o in owners]
        self.enable()
        self.fit()
        autolog.disable()
        for owner, snap in zip(owners, before):
            assert_dict_restored(snap, owner)

    def test_contract_user_exception_identity(self) -> None:
        self.enable()
        error = ContractError("raised by user code")
        with pytest.raises(ContractError) as caught:
            self.failing_fit(error)
        assert caught.value is error
        assert autolog.active_run() is None
        for run in self._top_runs():
            assert run.status == "FAILED", run

    def test_contract_hook_error_contained_when_not_strict(self, monkeypatch: pytest.MonkeyPatch) -> None:
        set_strict(False)
        self.enable()
        self.break_hook(monkeypatch)
        with pytest.warns(AutologWarning) as record:
            result = self.fit()
            self.fit()  # a second failure is not reported again
        assert result is not None
        assert len([w for w in record if issubclass(w.category, AutologWarning)]) == 1
        assert autolog.active_run() is None

    def test_contract_hook_error_raised_when_strict(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.enable()
        self.break_hook(monkeypatch)
        with pytest.raises(Exception) as caught:
            self.fit()
        assert not isinstance(caught.value, ContractError)
        monkeypatch.undo()
        assert autolog.active_run() is None

    def test_contract_nested_fit_logs_once(self) -> None:
        self.enable()
        self.nested_fit()
        assert len(self._top_runs()) == 1

    def test_contract_no_run_leaked(self) -> None:
        self.enable()
        self.fit()
        with pytest.raises(ContractError):
            self.failing_fit(ContractError("boom"))
        self.nested_fit()
        assert autolog.active_run() is None
        for run in logged_runs():
            assert run.status != "RUNNING", f"run {run.id} left running"

    def test_contract_fit_into_user_run(self) -> None:
        self.enable()
        with autolog.start_run("user-run") as run:
            self.fit()
            assert autolog.active_run() is run
        runs = self._top_runs()
        assert [r.id for r in runs] == [run.id]

    def test_contract_pickling(self) -> None:
        import pickle
        from types import ModuleType

        try:
            pickle.dumps(self.fit())  # without autolog: is the result picklable at all?
            result_picklable = True
        except Exception:
            result_picklable = False
        self.enable()
        for owner, attr in self.patched_targets():
            value = getattr(owner, attr)
            again = pickle.loads(pickle.dumps(value))
            if isinstance(owner, ModuleType):
                assert again is value, f"{owner.__name__}.{attr} does not pickle by reference"
            else:
                assert callable(again)
        if result_picklable:
            result = self.fit()
            restored = pickle.loads(pickle.dumps(result))
            assert type(restored) is type(result)
            fit = getattr(result, "fit", None)
            if fit is not None and find_wrapper(type(result), "fit") is not None:
                assert callable(pickle.loads(pickle.dumps(fit)))  # a patched bound method
            try:
                import cloudpickle
            except ImportError:  # pragma: no cover
                return
            assert type(cloudpickle.loads(cloudpickle.dumps(result))) is type(result)

    def test_contract_enable_before_import_subprocess(self, tmp_path: Any) -> None:
        if not self.subprocess_code:
            pytest.skip("no subprocess_code given")
        modules = _registry._states[self.integration].modules or ()
        script = textwrap.dedent(f"""
            import json, sys
            import autolog
            autolog.set_tracking_uri({str(tmp_path / "store")!r})
            before = [m for m in {tuple(modules)!r} if m in sys.modules]
            autolog.autolog()
            imported_by_enable = [m for m in {tuple(modules)!r} if m in sys.modules]
        """) + textwrap.dedent(self.subprocess_code) + textwrap.dedent("""
            autolog.flush()
            frame = autolog.search_runs(experiment="*")
            tags = [autolog.get_run(i).tags.get("autolog.integration") for i in frame["run_id"]]
            print("CONTRACT" + json.dumps({"before": before, "by_enable": imported_by_enable,
                                           "tags": tags}))
        """)
        env = dict(os.environ, AUTOLOG_STRICT="1")
        env.pop("AUTOLOG_DISABLE", None)
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr[-4000:]
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("CONTRACT")][-1]
        result = json.loads(line[len("CONTRACT"):])
        assert result["before"] == [] and result["by_enable"] == [], result
        assert result["tags"].count(self.integration) >= 1, result
