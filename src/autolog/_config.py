"""Configuration of ``autolog.autolog()``: global options, per-integration options, merging.

Resolution order for one integration (later wins): global defaults < the integration's own
option defaults < global options given to ``autolog()`` < options given for that integration
(``autolog(sklearn={...})``). Repeated ``autolog()`` calls merge into what earlier calls set.
Validation happens before anything is applied, so a rejected call changes nothing.
"""

from __future__ import annotations

import os

from autolog._errors import ConfigError

# typing / collections are not imported at run time: this module is on the `autolog()` path
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import Any

__all__ = ["GLOBAL_DEFAULTS", "Config", "UNSET", "env_disabled", "is_mapping", "resolve",
           "validate_options"]


class _Unset:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<unset>"

    def __reduce__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()

# `disable` is not listed: it is a per-call switch, not a merged setting.
GLOBAL_DEFAULTS: dict[str, Any] = {
    "exclusive": False,
    "silent": False,
    "log_models": True,
    "log_datasets": True,
    "log_input_examples": False,
    "log_model_signatures": True,
    "extra_tags": None,
}


def is_mapping(value: object) -> bool:
    """Whether ``value`` behaves like a read-only mapping (dict or keys() + __getitem__)."""
    return isinstance(value, dict) or (hasattr(value, "keys") and hasattr(value, "__getitem__"))


class Config:
    """Read-only resolved options of one integration; keys also readable as attributes.

    ``config["log_models"]`` and ``config.log_models`` are equivalent; an unknown name raises
    ``KeyError`` / ``AttributeError``. Supports the mapping protocol (``get``, ``keys``,
    ``items``, ``in``, ``dict(config)``).
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", dict(data))

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __getattr__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(f"no autolog option {key!r}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("Config is read-only; call autolog.autolog(...) to change options")

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def keys(self) -> Any:
        return self._data.keys()

    def items(self) -> Any:
        return self._data.items()

    def values(self) -> Any:
        return self._data.values()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Config):
            return self._data == other._data
        return isinstance(other, dict) and self._data == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Config({self._data!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Config, (self._data,))


def _check_type(owner: str, key: str, value: Any, default: Any) -> None:
    if key == "extra_tags":
        if value is not None and not (
            is_mapping(value) and all(isinstance(k, str) for k in value.keys())
        ):
            raise ConfigError(f"{owner}: extra_tags must be a dict with str keys or None, got {value!r}")
        return
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{owner}: option {key!r} must be True or False, got {value!r}")
    elif isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{owner}: option {key!r} must be a number, got {value!r}")
    elif isinstance(default, str) and not isinstance(value, str):
        raise ConfigError(f"{owner}: option {key!r} must be a string, got {value!r}")


def _suggest(name: str, choices: Any) -> str:
    import difflib  # error path only

    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def validate_options(owner: str, options: Mapping[str, Any], integration_defaults: Mapping[str, Any]) -> None:
    """Check option names and value types for one integration (or ``owner="autolog()"``).

    Raises ConfigError naming the bad option, with a close match when there is one.
    """
    known = {**GLOBAL_DEFAULTS, **integration_defaults, "disable": False}
    for key, value in options.items():
        if key not in known:
            raise ConfigError(f"{owner}: unknown option {key!r}{_suggest(key, known)}; "
                              f"known options: {', '.join(sorted(known))}")
        _check_type(owner, key, value, known[key])


def check_combination(owner: str, resolved: Mapping[str, Any]) -> None:
    """Reject option sets that contradict each other (raises ConfigError)."""
    if resolved.get("log_input_examples") and not resolved.get("log_models"):
        raise ConfigError(f"{owner}: log_input_examples=True needs log_models=True "
                          "(input examples are stored with the model)")


def resolve(global_given: Mapping[str, Any], integration_defaults: Mapping[str, Any],
            integration_given: Mapping[str, Any]) -> Config:
    """Merge the layers into the Config an integration's hooks see (no validation)."""
    data = dict(GLOBAL_DEFAULTS)
    data.update(integration_defaults)
    data.update(global_given)
    data.update(integration_given)
    data.pop("disable", None)
    if data.get("extra_tags") is None:
        data["extra_tags"] = {}
    else:
        data["extra_tags"] = {k: str(v) for k, v in data["extra_tags"].items()}
    return Config(data)


def env_disabled() -> frozenset[str]:
    """Integration names switched off by ``AUTOLOG_DISABLE`` (comma separated; ``*`` = all)."""
    raw = os.environ.get("AUTOLOG_DISABLE", "")
    return frozenset(part.strip().lower() for part in raw.split(",") if part.strip())

