"""Which integrations exist, their configuration, and turning them on and off.

``autolog()`` validates and merges options, then for each enabled integration watches its
trigger modules (our own post-import hook: cheap, imports nothing) and installs it right away
if one is already imported. Installing = version gate from distribution metadata, then
``Integration.install(patcher)``; disabling = ``patcher.revert()``.

Nothing heavy is imported here: the engine (wrapt), packaging and importlib.metadata are
imported when a framework gets patched or when ``status()`` is asked for.
"""

from __future__ import annotations

import os
import sys
from _thread import RLock

from autolog import _importhook
from autolog._config import (
    UNSET,
    check_combination,
    env_disabled,
    is_mapping,
    resolve,
    validate_options,
)
from autolog._errors import AutologWarning, ConfigError, is_strict

# typing / collections / types are not imported at run time: `autolog()` must stay cheap
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import ModuleType
    from typing import Any

    from autolog._config import Config

__all__ = ["autolog", "disable", "register", "status"]

ENTRY_POINT_GROUP = "autolog.integrations"

_lock = RLock()  # _thread: `threading` costs ~2 ms to import
_BUSY_TIMEOUT = 10.0  # seconds a post-import hook waits for the registry before deferring


class _State:
    """Everything the registry knows about one integration."""

    def __init__(self, name: str, source: str, target: Any, modules: tuple[str, ...] | None,
                 distribution: str | None) -> None:
        self.name = name
        self.source = source  # "builtin" | "entry point" | "registered"
        self.target = target  # import string "pkg.mod:Class" or the class itself
        self.modules = modules
        self.distribution = distribution
        self.cls: type | None = target if isinstance(target, type) else None
        self.given: dict[str, Any] = {}  # per-integration options, merged over calls
        self.enabled = False
        self.installed = False
        self.installing = False
        self.instance: Any = None
        self.patcher: Any = None
        self.trigger: Any = None  # the module object the install was made for
        self.error: str | None = None
        self.unsupported: str | None = None
        self.version_warned = False
        self.owner: Any = None  # autolog._patching.Owner, created with the engine
        self.config: Config = resolve({}, {}, {})


_states: dict[str, _State] = {}
_global_given: dict[str, Any] = {}
_globally_on = False
_entry_points_scanned = False


def _init_builtins() -> None:
    from autolog.integrations import BUILTINS

    for name, builtin in BUILTINS.items():
        if name not in _states:
            _states[name] = _State(name, "builtin", builtin.import_string, tuple(builtin.modules),
                                   builtin.distribution)


_init_builtins()


# --------------------------------------------------------------------------------------------
# reporting


def _warn(state: _State, message: str) -> None:
    if state.config.get("silent"):
        return
    import warnings

    try:
        warnings.warn(AutologWarning(f"autolog: {message}"), stacklevel=4)
    except Exception:  # warnings turned into errors: never fail autolog() or an import for it
        import logging

        logging.getLogger("autolog").warning("autolog: %s", message)


def _report(state: _State, exc: BaseException, context: str) -> None:
    """Our exception while handling ``state``: warning once, or raised in strict mode."""
    if is_strict():
        raise exc
    from autolog._patching import report

    report(_owner(state), exc, context)


def _owner(state: _State) -> Any:
    if state.owner is None:
        from autolog._patching import Owner

        state.owner = Owner(state.name, state.config)
    return state.owner


# --------------------------------------------------------------------------------------------
# discovery: entry points (read straight from dist-info: importlib.metadata is slow to import)


