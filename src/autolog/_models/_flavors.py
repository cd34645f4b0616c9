"""Flavors: how one framework's models are saved, loaded and asked for predictions.

Writing a flavor for a framework::

    from autolog._models import Flavor, register_flavor

    class SparkFlavor(Flavor):
        name = "pyspark"                  # stored in autolog-model.json; unique
        framework = "pyspark"             # distribution whose version is recorded

        def matches(self, model):         # cheap; must not import the framework
            mod = sys.modules.get("pyspark.ml")
            return mod is not None and isinstance(model, mod.Model)

        def save(self, model, path):      # path: an empty directory that exists
            model.write().save(str(path / "sparkml"))
            return {"model_class": f"{type(model).__module__}.{type(model).__name__}"}

        def load(self, path):             # path: the directory save() filled
            ...

    register_flavor(SparkFlavor())

``save`` writes the model's files into ``path`` and returns extra metadata (JSON-able) that is
stored under ``"flavor_metadata"`` in ``autolog-model.json`` and handed back to nobody but you:
``load`` reads it with :func:`read_metadata` if needed. ``snapshot(model)`` is called in the
caller's thread when a model is logged in the background: it must capture whatever the model is
*now* (so a user mutating or refitting the model afterwards cannot corrupt the saved copy) and
return a callable ``write(path) -> dict`` that does the slow part later. The default snapshot
takes no copy and calls ``save`` later, which is right only for immutable models (Spark's).

Optional hooks: ``predict(model, data)`` (default ``model.predict(data)``), ``infer_schema(data)``
(describe a framework's own data type, e.g. a Spark DataFrame, as a :class:`Schema`; return None
for data that is not yours) and ``to_example(data)`` (turn such data into a small pandas
DataFrame / numpy array for an input example; None if not yours).

Flavors are looked up by ``matches`` in reverse registration order, so a later registration
overrides the built-in sklearn flavor for the models it claims (xgboost's sklearn API, say).
"""

from __future__ import annotations

import pickle
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from autolog._errors import ModelError

__all__ = [
    "Flavor",
    "SklearnFlavor",
    "flavor_by_name",
    "flavor_for",
    "flavors",
    "register_flavor",
    "unregister_flavor",
]


