"""Built-in integrations, listed by import string so that nothing here imports a framework.

Each entry names the integration class, the top-level modules whose import triggers it, and the
distribution whose installed version is checked against the integration's supported range.
Third-party integrations register through the ``autolog.integrations`` entry-point group.
"""

from __future__ import annotations

__all__ = ["BUILTINS", "BuiltinIntegration"]


class BuiltinIntegration:
    """Where a builtin integration lives and what triggers it (a plain class: no typing import)."""

    __slots__ = ("import_string", "modules", "distribution")

    def __init__(self, import_string: str, modules: tuple[str, ...], distribution: str) -> None:
        self.import_string = import_string
        self.modules = modules
        self.distribution = distribution

    def __repr__(self) -> str:
        return f"BuiltinIntegration({self.import_string!r}, {self.modules!r}, {self.distribution!r})"


BUILTINS: dict[str, BuiltinIntegration] = {
    "sklearn": BuiltinIntegration(
        "autolog.integrations.sklearn:SklearnIntegration", ("sklearn",), "scikit-learn"
    ),
    "pyspark": BuiltinIntegration(
        "autolog.integrations.pyspark:PySparkIntegration", ("pyspark",), "pyspark"
    ),
}