def _scan_entry_points() -> list[tuple[str, str, str]]:
    """``(name, "module:attr", distribution)`` for each ``autolog.integrations`` entry point
    found in ``*.dist-info`` / ``*.egg-info`` directories on ``sys.path`` (first wins)."""
    found: list[tuple[str, str, str]] = []
    seen_dists: set[str] = set()
    stdlib = os.path.dirname(os.__file__)
    skip = {stdlib, os.path.join(stdlib, "lib-dynload")}  # not site-packages below it
    needle = ENTRY_POINT_GROUP.encode()
    for entry in sys.path:
        directory = entry or os.getcwd()
        if directory in skip or directory.endswith(".zip"):
            continue  # the standard library holds no plugins
        try:
            with os.scandir(directory) as it:
                names = [e.name for e in it if e.name.endswith((".dist-info", ".egg-info"))]
        except OSError:
            continue
        for name in sorted(names):
            dist = name.rsplit(".", 1)[0].split("-", 1)[0].lower().replace("_", "-")
            if dist in seen_dists:
                continue
            seen_dists.add(dist)
            # raw os calls: this runs for every installed distribution, in autolog()
            try:
                fd = os.open(os.path.join(directory, name, "entry_points.txt"), os.O_RDONLY)
            except OSError:
                continue
            try:
                data = os.read(fd, 1 << 20)
            finally:
                os.close(fd)
            if needle not in data:
                continue
            text = data.decode("utf-8", "replace")
            found.extend((ep, value, dist) for ep, value in _parse_group(text, ENTRY_POINT_GROUP))
    return found


def _parse_group(text: str, group: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            inside = line[1:-1].strip() == group
            continue
        if inside and "=" in line:
            key, _, value = line.partition("=")
            out.append((key.strip(), value.split("[", 1)[0].strip()))
    return out


def _ensure_entry_points() -> None:
    global _entry_points_scanned
    if _entry_points_scanned:
        return
    _entry_points_scanned = True
    for name, value, dist in _scan_entry_points():
        if name in _states:
            continue  # builtins and explicit registrations win
        _states[name] = _State(name, "entry point", value, None, dist)


def _load_class(state: _State) -> type:
    if state.cls is None:
        module_name, _, attr = str(state.target).partition(":")
        from importlib import import_module

        obj: Any = import_module(module_name)
        for part in filter(None, attr.split(".")):
            obj = getattr(obj, part)
        if not isinstance(obj, type):
            raise TypeError(f"{state.target} is not an Integration class")
        if getattr(obj, "name", state.name) != state.name:
            raise TypeError(f"{state.target}.name is {obj.name!r}, registered as {state.name!r}")
        state.cls = obj
    if state.modules is None:
        state.modules = tuple(state.cls.modules)
    return state.cls


def register(cls: type) -> None:
    """Make an Integration subclass known (as if found through an entry point).

    If ``autolog()`` is on, the integration is enabled at once (its options merge as usual).
    Registering a second class under a name already used replaces the first (disabling it).
    Raises TypeError for something that is not an Integration class.
    """
    from autolog.integration import Integration

    if not (isinstance(cls, type) and issubclass(cls, Integration)):
        raise TypeError(f"register() needs an Integration subclass, got {cls!r}")
    name = cls.name
    with _lock:
        old = _states.get(name)
        if old is not None:
            _turn_off(old)
        state = _State(name, "registered", cls, tuple(cls.modules), _distribution(cls))
        if old is not None:
            # a notebook cell run again: keep the options and the once-per-process warnings
            state.given = old.given
            state.version_warned = old.version_warned
            state.owner = old.owner
        _states[name] = state
        _apply()


def _distribution(cls: type) -> str | None:
    requires = getattr(cls, "requires", None)
    if not requires:
        return None
    import re

    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requires)
    return match.group(1) if match else None


# --------------------------------------------------------------------------------------------
# autolog() / disable()


