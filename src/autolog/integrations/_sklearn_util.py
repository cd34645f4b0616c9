"""Small helpers of the scikit-learn integration: params, tags, fit arguments, row sampling.

Nothing here imports scikit-learn at module import; functions import what they need from
modules the user has already imported (``sklearn.base`` is always loaded with ``sklearn``).
"""

from __future__ import annotations

import sys
from typing import Any

# Above this many rows, training metrics use an evenly spaced deterministic sample.
MAX_METRIC_ROWS = 100_000
# ...and at most this many cells (wide data keeps fewer rows, at least 1,000).
MAX_METRIC_CELLS = 5_000_000
# Rows kept for the silhouette score (quadratic cost) and for plots.
MAX_SILHOUETTE_ROWS = 2_000

_FOREIGN_TOP_MODULES = frozenset({"xgboost", "lightgbm", "catboost"})


def is_foreign_class(cls: type) -> bool:
    """True for sklearn-API classes owned by another framework's integration (xgboost...)."""
    return (getattr(cls, "__module__", "") or "").split(".", 1)[0] in _FOREIGN_TOP_MODULES


def class_path(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def estimator_tags(est: Any) -> dict[str, str]:
    """MLflow's two estimator tags: short class name and fully qualified class name."""
    return {"estimator_name": type(est).__name__, "estimator_class": class_path(est)}


def _param_value(value: Any, base_estimator: type) -> Any:
    if isinstance(value, base_estimator):
        return type(value).__name__
    if isinstance(value, (list, tuple)) and value and any(
        isinstance(v, (base_estimator, list, tuple)) for v in value
    ):
        # Pipeline steps, ColumnTransformer transformers: names and class names, not reprs
        inner = [_param_value(v, base_estimator) for v in value]
        return tuple(inner) if isinstance(value, tuple) else inner
    return value


def flat_params(est: Any) -> dict[str, Any]:
    """``get_params(deep=True)`` with nested estimators replaced by their class names.

    Step params of a Pipeline keep their ``step__`` prefixes. Raises whatever ``get_params``
    raises (the caller's error boundary turns it into a warning).
    """
    from sklearn.base import BaseEstimator

    params = est.get_params(deep=True)
    return {str(k): _param_value(v, BaseEstimator) for k, v in params.items()}


_layouts: dict[tuple[type, str], list[str]] = {}


def _positional_names(cls: type, name: str, bound: Any) -> list[str]:
    key = (cls, name)
    names = _layouts.get(key)
    if names is None:
        import inspect

        try:
            params = inspect.signature(bound).parameters.values()
            names = [p.name for p in params
                     if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"]
        except (TypeError, ValueError):
            names = []
        if len(_layouts) > 4096:
            _layouts.clear()
        _layouts[key] = names
    return names


def fit_data(call: Any) -> tuple[Any, Any, Any]:
    """(X, y, sample_weight) given to a fit-like call; missing ones are None.

    X and y are the first two positional parameters whatever their names (``raw_documents``,
    ``Y``), given by position or by keyword; a ``fit(self, *args, **kwargs)`` override passes
    them positionally. sample_weight may be given by name, by position or in ``**fit_params``.
    """
    args, kwargs = call.args, call.kwargs
    inst = call.instance
    names = _positional_names(type(inst), call.function_name, getattr(inst, call.function_name, None))
    values: list[Any] = []
    for i in range(2):
        if i < len(args):
            values.append(args[i])
        elif i < len(names) and names[i] in kwargs:
            values.append(kwargs[names[i]])
        else:
            values.append(None)
    sample_weight = kwargs.get("sample_weight")
    if sample_weight is None and "sample_weight" in names:
        pos = names.index("sample_weight")
        if pos < len(args):
            sample_weight = args[pos]
    return values[0], values[1], sample_weight


def n_rows(data: Any) -> int | None:
    """Number of rows (first dimension) of array-like data, None when unknown."""
    if data is None:
        return None
    shape = getattr(data, "shape", None)
    if shape is not None:
        try:
            return int(shape[0])
        except (TypeError, IndexError):
            return None
    try:
        return len(data)
    except TypeError:
        return None


def n_columns(data: Any) -> int:
    """Number of columns of 2-d array-like data (1 for 1-d or unknown)."""
    shape = getattr(data, "shape", None)
    if shape is not None and len(shape) > 1:
        try:
            return int(shape[1])
        except (TypeError, ValueError):
            return 1
    if isinstance(data, list) and data and isinstance(data[0], (list, tuple)):
        return len(data[0])
    return 1


def sample_index(n: int, keep: int):
    """Evenly spaced row positions (deterministic, first and last included), or None if n <= keep."""
    if n <= keep:
        return None
    import numpy as np

    return np.unique(np.linspace(0, n - 1, keep).round().astype(np.int64))


def take_rows(data: Any, idx: Any) -> Any:
    """Rows ``idx`` of numpy / pandas / scipy sparse / list data (idx None: data itself)."""
    if data is None or idx is None:
        return data
    if hasattr(data, "iloc"):
        return data.iloc[idx]
    if hasattr(data, "shape") and hasattr(data, "__getitem__"):
        return data[idx]
    return [data[i] for i in idx]


def head(data: Any, k: int) -> Any:
    """A private copy of the first ``k`` rows (for input examples and signatures)."""
    if data is None:
        return None
    if hasattr(data, "iloc"):
        return data.iloc[:k].copy()
    if hasattr(data, "tocsr"):
        return data.tocsr()[:k].copy()
    if hasattr(data, "shape"):
        import numpy as np

        return np.array(data[:k], copy=True)
    try:
        return list(data[:k])
    except TypeError:
        return None


def to_numpy_copy(data: Any) -> Any:
    """A private ndarray copy of y-like data (Series, list, ndarray); None stays None."""
    if data is None:
        return None
    import numpy as np

    if hasattr(data, "to_numpy"):
        return data.to_numpy(copy=True)
    if hasattr(data, "toarray"):
        return data.toarray()
    return np.array(data, copy=True)


def estimator_type(est: Any) -> str | None:
    """'classifier', 'regressor', 'clusterer', 'outlier_detector', ... or None."""
    import sklearn.base as base

    try:
        if base.is_classifier(est):
            return "classifier"
        if base.is_regressor(est):
            return "regressor"
        is_clusterer = getattr(base, "is_clusterer", None)
        if is_clusterer is not None and is_clusterer(est):
            return "clusterer"
    except Exception:
        pass
    kind = getattr(est, "_estimator_type", None)
    return kind if isinstance(kind, str) else None


def search_base_class() -> type | None:
    """``BaseSearchCV`` if the user has imported model_selection (never imports it)."""
    module = sys.modules.get("sklearn.model_selection._search")
    return getattr(module, "BaseSearchCV", None) if module is not None else None


def is_search(est: Any) -> bool:
    base = search_base_class()
    return base is not None and isinstance(est, base)


def final_estimator(est: Any) -> Any:
    """The estimator that really predicts: the last step of a Pipeline, a search's
    ``best_estimator_`` (recursively), else the estimator itself."""
    module = sys.modules.get("sklearn.pipeline")
    pipeline = getattr(module, "Pipeline", None) if module is not None else None
    for _ in range(16):
        if pipeline is not None and type(est) is pipeline:
            steps = getattr(est, "steps", None)
            if not steps or steps[-1][1] is None or steps[-1][1] == "passthrough":
                return est
            est = steps[-1][1]
        elif is_search(est) and hasattr(est, "best_estimator_"):
            est = est.best_estimator_
        else:
            return est
    return est
