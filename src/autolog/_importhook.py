"""Post-import hooks: run a callback right after a watched module finishes importing.

Same mechanism as ``wrapt.register_post_import_hook`` (a finder at the front of
``sys.meta_path`` that chains the real loader), written here because importing wrapt costs
several times the whole ``autolog()`` budget (it imports asyncio and importlib.metadata);
wrapt itself is only imported once a framework is being patched.

Differences that matter to the engine: a callback fires on *every* import of the module (a
module removed from ``sys.modules`` and imported again is patched again), callbacks can be
removed, and the finder costs one dict lookup for modules nobody watches.

Imports running in other threads: a module is in ``sys.modules`` while its body still runs.
:func:`ready` tells a caller whether it may use the module now, and otherwise makes sure the
callback runs once that import completes -- never patching a half-initialised module and never
blocking on another thread's import (which could deadlock with our own locks).
"""

from __future__ import annotations

import sys
from _thread import RLock, get_ident
from _thread import _local as ThreadLocal

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: this module is on the `autolog()` path
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any

__all__ = ["watch", "unwatch", "is_watched", "ready", "spawn", "join_waiters"]

_lock = RLock()  # _thread, not threading: cheaper to import
_callbacks: dict[str, list[Callable[[ModuleType], None]]] = {}
_local = ThreadLocal()
_executing: set[str] = set()  # modules whose body runs through our loader (callbacks will fire)
_waiters: list[Any] = []  # helper threads waiting for imports that bypassed our loader


def watch(name: str, callback: Callable[[ModuleType], None]) -> None:
    """Call ``callback(module)`` after each future import of module ``name``.

    Does not import anything and does not fire for an already imported module (the caller
    checks ``sys.modules``). Registering the same callback twice is a no-op. Exceptions from
    callbacks propagate into the import: callers catch their own.
    """
    with _lock:
        _install_finder()
        hooks = _callbacks.setdefault(name, [])
        if callback not in hooks:
            hooks.append(callback)


def unwatch(name: str, callback: Callable[[ModuleType], None]) -> None:
    """Remove a callback registered with :func:`watch` (missing ones are ignored)."""
    with _lock:
        hooks = _callbacks.get(name)
        if hooks and callback in hooks:
            hooks.remove(callback)
            if not hooks:
                del _callbacks[name]


def is_watched(name: str) -> bool:
    """Whether any callback waits for module ``name``."""
    return name in _callbacks


def ready(name: str, callback: Callable[[ModuleType], None]) -> ModuleType | None:
    """The module ``name`` if it is imported and fully initialised, else None.

    Call after :func:`watch` (name, callback). When another thread (or an outer frame of this
    one) is still running the module's body, returns None and ``callback(module)`` runs once
    that import completes: from our loader if the import went through it, else from a helper
    thread that waits for it (an import started before the module was watched). A module whose
    import fails is never handed to the callback.
    """
    module = sys.modules.get(name)
    if module is None:
        return None
    spec = getattr(module, "__spec__", None)
    if not getattr(spec, "_initializing", False):
        return module
    # read the loader before _executing: exec_module adds the name before unchaining the spec
    if isinstance(getattr(spec, "loader", None), _ChainedLoader) or name in _executing:
        return None  # our loader fires the callbacks when the body is done
    if _import_owner(name) == get_ident():
        # this very thread is importing it (we run in its post-import hook, or a circular
        # import): waiting would outlast the import, so take it as Python itself would
        return module
    spawn(_wait_and_call, name, callback)
    return None


def _import_owner(name: str) -> int | None:
    """Ident of the thread holding the import lock of module ``name`` (None if unknown)."""
    try:
        from importlib import _bootstrap  # already loaded: the import system itself

        ref = _bootstrap._module_locks.get(name)
        lock = ref() if ref is not None else None
        return getattr(lock, "owner", None)
    except Exception:  # private API changed: treat as another thread's import (safe)
        return None


def spawn(target: Callable[..., None], *args: Any) -> None:
    """Run ``target(*args)`` in a daemon helper thread (joined by :func:`join_waiters`)."""
    import threading  # rare path: keep `threading` off the import path of autolog()

    waiter = threading.Thread(target=target, args=args, name="autolog-import-waiter", daemon=True)
    with _lock:
        _waiters[:] = [w for w in _waiters if w.is_alive()]
        _waiters.append(waiter)
    waiter.start()


def _wait_and_call(name: str, callback: Callable[[ModuleType], None]) -> None:
    import time

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        module = sys.modules.get(name)
        if module is None:
            return  # the import failed
        if not getattr(getattr(module, "__spec__", None), "_initializing", False):
            if callback in _callbacks.get(name, ()):  # still wanted
                try:
                    callback(module)
                except Exception:  # nobody to raise to in this thread
                    import logging

                    logging.getLogger("autolog").warning("autolog: patching %s failed", name,
                                                         exc_info=True)
            return
        time.sleep(0.002)


def join_waiters(timeout: float | None = 30) -> None:
    """Wait for helper threads (:func:`ready`, :func:`spawn`), also those they start in turn
    (tests call it for determinism)."""
    while True:
        with _lock:
            waiters = [w for w in _waiters if w.is_alive()]
        if not waiters:
            return
        for waiter in waiters:
            waiter.join(timeout)


def _fire(module: ModuleType) -> None:
    hooks = _callbacks.get(module.__name__)
    if hooks:
        for callback in list(hooks):
            callback(module)


class _ChainedLoader:
    """Wraps the real loader; fires the callbacks once the module body has run."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # put the real loader back first so the module never exposes ours
        if getattr(module, "__loader__", None) in (None, self):
            try:
                module.__loader__ = self._loader
            except AttributeError:
                pass
        name = module.__name__
        _executing.add(name)  # before unchaining the spec: see ready()
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = self._loader
        try:
            self._loader.exec_module(module)
        finally:
            # before _fire reads the callbacks: one registered after this point gets a waiter
            _executing.discard(name)
        _fire(sys.modules.get(name, module))


class _PostImportFinder:
    """Meta path finder that only takes part in imports of watched modules."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in _callbacks:
            return None
        busy = getattr(_local, "busy", None)
        if busy is None:
            busy = _local.busy = set()
        if fullname in busy:
            return None
        busy.add(fullname)
        try:
            spec = None
            for finder in list(sys.meta_path):
                if finder is self or isinstance(finder, _PostImportFinder):
                    continue
                find = getattr(finder, "find_spec", None)
                if find is None:
                    continue
                spec = find(fullname, path, target)
                if spec is not None:
                    break
        finally:
            busy.discard(fullname)
        if spec is None:
            return None
        loader = spec.loader
        # namespace packages and legacy loaders: leave the import alone (no hook)
        if loader is None or not hasattr(loader, "exec_module") or isinstance(loader, _ChainedLoader):
            return spec
        spec.loader = _ChainedLoader(loader)
        return spec

    def invalidate_caches(self) -> None:
        return None


_finder: _PostImportFinder | None = None


def _install_finder() -> None:
    global _finder
    if _finder is None:
        _finder = _PostImportFinder()
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
