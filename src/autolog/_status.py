"""``autolog.status()`` rows and table (kept out of the registry: only built when asked for)."""

from __future__ import annotations

import sys
from typing import Any, NamedTuple

from autolog._config import env_disabled

__all__ = ["IntegrationStatus", "StatusTable", "build_status"]


class IntegrationStatus(NamedTuple):
    """One row of ``autolog.status()``."""

    name: str
    state: str  # active | pending | disabled | not installed | unsupported | failed
    version: str | None
    requires: str | None
    source: str  # builtin | entry point | registered
    detail: str


class StatusTable(list):  # type: ignore[type-arg]
    """A list of :class:`IntegrationStatus` that prints as a table."""

    def __str__(self) -> str:
        headers = ("integration", "state", "version", "requires", "source", "detail")
        rows = [tuple("" if v is None else str(v) for v in row) for row in self]
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
                  for i, h in enumerate(headers)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
        return "\n".join(lines)

    __repr__ = __str__

    def by_name(self, name: str) -> IntegrationStatus:
        """The row for integration ``name`` (KeyError if unknown)."""
        for row in self:
            if row.name == name:
                return row
        raise KeyError(name)


def build_status(states: list[Any]) -> StatusTable:
    """One row per registry state (see ``autolog.status``); never raises for a broken one."""
    from autolog import _registry as reg

    rows = StatusTable()
    off_env = env_disabled()
    for state in states:
        cls = state.cls
        if cls is None:
            try:
                cls = reg._load_class(state)
            except Exception as exc:
                state.error = state.error or f"{type(exc).__name__}: {exc}"
        requires = getattr(cls, "requires", None) if cls is not None else None
        distribution = state.distribution or (reg._distribution(cls) if cls is not None else None)
        version = reg._installed_version(distribution)
        found = version is not None or any(_module_findable(m) for m in state.modules or ())
        detail = ""
        if state.installed:
            label = "active"
            tested = getattr(cls, "tested_up_to", None)
            if version and tested and _is_newer(version, tested):
                detail = f"newer than tested ({tested})"
        elif not found:
            label = "not installed"
        elif state.unsupported:
            label, detail = "unsupported", state.unsupported
        elif state.error:
            label, detail = "failed", state.error
        elif state.enabled:
            label = "pending"
            if cls is not None and version and requires and not _supported(version, requires):
                label, detail = "unsupported", f"needs {requires}"
        else:
            label = "disabled"
            if state.name.lower() in off_env or "*" in off_env:
                detail = "AUTOLOG_DISABLE"
        rows.append(IntegrationStatus(state.name, label, version, requires, state.source, detail))
    return rows


def _module_findable(name: str) -> bool:
    if name in sys.modules:
        return True
    from importlib.util import find_spec

    try:
        return find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _supported(version: str, requires: str) -> bool:
    from packaging.requirements import Requirement
    from packaging.version import InvalidVersion, Version

    try:
        return Requirement(requires).specifier.contains(Version(version), prereleases=True)
    except (InvalidVersion, ValueError):
        return True


def _is_newer(version: str, tested: str) -> bool:
    from packaging.version import InvalidVersion, Version

    from autolog._registry import _newer_than

    try:
        return _newer_than(Version(version), tested)
    except InvalidVersion:
        return False
