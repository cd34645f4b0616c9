"""Exception and warning types, and the strict-mode switch.

Every error autolog raises on purpose derives from :class:`AutologError`, and also from the
builtin type a caller would naturally catch (``ValueError`` for bad input, ``RuntimeError``
for a wrong run state), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

import os

__all__ = [
    "AutologError",
    "AutologWarning",
    "ConfigError",
    "InvalidKeyError",
    "MalformedFilterError",
    "ModelError",
    "ParamConflictError",
    "RunNotFoundError",
    "RunStateError",
    "SchemaMismatchError",
    "is_strict",
    "set_strict",
]


class AutologError(Exception):
    """Base class of every error autolog raises deliberately."""


class InvalidKeyError(AutologError, ValueError):
    """A param, metric, tag or artifact key breaks the key rules; the message names the key."""


class ParamConflictError(AutologError, ValueError):
    """A param was logged again with a different value (manual logging API)."""


class RunStateError(AutologError, RuntimeError):
    """The call needs a run state that does not hold (no active run, a run already active...)."""


class RunNotFoundError(AutologError, LookupError):
    """No run with the given id exists in the current store."""


class MalformedFilterError(AutologError, ValueError):
    """A ``search_runs`` filter string cannot be parsed; the message points at the bad token."""


class SchemaMismatchError(AutologError, ValueError):
    """Input given to a predictor does not match the model's signature."""


class ConfigError(AutologError, ValueError):
    """``autolog.autolog()`` was given an unknown option or an invalid combination."""


class ModelError(AutologError):
    """A model cannot be saved or loaded (no flavor for it, unreadable model directory...)."""


class AutologWarning(UserWarning):
    """Something went wrong inside autolog; the user's code was not affected."""


_TRUTHY = frozenset({"1", "true", "yes", "on"})
_strict_override: bool | None = None


def is_strict() -> bool:
    """Whether autolog's own errors are raised instead of being turned into warnings.

    True when :func:`set_strict` forced it on, else when the environment variable
    ``AUTOLOG_STRICT`` is set to 1/true/yes/on. Never raises.
    """
    if _strict_override is not None:
        return _strict_override
    return os.environ.get("AUTOLOG_STRICT", "").strip().lower() in _TRUTHY


def set_strict(value: bool | None) -> None:
    """Force strict mode on (True) or off (False); None returns control to ``AUTOLOG_STRICT``."""
    global _strict_override
    _strict_override = value
