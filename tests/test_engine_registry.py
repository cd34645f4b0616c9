"""autolog() / disable() / status(): discovery, import hooks, config, version gate, env switch."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import autolog
from autolog import _registry
from autolog._errors import AutologWarning, ConfigError
from autolog.integration import Integration, register
from autolog.testing import is_patched, logged_runs

FAKES = Path(__file__).parent / "fakes"
sys.path.insert(0, str(FAKES))

import fakeml_autolog  # noqa: E402  (does not import fakeml)


def _forget_fakeml() -> None:
    for name in [m for m in sys.modules if m == "fakeml" or m.startswith("fakeml.")]:
        del sys.modules[name]


@pytest.fixture(autouse=True)
def fresh_fakeml():
    _forget_fakeml()
    fakeml_autolog.EVENTS.clear()
    yield
    _forget_fakeml()


def test_enable_before_import_patches_on_import():
    register(fakeml_autolog.FakeIntegration)
    autolog.autolog()
    assert "fakeml" not in sys.modules
    assert autolog.status().by_name("fakeml").state == "pending"
    import fakeml

    assert autolog.status().by_name("fakeml").state == "active"
    assert is_patched(fakeml.Linear, "fit")
    fakeml.Linear(alpha=1).fit([1, 2])
    (run,) = logged_runs()
    assert run.params == {"alpha": "1"} and run.tags["autolog.integration"] == "fakeml"


def test_enable_after_import_patches_at_once():
    import fakeml

    register(fakeml_autolog.FakeIntegration)
    autolog.autolog()
    assert is_patched(fakeml.Linear, "fit")


def test_reimported_module_is_patched_again():
    register(fakeml_autolog.FakeIntegration)
    autolog.autolog()
    import fakeml

    first = fakeml.Linear
    _forget_fakeml()
    import fakeml as again

    assert again.Linear is not first and is_patched(again.Linear, "fit")


def test_autolog_imports_no_framework_and_nothing_heavy():
    code = textwrap.dedent("""
        import sys, json
        import autolog
        autolog.autolog()
        heavy = ["sklearn", "pyspark", "numpy", "pandas", "wrapt", "packaging", "importlib.metadata"]
        print(json.dumps([m for m in heavy if m in sys.modules]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_idempotent_and_merging_config():
    import fakeml

    register(fakeml_autolog.FakeIntegration)
    autolog.autolog(log_models=False, extra_tags={"team": "a"})
    autolog.autolog(fakeml={"log_every": 5})
    autolog.autolog()
    config = _registry.current_config("fakeml")
    assert config.log_models is False and config.log_every == 5
    assert config.extra_tags == {"team": "a"}
    assert len(fakeml.Linear.__dict__["fit"]._self_slot.handlers) == 1
    autolog.autolog(fakeml={"log_models": True})  # per-integration beats global
    assert _registry.current_config("fakeml").log_models is True
    assert _registry.current_config("sklearn").log_models is False


def test_extra_tags_reach_managed_runs():
    import fakeml

    register(fakeml_autolog.FakeIntegration)
    autolog.autolog(extra_tags={"team": "ml"})
    fakeml.Linear().fit([1])
    (run,) = logged_runs()
    assert run.tags["team"] == "ml"


@pytest.mark.parametrize("kwargs, match", [
    ({"log_modles": True}, "log_models"),
    ({"nosuchframework": True}, "unknown"),
    ({"log_models": "yes"}, "True or False"),
    ({"extra_tags": ["a"]}, "extra_tags"),
    ({"log_input_examples": True, "log_models": False}, "log_input_examples"),
    ({"sklearn": 3}, "dict of options"),
    ({"disable": "no"}, "disable"),
])
def test_bad_options_raise_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        autolog.autolog(**kwargs)


def test_bad_integration_option_and_rejected_call_changes_nothing():
    register(fakeml_autolog.FakeIntegration)
    autolog.autolog(log_input_examples=True)
    with pytest.raises(ConfigError, match="log_evry"):
        autolog.autolog(fakeml={"log_evry": 2})
    with pytest.raises(ConfigError, match="log_input_examples"):
        autolog.autolog(log_models=False)  # contradicts the earlier call: merged, then checked
    with pytest.raises(ConfigError):
        autolog.autolog(fakeml={"log_every": "often"})
    config = _registry.current_config("fakeml")
    assert config.log_models is True and config.log_every == 1


def test_per_integration_flag_persists_until_turned_on():
    import fakeml

    register(fakeml_autolog.FakeIntegration)
    autolog.autolog(fakeml=False)
    assert not is_patched(fakeml.Linear, "fit")
    autolog.autolog(log_datasets=False)
    assert not is_patched(fakeml.Linear, "fit")
    autolog.autolog(fakeml=True)
    assert is_patched(fakeml.Linear, "fit")


def test_disable_all_and_by_name():
    import fakeml

    register(fakeml_autolog.FakeIntegration)
    register(fakeml_autolog.MetricsIntegration)
    before = dict(vars(fakeml.models))
    autolog.autolog()
    autolog.disable("fakeml")
    assert not is_patched(fakeml.Linear, "fit") and is_patched(fakeml.models, "score")
    autolog.autolog(disable=True)
    assert all(vars(fakeml.models)[k] is v for k, v in before.items())
    assert autolog.status().by_name("fakemetrics").state == "disabled"
    autolog.autolog()
    assert is_patched(fakeml.models, "score") and not is_patched(fakeml.Linear, "fit")
    with pytest.raises(ConfigError):
        autolog.disable("nope")


def test_two_integrations_stack_on_one_function():
    import fakeml

    register(fakeml_autolog.FakeIntegration)
    register(fakeml_autolog.MetricsIntegration)
    autolog.autolog()
    fakeml.models.train({"a": 1}, [1])
    assert ("metrics", "train", False) in fakeml_autolog.EVENTS
    autolog.disable("fakemetrics")
    fakeml.models.train({"a": 1}, [1])
    assert len(logged_runs()) == 2  # fakeml's own hook survived the other's removal


def test_env_disable(monkeypatch):
    import fakeml

    register(fakeml_autolog.FakeIntegration)
    monkeypatch.setenv("AUTOLOG_DISABLE", "FakeML, other")
    autolog.autolog()
    assert not is_patched(fakeml.Linear, "fit")
    row = autolog.status().by_name("fakeml")
    assert row.state == "disabled" and row.detail == "AUTOLOG_DISABLE"
    monkeypatch.setenv("AUTOLOG_DISABLE", "*")
    autolog.autolog()
    assert not is_patched(fakeml.Linear, "fit")
    monkeypatch.delenv("AUTOLOG_DISABLE")
    autolog.autolog()
    assert is_patched(fakeml.Linear, "fit")


def _fake_dist(root: Path, name: str, version: str, entry_points: str = "") -> None:
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    if entry_points:
        (info / "entry_points.txt").write_text(entry_points)


def test_version_gate_below_minimum(tmp_path, monkeypatch):
    _fake_dist(tmp_path, "fakeml-dist", "1.5")
    monkeypatch.syspath_prepend(str(tmp_path))
    import fakeml
    monkeypatch.setattr(fakeml, "__version__", "1.5")  # as a real package: both agree

    register(fakeml_autolog.VersionedIntegration)
    with pytest.warns(AutologWarning, match="not supported"):
        autolog.autolog()
    assert not is_patched(fakeml.Linear, "fit")
    row = autolog.status().by_name("fakever")
    assert row.state == "unsupported" and row.version == "1.5"
    _forget_fakeml()
    import fakeml  # noqa: F811  (import again: no second warning)

    autolog.autolog()


def test_version_gate_above_tested(tmp_path, monkeypatch):
    _fake_dist(tmp_path, "fakeml-dist", "3.1.0")
    monkeypatch.syspath_prepend(str(tmp_path))
    import fakeml
    monkeypatch.setattr(fakeml, "__version__", "3.1.0")  # as a real package: both agree

    class Newer(fakeml_autolog.VersionedIntegration):
        name = "fakenewer"
        tested_up_to = "3.0"

    register(Newer)
    with pytest.warns(AutologWarning, match="newer than"):
        autolog.autolog()
    assert is_patched(fakeml.Linear, "fit")
    autolog.autolog(disable=True)
    autolog.autolog()  # warned once per integration, not per call
    row = autolog.status().by_name("fakenewer")
    assert row.state == "active" and "newer" in row.detail


def test_version_gate_reads_the_frameworks_own_version(monkeypatch):
    # no distribution metadata at all: the imported module's __version__ decides
    import fakeml

    monkeypatch.setattr(fakeml, "__version__", "1.4.2")

    class NoMetadata(fakeml_autolog.VersionedIntegration):
        name = "fakenometa"
        requires = "fakeml-not-installed>=2.0"

    register(NoMetadata)
    with pytest.warns(AutologWarning, match="1.4.2 is not supported"):
        autolog.autolog()
    assert not is_patched(fakeml.Linear, "fit")
    assert autolog.status().by_name("fakenometa").state == "unsupported"


def test_silent_hides_version_warning(tmp_path, monkeypatch, recwarn):
    _fake_dist(tmp_path, "fakeml-dist", "1.0")
    monkeypatch.syspath_prepend(str(tmp_path))
    import fakeml
    monkeypatch.setattr(fakeml, "__version__", "1.0")  # as a real package: both agree

    register(fakeml_autolog.VersionedIntegration)
    autolog.autolog(silent=True)
    assert not [w for w in recwarn if issubclass(w.category, AutologWarning)]


def test_entry_point_discovery(tmp_path, monkeypatch):
    _fake_dist(tmp_path, "fakeml-plugin", "0.1",
               "[console_scripts]\nx = y:z\n\n[autolog.integrations]\nfakeml = fakeml_autolog:FakeIntegration\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    autolog.autolog(fakeml={"log_every": 2})  # a plugin's name is accepted as an option
    assert autolog.status().by_name("fakeml").source == "entry point"
    import fakeml

    fakeml.Linear().fit([1])
    assert len(logged_runs()) == 1


def test_status_not_installed_and_failed(lenient_mode):
    class Missing(fakeml_autolog.FakeIntegration):
        name = "missing"
        modules = ("no_such_module_xyz",)
        requires = "no-such-dist-xyz>=1"

    register(Missing)
    register(fakeml_autolog.BrokenInstall)
    autolog.autolog()
    with pytest.warns(AutologWarning, match="half way"):
        import fakeml
    table = autolog.status()
    assert table.by_name("missing").state == "not installed"
    broken = table.by_name("broken")
    assert broken.state == "failed" and "half way" in broken.detail
    assert not is_patched(fakeml.Linear, "fit")  # partial install reverted
    assert "integration" in str(table) and "sklearn" in repr(table)


def test_install_error_raises_in_strict_mode():
    import fakeml  # noqa: F401

    register(fakeml_autolog.BrokenInstall)
    with pytest.raises(RuntimeError, match="half way"):
        autolog.autolog()


def test_install_error_on_import_does_not_break_import(lenient_mode):
    register(fakeml_autolog.BrokenInstall)
    autolog.autolog()
    with pytest.warns(AutologWarning):
        import fakeml
    assert fakeml.Linear().fit([2]).coef_ == 2.0


def test_integration_config_property():
    register(fakeml_autolog.FakeIntegration)
    autolog.autolog(fakeml={"log_every": 7})
    assert fakeml_autolog.FakeIntegration().config.log_every == 7


def test_register_rejects_non_integrations():
    with pytest.raises(TypeError):
        register(object)  # type: ignore[arg-type]


def test_builtins_listed_without_importing_them():
    before = set(sys.modules)
    table = autolog.status()
    names = [row.name for row in table]
    assert names[:2] == ["sklearn", "pyspark"]
    assert "pyspark" not in sys.modules or "pyspark" in before


def test_import_hook_leaves_unwatched_modules_alone():
    from autolog import _importhook

    register(fakeml_autolog.FakeIntegration)
    autolog.autolog()
    assert _importhook.is_watched("fakeml") and not _importhook.is_watched("json")


# ---------------------------------------------------------------- imports from several threads


def _start_slow_import():
    import importlib
    import threading

    sys.modules.pop("fakeslow", None)
    fakeml_autolog.SLOW_IMPORT_STARTED.clear()
    fakeml_autolog.SLOW_IMPORT_GATE.clear()
    errors = []

    def target():
        try:
            importlib.import_module("fakeslow")
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    assert fakeml_autolog.SLOW_IMPORT_STARTED.wait(10)  # fakeslow is in sys.modules, half run
    return thread, errors


def _finish_slow_import(thread, errors):
    from autolog import _importhook

    fakeml_autolog.SLOW_IMPORT_GATE.set()
    thread.join(30)
    assert not thread.is_alive() and not errors
    _importhook.join_waiters()


@pytest.fixture
def forget_fakeslow():
    yield
    fakeml_autolog.SLOW_IMPORT_GATE.set()
    sys.modules.pop("fakeslow", None)


def test_autolog_while_another_thread_is_importing_the_framework(forget_fakeslow):
    # enabling must neither patch the half-imported module nor block on the other import
    # (it used to install from the partial module: AttributeError, or a 30 s stall when the
    # install imported the framework), and the framework is patched once its import completes
    register(fakeml_autolog.SlowIntegration)
    thread, errors = _start_slow_import()
    try:
        autolog.autolog()
    finally:
        _finish_slow_import(thread, errors)
    import fakeslow

    assert is_patched(fakeslow.Model, "fit")
    fakeslow.Model().fit([1, 2])
    (run,) = logged_runs()
    assert run.params == {"n": "2"}


def test_lazy_submodule_half_imported_by_another_thread(forget_fakeslow):
    # install() asks for a module another thread is importing: patch it once it is complete
    register(fakeml_autolog.LazySubmoduleIntegration)
    thread, errors = _start_slow_import()
    try:
        autolog.autolog()
        import fakeml  # noqa: F401  (installs fakelazy: on_import("fakeslow") mid-import)
    finally:
        _finish_slow_import(thread, errors)
    import fakeslow

    assert is_patched(fakeslow.Model, "fit")


def test_framework_imported_from_many_threads_at_once():
    import threading

    register(fakeml_autolog.FakeIntegration)
    autolog.autolog()
    n = 8
    barrier = threading.Barrier(n)
    errors = []

    def work(i):
        try:
            barrier.wait(10)
            if i % 2:
                autolog.autolog()  # enabling again from another thread changes nothing
            import fakeml
            from fakeml.models import Linear

            assert Linear is fakeml.Linear
            Linear(worker=i).fit([i])
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    import fakeml

    assert len(fakeml.Linear.__dict__["fit"]._self_slot.handlers) == 1
    runs = logged_runs()
    assert sorted(int(r.params["worker"]) for r in runs) == list(range(n))
    assert all(r.status == "FINISHED" for r in runs)


def test_version_warning_once_per_process(tmp_path, monkeypatch):
    # MLflow defect 11: the unsupported-version warning came back in every notebook cell
    import warnings

    _fake_dist(tmp_path, "fakeml-dist", "1.5")
    monkeypatch.syspath_prepend(str(tmp_path))
    import fakeml
    monkeypatch.setattr(fakeml, "__version__", "1.5")  # as a real package: both agree

    register(fakeml_autolog.VersionedIntegration)
    with pytest.warns(AutologWarning, match="not supported"):
        autolog.autolog()
    with warnings.catch_warnings(record=True) as later:
        warnings.simplefilter("always")
        autolog.autolog()  # the cell run again
        autolog.disable()
        autolog.autolog(log_models=False)
        register(fakeml_autolog.VersionedIntegration)  # the registering cell run again too
        autolog.autolog()
        _forget_fakeml()
        import fakeml  # noqa: F401,F811  (a re-import fires the hook again)
    assert not [w for w in later if issubclass(w.category, AutologWarning)]
    assert autolog.status().by_name("fakever").state == "unsupported"


def test_import_while_registry_is_busy_is_patched_later(monkeypatch):
    # the post-import hook used to wait 30 s for a busy registry and then skip patching for
    # good; now the import goes on and the install follows once the registry is free
    import importlib
    import threading

    from autolog import _importhook

    register(fakeml_autolog.FakeIntegration)
    autolog.autolog()
    monkeypatch.setattr(_registry, "_BUSY_TIMEOUT", 0.05)
    imported = []
    with _registry._lock:  # e.g. another thread's install waiting for this very import
        thread = threading.Thread(target=lambda: imported.append(importlib.import_module("fakeml")))
        thread.start()
        thread.join(30)
        assert imported and not thread.is_alive()  # the user's import was not held up
    _importhook.join_waiters()
    assert is_patched(imported[0].Linear, "fit")
    assert autolog.status().by_name("fakeml").state == "active"


def test_on_import_of_the_module_being_imported_by_this_thread_applies_at_once():
    # install() runs inside the trigger's import; asking for that same module must patch it
    # before the user's `import` returns (not later from a helper thread)
    import fakeml_autolog as fa

    class SelfTrigger(Integration):
        name = "selftrigger"
        modules = ("fakeml",)

        def install(self, patcher):
            patcher.on_import("fakeml", lambda module: patcher.wrap(module.Linear, "fit", fa._slow_fit_hook))

    register(SelfTrigger)
    autolog.autolog()
    import fakeml

    assert is_patched(fakeml.Linear, "fit")  # no join_waiters(): synchronous


def test_autolog_again_while_a_watched_import_runs_in_another_thread(forget_fakeslow):
    # the import goes through our loader (enabled before it started): it installs on its
    # own when done, exactly once; enabling again meanwhile neither installs early nor twice
    register(fakeml_autolog.SlowIntegration)
    autolog.autolog()
    thread, errors = _start_slow_import()
    try:
        autolog.autolog(log_models=False)
        assert autolog.status().by_name("fakeslow").state == "pending"
    finally:
        _finish_slow_import(thread, errors)
    import fakeslow

    assert is_patched(fakeslow.Model, "fit")
    assert len(fakeslow.Model.__dict__["fit"]._self_slot.handlers) == 1