def autolog(
    *,
    disable: bool = False,
    exclusive: bool = UNSET,
    silent: bool = UNSET,
    log_models: bool = UNSET,
    log_datasets: bool = UNSET,
    log_input_examples: bool = UNSET,
    log_model_signatures: bool = UNSET,
    extra_tags: Mapping[str, Any] | None = UNSET,
    **integrations: bool | Mapping[str, Any],
) -> None:
    """Turn on automatic logging for every supported framework that is installed.

    Frameworks imported later are patched when they are imported; enabling never imports a
    framework. Options (defaults): ``exclusive=False`` (don't log into runs the user
    started), ``silent=False`` (no autolog warnings), ``log_models=True``,
    ``log_datasets=True``, ``log_input_examples=False`` (needs log_models),
    ``log_model_signatures=True``, ``extra_tags=None`` (tags added to managed runs).
    Per framework, a keyword named after the integration: ``sklearn=False`` turns it off,
    ``sklearn={"max_tuning_runs": 20, "log_models": False}`` sets its options (they override
    the global ones for that framework).

    Repeated calls merge: an option not given keeps the value an earlier call set, and nothing
    is patched twice. ``disable=True`` turns everything off and removes every patch (options
    given alongside are still remembered); the next call without it turns things back on.
    ``AUTOLOG_DISABLE=sklearn,pyspark`` (or ``*``) keeps integrations off.

    Raises ConfigError, before changing anything, for an unknown option or integration name,
    a value of the wrong type, or contradicting options (``log_input_examples=True`` with
    ``log_models=False``).
    """
    given = {
        key: value
        for key, value in (
            ("exclusive", exclusive), ("silent", silent), ("log_models", log_models),
            ("log_datasets", log_datasets), ("log_input_examples", log_input_examples),
            ("log_model_signatures", log_model_signatures), ("extra_tags", extra_tags),
        )
        if value is not UNSET
    }
    if not isinstance(disable, bool):
        raise ConfigError(f"autolog(): disable must be True or False, got {disable!r}")
    validate_options("autolog()", given, {})
    with _lock:
        per = _validate_integrations(integrations)
        new_global = {**_global_given, **given}
        _check_all(new_global, per)
        _commit(new_global, per, on=not disable)


def disable(*names: str) -> None:
    """Turn integrations off and remove their patches; with no names, all of them
    (``autolog(disable=True)``). A named integration stays off across later ``autolog()``
    calls until it is turned on again (``autolog(sklearn=True)``). Unknown names raise
    ConfigError.
    """
    if not names:
        autolog(disable=True)
        return
    with _lock:
        per = _validate_integrations({name: False for name in names})
        _commit(dict(_global_given), per, on=_globally_on)


