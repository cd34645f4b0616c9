"""Post-import hooks: run a callback right after a watched module finishes importing.

Same mechanism as ``wrapt.register_post_import_hook`` (a finder at the front of
``sys.meta_path`` that chains the real loader), written here because importing wrapt costs
several times the whole ``autolog()`` budget (it imports asyncio and importlib.metadata);
wrapt itself is only imported once a framework is being patched.

Differences that matter to the engine: a callback fires on *every* import of the module (a
module removed from ``sys.modules`` and imported again is patched again), callbacks can be
removed, and the finder costs one dict lookup for modules nobody watches.
"""

from __future__ import annotations

import sys
from _thread import RLock
from _thread import _local as ThreadLocal

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: this module is on the `autolog()` path
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any

__all__ = ["watch", "unwatch", "is_watched"]

_lock = RLock()  # _thread, not threading: cheaper to import
_callbacks: dict[str, list[Callable[[ModuleType], None]]] = {}
_local = ThreadLocal()


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
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = self._loader
        self._loader.exec_module(module)
        _fire(sys.modules.get(module.__name__, module))


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
