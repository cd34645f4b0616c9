"""Built-in integrations, listed by import string so that nothing here imports a framework.

Each entry names the integration class, the top-level modules whose import triggers it, and the
distribution whose installed version is checked against the integration's supported range.
Third-party integrations register through the ``autolog.integrations`` entry-point group.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["BUILTINS", "BuiltinIntegration"]


class BuiltinIntegration(NamedTuple):
    import_string: str
    modules: tuple[str, ...]
    distribution: str


BUILTINS: dict[str, BuiltinIntegration] = {
    "sklearn": BuiltinIntegration(
        "autolog.integrations.sklearn:SklearnIntegration", ("sklearn",), "scikit-learn"
    ),
    "pyspark": BuiltinIntegration(
        "autolog.integrations.pyspark:PySparkIntegration", ("pyspark",), "pyspark"
    ),
}