def _validate_integrations(integrations: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    per: dict[str, dict[str, Any]] = {}
    for name, value in integrations.items():
        if name not in _states:
            _ensure_entry_points()
        state = _states.get(name)
        if state is None:
            from autolog._config import GLOBAL_DEFAULTS, _suggest

            known = sorted(_states)
            hint = _suggest(name, [*known, *GLOBAL_DEFAULTS, "disable"])
            raise ConfigError(f"autolog(): unknown option or integration {name!r}{hint}; "
                              f"options: {', '.join(['disable', *GLOBAL_DEFAULTS])}; "
                              f"integrations: {', '.join(known)}")
        if isinstance(value, bool):
            per[name] = {"disable": not value}
        elif is_mapping(value):
            options = dict(value)
            validate_options(f"autolog({name}=...)", options, _integration_defaults(state, strict_load=True))
            options.setdefault("disable", False)
            per[name] = options
        else:
            raise ConfigError(f"autolog(): {name} must be True, False or a dict of options, got {value!r}")
    return per


def _integration_defaults(state: _State, strict_load: bool = False) -> dict[str, Any]:
    try:
        cls = _load_class(state)
    except Exception as exc:
        if strict_load:
            # options cannot be checked against a class that does not load: say so once
            _report(state, exc, "to load")
        return {}
    return dict(getattr(cls, "options", {}) or {})


def _check_all(new_global: dict[str, Any], per: dict[str, dict[str, Any]]) -> None:
    check_combination("autolog()", resolve(new_global, {}, {}))
    for state in _states.values():
        options = {**state.given, **per.get(state.name, {})}
        defaults = _loaded_defaults(state)
        if options or defaults:
            check_combination(f"autolog({state.name}=...)", resolve(new_global, defaults, options))


def _commit(new_global: dict[str, Any], per: dict[str, dict[str, Any]], *, on: bool) -> None:
    global _global_given, _globally_on
    _global_given = new_global
    _globally_on = on
    for name, options in per.items():
        _states[name].given.update(options)
    if on:
        _ensure_entry_points()
    _apply()


def _loaded_defaults(state: _State) -> dict[str, Any]:
    """The integration's own option defaults, if its class is loaded (never loads it)."""
    return dict(getattr(state.cls, "options", None) or {})


def _resolve_config(state: _State) -> Config:
    return resolve(_global_given, _loaded_defaults(state), state.given)


def _apply() -> None:
    off_env = env_disabled()
    for state in list(_states.values()):
        state.config = _resolve_config(state)
        if state.owner is not None:
            state.owner.config = state.config
        wanted = (_globally_on and not state.given.get("disable", False)
                  and state.name.lower() not in off_env and "*" not in off_env)
        if wanted:
            _turn_on(state)
        else:
            _turn_off(state)


def _turn_on(state: _State) -> None:
    state.enabled = True
    if state.modules is None:
        try:
            _load_class(state)
        except Exception as exc:
            state.error = f"{type(exc).__name__}: {exc}"
            _report(state, exc, "to load")
            return
    for module_name in state.modules or ():
        _importhook.watch(module_name, _on_import)
    if not state.installed:
        for module_name in state.modules or ():
            # a module another thread is still importing is installed when its import is done
            module = _importhook.ready(module_name, _on_import)
            if module is not None:
                _install(state, module)
                break


def _turn_off(state: _State) -> None:
    state.enabled = False
    if state.installed and state.patcher is not None:
        state.patcher.revert()
    state.installed = False
    state.instance = None
    state.patcher = None


def _on_import(module: ModuleType) -> None:
    """Post-import hook: install the integrations this module triggers. Never raises into
    the user's import except in strict mode."""
    # another thread may hold the lock while it waits for this very import (its install
    # imports this module): never deadlock the user's import -- let it finish and install
    # from a helper thread once the registry is free
    if not _lock.acquire(timeout=_BUSY_TIMEOUT):
        _importhook.spawn(_install_later, module)
        return
    try:
        _install_triggered(module)
    finally:
        _lock.release()


def _install_later(module: ModuleType) -> None:
    try:
        with _lock:
            if sys.modules.get(module.__name__) is module:
                _install_triggered(module)
    except Exception:  # a helper thread: nobody to raise to (the error is in status())
        import logging

        logging.getLogger("autolog").warning("autolog: patching %s failed", module.__name__,
                                             exc_info=True)


def _install_triggered(module: ModuleType) -> None:
    try:
        for state in list(_states.values()):
            if not state.enabled or state.installing or module.__name__ not in (state.modules or ()):
                continue
            if state.installed:
                if state.trigger is None or state.trigger.__name__ != module.__name__ \
                        or state.trigger is module:
                    continue
                # the trigger module was imported again (new classes): patch those
                state.patcher.revert()
                state.installed = False
            _install(state, module)
    except Exception as exc:  # pragma: no cover - _install reports its own errors
        if is_strict():
            raise
        import logging

        logging.getLogger("autolog").debug("post-import hook failed", exc_info=exc)


def _install(state: _State, trigger: ModuleType | None = None) -> None:
    state.installing = True
    patcher = None
    try:
        cls = _load_class(state)
        if not _version_ok(state, cls):
            return
        from autolog._patching import Patcher

        state.config = _resolve_config(state)
        owner = _owner(state)
        owner.config = state.config
        instance = cls()
        instance._autolog_owner = owner
        owner.integration = instance
        patcher = Patcher(owner)
        instance.install(patcher)
        state.patcher, state.instance, state.trigger = patcher, instance, trigger
        state.installed, state.error = True, None
    except Exception as exc:
        if patcher is not None:
            patcher.revert()
        state.error = f"{type(exc).__name__}: {exc}"
        _report(state, exc, "to install")
    finally:
        state.installing = False


# --------------------------------------------------------------------------------------------
# versions


def _installed_version(distribution: str | None) -> str | None:
    if not distribution:
        return None
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _imported_version(state: _State) -> str | None:
    """The framework's own ``__version__`` (it is imported when we install: free to read)."""
    for module_name in state.modules:
        version = getattr(sys.modules.get(module_name), "__version__", None)
        if isinstance(version, str):
            return version
    return None


def _release(version: str) -> tuple[int, ...] | None:
    """Leading numeric release of a version string ("1.5.2rc1" -> (1, 5, 2)), None if none."""
    text = version.strip().lstrip("v")
    parts: list[int] = []
    for piece in text.split("."):
        digits = ""
        for char in piece:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        parts.append(int(digits))
        if len(digits) != len(piece):  # "2rc1": the release ends inside this piece
            break
    return tuple(parts) or None


def _simple_minimum(requires: str) -> tuple[int, ...] | None:
    """The bound of a plain ``dist>=X.Y`` requirement; None for anything richer."""
    name, sep, bound = requires.partition(">=")
    if not sep or not name.strip() or any(c in name for c in "<>=!~;[,") or "," in bound:
        return None
    bound = bound.strip()
    release = _release(bound)
    # only a purely numeric bound is "simple"; anything else goes through packaging
    return release if release and ".".join(map(str, release)) == bound else None


def _version_ok(state: _State, cls: type) -> bool:
    """Gate on the installed version: below ``requires`` -> one warning, off; newer than
    ``tested_up_to`` -> one warning, on. Unknown version -> on.

    Runs while the user's import of the framework is in progress, so the common case (a
    ``__version__`` attribute and a plain ``>=`` bound) avoids importing importlib.metadata
    and packaging, which together cost tens of milliseconds."""
    requires = getattr(cls, "requires", None)
    distribution = state.distribution or _distribution(cls)
    version = _imported_version(state) or _installed_version(distribution)
    if version is None:
        return True
    release = _release(version)
    minimum = _simple_minimum(requires) if requires else ()
    if release is not None and minimum is not None:
        supported = release >= minimum
    else:
        supported = _satisfies(version, requires)
        if supported is None:
            return True
    if not supported:
        state.unsupported = f"{distribution} {version} is not supported (needs {requires})"
        if not state.version_warned:
            state.version_warned = True
            _warn(state, f"{state.unsupported}; the {state.name} integration stays off.")
        return False
    state.unsupported = None
    tested = getattr(cls, "tested_up_to", None)
    tested_release = _release(tested) if tested else None
    if tested_release and release is not None:
        newer = release[: len(tested_release)] > tested_release
    else:
        newer = bool(tested) and _newer_than_str(version, tested)
    if newer and not state.version_warned:
        state.version_warned = True
        _warn(state, f"{distribution} {version} is newer than the newest version the {state.name} "
                     f"integration was tested with ({tested}); it is on, but may miss things.")
    return True


def _satisfies(version: str, requires: str | None) -> bool | None:
    """Full PEP 440 check through packaging; None when the version cannot be parsed."""
    from packaging.requirements import Requirement
    from packaging.version import InvalidVersion, Version

    try:
        parsed = Version(version)
    except InvalidVersion:
        return None
    return not requires or Requirement(requires).specifier.contains(parsed, prereleases=True)


def _newer_than_str(version: str, tested: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        return _newer_than(Version(version), tested)
    except InvalidVersion:
        return False


def _newer_than(version: Any, tested: str) -> bool:
    from packaging.version import Version

    limit = Version(tested).release
    return version.release[: len(limit)] > limit


# --------------------------------------------------------------------------------------------
# status() (the table types live in _status: building them costs import time)


def status() -> Any:
    """Report every known integration (builtin, entry point, registered): its state --
    ``active`` (patched), ``pending`` (on, framework installed but not imported yet),
    ``disabled``, ``not installed``, ``unsupported`` (installed version below the supported
    range), ``failed`` (could not load or install; see detail) -- and the installed version.
    Returns a :class:`autolog._status.StatusTable` (a list of rows that prints as a table).
    Never imports a framework; never raises for a broken integration.
    """
    from autolog._status import build_status

    with _lock:
        _ensure_entry_points()
        return build_status(list(_states.values()))


# --------------------------------------------------------------------------------------------
# test support


def reset() -> None:
    """Turn everything off, remove every patch, forget options, registrations and warnings
    (tests call it between cases). Entry points are scanned again on next use."""
    global _global_given, _globally_on, _entry_points_scanned
    with _lock:
        for state in list(_states.values()):
            _turn_off(state)
            for module_name in state.modules or ():
                _importhook.unwatch(module_name, _on_import)
        _states.clear()
        _global_given = {}
        _globally_on = False
        _entry_points_scanned = False
        _init_builtins()


def current_config(name: str) -> Config:
    """Resolved options of integration ``name`` as hooks would see them (KeyError if unknown)."""
    with _lock:
        return _resolve_config(_states[name])
