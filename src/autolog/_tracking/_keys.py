"""Validation of param, metric and tag keys and of artifact paths.

Keys are checked on every logging call, so valid keys are remembered: a repeated key costs one
set lookup.
"""

from __future__ import annotations

from autolog._errors import InvalidKeyError

MAX_KEY_LENGTH = 250
_CACHE_LIMIT = 100_000
_valid: set[str] = set()


def _describe(key: object) -> str:
    text = repr(key)
    return text if len(text) <= 80 else text[:77] + "..."


def validate_key(key: object, kind: str = "key") -> str:
    """Return ``key`` if it is a valid param/metric/tag key, else raise :class:`InvalidKeyError`.

    Rules: a non-empty ``str`` of at most 250 characters, without control characters and
    without a ``..`` path segment (keys become file names in some stores). The error message
    names the key and the broken rule.
    """
    if key in _valid:
        return key  # type: ignore[return-value]
    if not isinstance(key, str):
        raise InvalidKeyError(f"{kind} {_describe(key)} is not a string ({type(key).__name__})")
    if not key:
        raise InvalidKeyError(f"{kind} must be a non-empty string, got ''")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKeyError(
            f"{kind} {_describe(key)} is {len(key)} characters long (at most {MAX_KEY_LENGTH})"
        )
    for ch in key:
        if ch < " " or "\x7f" <= ch <= "\x9f":
            raise InvalidKeyError(f"{kind} {_describe(key)} contains the control character {ch!r}")
    if ".." in key.replace("\\", "/").split("/"):
        raise InvalidKeyError(f"{kind} {_describe(key)} contains a '..' path segment")
    if len(_valid) >= _CACHE_LIMIT:
        _valid.clear()
    _valid.add(key)
    return key


def validate_artifact_path(path: object, kind: str = "artifact path") -> str:
    """Return ``path`` normalised to a relative POSIX path inside a run's artifact directory.

    Raises :class:`InvalidKeyError` for a non-string, empty, absolute path, a ``..`` segment or
    a control character.
    """
    if not isinstance(path, str):
        raise InvalidKeyError(f"{kind} {_describe(path)} is not a string ({type(path).__name__})")
    norm = path.replace("\\", "/")
    parts = [p for p in norm.split("/") if p not in ("", ".")]
    if not parts:
        raise InvalidKeyError(f"{kind} {_describe(path)} is empty")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        raise InvalidKeyError(f"{kind} {_describe(path)} must be relative")
    if ".." in parts:
        raise InvalidKeyError(f"{kind} {_describe(path)} contains a '..' path segment")
    if any(ch < " " for ch in norm):
        raise InvalidKeyError(f"{kind} {_describe(path)} contains a control character")
    return "/".join(parts)