class Flavor:
    """Base class for a framework's model persistence. See the module docstring for a guide."""

    #: unique flavor name, stored in the model metadata and used to pick the loader
    name: ClassVar[str] = ""
    #: distribution (pip name) whose installed version is recorded, or None
    framework: ClassVar[str | None] = None

    def matches(self, model: Any) -> bool:
        """Whether this flavor saves ``model``. Must be cheap and must not import the framework."""
        raise NotImplementedError

    def save(self, model: Any, path: Path) -> dict[str, Any]:
        """Write ``model`` into the existing empty directory ``path``; return extra metadata.

        Raise :class:`~autolog.ModelError` (or any exception: it is wrapped) if it cannot be saved.
        """
        raise NotImplementedError

    def load(self, path: Path) -> Any:
        """Read back the native model that :meth:`save` wrote into ``path``."""
        raise NotImplementedError

    def predict(self, model: Any, data: Any) -> Any:
        """Predictions of ``model`` for ``data`` (default ``model.predict(data)``)."""
        return model.predict(data)

    def snapshot(self, model: Any) -> Callable[[Path], dict[str, Any]]:
        """Capture ``model`` now; return ``write(path) -> metadata`` to run later (background).

        The default captures nothing and saves later: override it for mutable models.
        """
        return lambda path: self.save(model, path)

    def framework_version(self) -> str | None:
        """Installed version of :attr:`framework`, read from package metadata (no import)."""
        if not self.framework:
            return None
        from importlib import metadata

        try:
            return metadata.version(self.framework)
        except metadata.PackageNotFoundError:
            return None

    def infer_schema(self, data: Any) -> Any:
        """Describe a framework-specific data type as a Schema, or None when ``data`` is not one."""
        return None

    def to_example(self, data: Any) -> Any:
        """Turn framework-specific example data into pandas/numpy, or None when not one."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


_lock = threading.Lock()
_registry: list[Flavor] = []


def register_flavor(flavor: Flavor | type[Flavor]) -> Flavor:
    """Register a flavor (an instance, or a class that is instantiated with no arguments).

    A flavor with the same name replaces the earlier one. Returns the registered instance.
    Raises ``TypeError`` for an object that is not a :class:`Flavor`, ``ValueError`` for an empty
    name.
    """
    if isinstance(flavor, type):
        flavor = flavor()
    if not isinstance(flavor, Flavor):
        raise TypeError(f"register_flavor expects a Flavor, got {type(flavor).__name__}")
    if not flavor.name:
        raise ValueError(f"{type(flavor).__name__}.name must be a non-empty string")
    with _lock:
        _registry[:] = [f for f in _registry if f.name != flavor.name]
        _registry.append(flavor)
    return flavor


def unregister_flavor(name: str) -> Flavor | None:
    """Remove the flavor called ``name``; return it, or None if none was registered."""
    with _lock:
        for i, flavor in enumerate(_registry):
            if flavor.name == name:
                return _registry.pop(i)
    return None


def flavors() -> list[Flavor]:
    """Registered flavors, most recently registered first."""
    with _lock:
        return _registry[::-1]


def flavor_for(model: Any) -> Flavor:
    """The flavor that saves ``model``; raises :class:`~autolog.ModelError` when none matches."""
    for flavor in flavors():
        try:
            if flavor.matches(model):
                return flavor
        except Exception:  # a broken third-party matches() must not hide the others
            continue
    names = ", ".join(f.name for f in flavors()) or "none"
    raise ModelError(
        f"no model flavor handles {type(model).__module__}.{type(model).__qualname__} "
        f"(registered flavors: {names}); register one with autolog._models.register_flavor"
    )


def flavor_by_name(name: str, module: str | None = None) -> Flavor:
    """The registered flavor called ``name``, importing ``module`` first if it is not registered.

    ``module`` is the module that defined the flavor when the model was saved (recorded in the
    metadata), so a model saved by a plugin loads in a fresh process. Raises
    :class:`~autolog.ModelError` when no such flavor can be found.
    """
    for flavor in flavors():
        if flavor.name == name:
            return flavor
    candidates = [m for m in (module, f"autolog.integrations.{name}") if m]
    for mod in candidates:
        try:
            __import__(mod)
        except ImportError:
            continue
        for flavor in flavors():
            if flavor.name == name:
                return flavor
    raise ModelError(
        f"no model flavor named {name!r} is registered"
        + (f" (tried importing {', '.join(candidates)})" if candidates else "")
    )


# --------------------------------------------------------------------------- sklearn

_PICKLE_FILE = "model.pkl"
_PROTOCOL = 5


class SklearnFlavor(Flavor):
    """scikit-learn estimators (and anything deriving from ``sklearn.base.BaseEstimator``).

    Saved as ``model.pkl`` with pickle protocol 5; models plain pickle refuses (classes defined
    inside functions, lambdas) are serialised with cloudpickle (a joblib dependency) and the
    metadata says ``"serialization": "cloudpickle"``. The pickle is taken in the caller's thread by
    :meth:`snapshot`, so refitting or mutating the estimator after logging cannot change what
    was logged. Loading unpickles: only load models from sources you trust.
    """

    name = "sklearn"
    framework = "scikit-learn"

    def matches(self, model: Any) -> bool:
        # If sklearn was never imported, no estimator exists; avoid importing it.
        if "sklearn" not in sys.modules:
            return False
        from sklearn.base import BaseEstimator

        return isinstance(model, BaseEstimator)

    def framework_version(self) -> str | None:
        sklearn = sys.modules.get("sklearn")
        if sklearn is not None:
            return getattr(sklearn, "__version__", None)
        return super().framework_version()

    def _pickle(self, model: Any) -> tuple[bytes, str]:
        try:
            return pickle.dumps(model, protocol=_PROTOCOL), "pickle"
        except Exception as exc:
            first: Exception = exc
        # Plain pickle refuses classes defined inside functions and lambdas held by the model;
        # cloudpickle serialises those by value. joblib (a scikit-learn dependency) requires
        # it, or bundles it in older releases, so the file loads wherever scikit-learn does.
        cloudpickle = _cloudpickle()
        if cloudpickle is not None:
            try:
                return cloudpickle.dumps(model, protocol=_PROTOCOL), "cloudpickle"
            except Exception as exc:
                first = exc
        raise ModelError(
            f"cannot pickle {type(model).__name__} for saving: {type(first).__name__}: {first}"
        ) from first

    def save(self, model: Any, path: Path) -> dict[str, Any]:
        return self.snapshot(model)(path)

    def snapshot(self, model: Any) -> Callable[[Path], dict[str, Any]]:
        data, serialization = self._pickle(model)

        def write(path: Path) -> dict[str, Any]:
            (path / _PICKLE_FILE).write_bytes(data)
            return {
                "file": _PICKLE_FILE,
                "serialization": serialization,
                "pickle_protocol": _PROTOCOL,
            }

        return write

    def load(self, path: Path) -> Any:
        file = path / _PICKLE_FILE
        try:
            with open(file, "rb") as fh:
                return pickle.load(fh)
        except FileNotFoundError as exc:
            raise ModelError(f"model file missing: {file}") from exc


def _cloudpickle() -> Any:
    try:
        import cloudpickle
    except ImportError:
        try:
            from joblib.externals import cloudpickle
        except ImportError:
            return None
    return cloudpickle


register_flavor(SklearnFlavor())
