"""Hyperparameter searches and cross-validation helpers of the scikit-learn integration.

Child runs of a search are built in the parent process from ``cv_results_`` after ``fit``
returns: nothing runs in joblib workers, so every backend (loky processes included) works and
no worker ever creates a run.
"""

from __future__ import annotations

import math
from typing import Any

from autolog.integrations import _sklearn_util as util

_CHILD_NAME_LIMIT = 100


def _plain(value: Any) -> Any:
    """A numpy scalar as a Python scalar, estimators as class names, anything else as is."""
    from sklearn.base import BaseEstimator

    if isinstance(value, BaseEstimator):
        return type(value).__name__
    item = getattr(value, "item", None)
    if item is not None and getattr(value, "ndim", 1) == 0:
        try:
            return item()
        except Exception:
            return value
    return value


def _number(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f


def rank_key(cv_results: dict[str, Any], refit: Any) -> str | None:
    """The rank column that orders candidates: the refit metric's, else the first one."""
    if isinstance(refit, str) and f"rank_test_{refit}" in cv_results:
        return f"rank_test_{refit}"
    if "rank_test_score" in cv_results:
        return "rank_test_score"
    for key in cv_results:
        if key.startswith("rank_test_"):
            return key
    return None


def candidate_order(cv_results: dict[str, Any], refit: Any, limit: int | None) -> list[int]:
    """Candidate indices best-ranked first (stable; unranked last), cut to ``limit`` if given."""
    n = len(cv_results.get("params", ()))
    key = rank_key(cv_results, refit)
    order = list(range(n))
    if key is not None:
        ranks = cv_results[key]

        def sort_key(i: int) -> tuple[int, float, int]:
            r = _number(ranks[i])
            return (0, r, i) if r is not None and not math.isnan(r) else (1, 0.0, i)

        order.sort(key=sort_key)
    if limit is not None:
        order = order[: max(0, int(limit))]
    return order


def candidate_metrics(cv_results: dict[str, Any], i: int) -> dict[str, float]:
    """Numeric columns of candidate ``i``: mean/std/rank/split scores, fit and score times,
    and (successive halving) ``iter`` and ``n_resources``."""
    out: dict[str, float] = {}
    for key, column in cv_results.items():
        if key == "params" or key.startswith("param_"):
            continue
        try:
            value = _number(column[i])
        except (IndexError, TypeError, KeyError):
            continue
        if value is not None:
            out[key] = value
    return out


def candidate_params(cv_results: dict[str, Any], i: int) -> dict[str, Any]:
    return {str(k): _plain(v) for k, v in cv_results["params"][i].items()}


def child_name(i: int, params: dict[str, Any]) -> str:
    text = ", ".join(f"{k.rsplit('__', 1)[-1]}={v}" for k, v in params.items())
    name = f"candidate {i}: {text}" if text else f"candidate {i}"
    return name if len(name) <= _CHILD_NAME_LIMIT else name[: _CHILD_NAME_LIMIT - 3] + "..."


def log_search(session: Any, search: Any, max_tuning_runs: Any) -> dict[str, Any] | None:
    """Log a fitted search into ``session``: best_<param> params, best_cv_score, and one child
    run per candidate (best-ranked first, at most ``max_tuning_runs``; None means all).

    Returns a shallow copy of ``cv_results_`` for the CSV artifact (written in the background),
    or None when the search has no results. Raises only on programming errors.
    """
    cv_results = getattr(search, "cv_results_", None)
    if not isinstance(cv_results, dict) or "params" not in cv_results:
        return None
    best_params = getattr(search, "best_params_", None)
    if isinstance(best_params, dict):
        session.log_params({f"best_{k}": _plain(v) for k, v in best_params.items()})
    best_score = _number(getattr(search, "best_score_", None))
    if best_score is not None:
        session.log_metrics({"best_cv_score": best_score})
    limit = None if max_tuning_runs is None else int(max_tuning_runs)
    base = getattr(search, "estimator", None)
    tags = util.estimator_tags(base) if base is not None else {}
    for i in candidate_order(cv_results, getattr(search, "refit", None), limit):
        params = candidate_params(cv_results, i)
        child = session.child_run(
            name=child_name(i, params),
            params=params,
            metrics=candidate_metrics(cv_results, i),
            tags={**tags, "autolog.candidate_index": str(i)},
        )
        if child is not None and not getattr(child, "ended", True):
            child.end(wait=False)
    return {k: (v.copy() if hasattr(v, "copy") else list(v)) for k, v in cv_results.items()}


def cv_results_csv(cv_results: dict[str, Any]) -> str:
    """``cv_results_`` as CSV text (one row per candidate; params column as text)."""
    import pandas as pd

    frame = pd.DataFrame({k: (list(v) if k == "params" else v) for k, v in cv_results.items()})
    if "params" in frame:
        frame["params"] = frame["params"].map(repr)
    return frame.to_csv(index=False)


def fold_metrics(result: Any, function_name: str) -> list[tuple[str, list[float]]]:
    """Per-fold metric series of cross_validate / cross_val_score results.

    cross_val_score returns an array -> ``cv_test_score``; cross_validate returns a dict of
    ``test_<scorer>``, ``train_<scorer>``, ``fit_time``, ``score_time`` arrays -> ``cv_<key>``;
    permutation_test_score -> ``cv_test_score`` and ``permutation_pvalue``; the curves
    (learning_curve, validation_curve) log no metrics, only their one run.
    """
    import numpy as np

    out: list[tuple[str, list[float]]] = []
    if function_name == "cross_val_score":
        arr = np.asarray(result, dtype=float).ravel()
        out.append(("cv_test_score", arr.tolist()))
    elif function_name == "permutation_test_score" and isinstance(result, tuple) and len(result) == 3:
        out.append(("cv_test_score", [float(result[0])]))
        out.append(("permutation_pvalue", [float(result[2])]))
    elif isinstance(result, dict):
        for key, value in result.items():
            if key in ("estimator", "indices"):
                continue
            try:
                arr = np.asarray(value, dtype=float).ravel()
            except (TypeError, ValueError):
                continue
            out.append((f"cv_{key}", arr.tolist()))
    return out


def log_fold_metrics(session: Any, series: list[tuple[str, list[float]]]) -> None:
    """Each series as metric history (step = fold) plus ``<key>_mean`` and ``<key>_std``."""
    import numpy as np

    summary: dict[str, float] = {}
    for key, values in series:
        for fold, value in enumerate(values):
            session.log_metrics({key: value}, step=fold)
        if values:
            arr = np.asarray(values, dtype=float)
            summary[f"{key}_mean"] = float(np.mean(arr))
            summary[f"{key}_std"] = float(np.std(arr))
    if summary:
        session.log_metrics(summary)
