"""Training metrics of the scikit-learn integration.

Split in two halves so the training thread pays only for predictions:

* :func:`prepare` runs on the training thread right after ``fit``: one prediction pass on the
  (sampled) training data -- ``predict_proba`` only, with the labels derived from it, for the
  estimators where ``predict`` is the argmax of ``predict_proba`` -- and private copies of what
  the metrics need.
* :meth:`TrainingEval.compute` runs on the background worker: all metrics from those arrays,
  each metric computed at most once (precision, recall and f1 come from one call).

Metric names are MLflow's (``training_accuracy_score``, ``training_roc_auc``...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from autolog.integrations import _sklearn_util as util

PREFIX = "training_"

# Classes whose ``predict`` is exactly ``classes_[argmax(predict_proba)]``: one prediction pass
# serves every metric. Matched by exact class (a user subclass may override either method).
_PREDICT_IS_ARGMAX_PROBA = frozenset(
    {
        "RandomForestClassifier",
        "ExtraTreesClassifier",
        "DecisionTreeClassifier",
        "ExtraTreeClassifier",
        "LogisticRegression",
        "GaussianNB",
        "MultinomialNB",
        "BernoulliNB",
        "ComplementNB",
        "CategoricalNB",
        "GradientBoostingClassifier",
        "HistGradientBoostingClassifier",
        "MLPClassifier",
        "LinearDiscriminantAnalysis",
        "QuadraticDiscriminantAnalysis",
    }
)


def _predict_from_proba(est: Any) -> bool:
    final = util.final_estimator(est)
    cls = type(final)
    return cls.__name__ in _PREDICT_IS_ARGMAX_PROBA and cls.__module__.startswith("sklearn.")


def _method_owner(est: Any, name: str) -> type | None:
    for klass in type(est).__mro__:
        if name in klass.__dict__:
            return klass
    return None


def _score_kind(est: Any) -> str | None:
    """'accuracy' / 'r2' when ``est.score`` is exactly that metric on ``predict``, else None."""
    import sklearn.base as base

    seen = 0
    while seen < 8:  # Pipeline of search of Pipeline...: follow delegation a few levels
        seen += 1
        owner = _method_owner(est, "score")
        if owner is base.ClassifierMixin:
            return "accuracy"
        if owner is base.RegressorMixin:
            return "r2"
        if util.is_search(est):
            if getattr(est, "scoring", None) is not None or not hasattr(est, "best_estimator_"):
                return None
            est = est.best_estimator_
            continue
        final = util.final_estimator(est)
        if final is est:
            return None
        est = final
    return None


def _metric_fn(name: str):
    """A ``sklearn.metrics`` function, unwrapped so our own calls never hit our metric hook."""
    import sklearn.metrics as metrics

    fn = getattr(metrics, name)
    return getattr(fn, "__wrapped__", fn)


@dataclass
class TrainingEval:
    """Private copies of everything the training metrics and plots need (see :func:`prepare`)."""

    kind: str | None
    y_true: Any = None
    y_pred: Any = None
    proba: Any = None
    classes: Any = None
    sample_weight: Any = None
    labels: Any = None
    x_sample: Any = None
    score: float | None = None
    score_kind: str | None = None
    pos_label: Any = None
    sampled_rows: tuple[int, int] | None = None  # (used, total) when sampled
    want_score: bool = False  # est.score is not a metric we compute from the predictions
    y_for_score: Any = None
    x_eval: Any = None  # sampled training rows kept for a deferred prediction pass
    extra: dict[str, Any] = field(default_factory=dict)

    def run_predictions(self, est: Any, xs: Any = None) -> None:
        """The one prediction pass: ``predict_proba`` (labels derived from it where that is
        exactly ``predict``), else ``predict``; plus ``est.score`` when it is not one of our
        metrics. ``xs`` defaults to the rows kept by ``prepare(defer=True)``. Prediction
        errors leave the affected fields None; never raises for the estimator's own errors."""
        import numpy as np

        xs = self.x_eval if xs is None else xs
        self.x_eval = None
        if xs is None:
            return
        if self.kind == "classifier" and self.y_true is not None:
            proba = None
            if self.classes is not None and hasattr(est, "predict_proba"):
                try:
                    proba = est.predict_proba(xs)
                except Exception:
                    proba = None
                if not (isinstance(proba, np.ndarray) and proba.ndim == 2
                        and proba.shape[1] == len(self.classes)):
                    proba = None
            self.proba = proba
            if proba is not None and _predict_from_proba(est):
                self.y_pred = self.classes.take(np.argmax(proba, axis=1))
            else:
                try:
                    self.y_pred = np.asarray(est.predict(xs))
                except Exception:
                    self.y_pred = None
        elif self.kind == "regressor" and self.y_true is not None:
            try:
                self.y_pred = np.asarray(est.predict(xs))
            except Exception:
                self.y_pred = None
        if self.want_score:
            self.score = _call_score(est, xs, self.y_for_score, self.sample_weight)
        self.y_for_score = None

    def compute(self) -> dict[str, float]:
        """All training metrics that can be computed; failing ones are left out. Never raises."""
        out: dict[str, float] = {}
        try:
            if self.kind == "classifier":
                out.update(self._classifier())
            elif self.kind == "regressor":
                out.update(self._regressor())
            elif self.kind == "clusterer":
                out.update(self._clusterer())
        except Exception:
            pass
        if self.score is not None:
            out[PREFIX + "score"] = self.score
        elif self.score_kind == "accuracy" and PREFIX + "accuracy_score" in out:
            out[PREFIX + "score"] = out[PREFIX + "accuracy_score"]
        elif self.score_kind == "r2" and PREFIX + "r2_score" in out:
            out[PREFIX + "score"] = out[PREFIX + "r2_score"]
        return {k: float(v) for k, v in out.items() if _is_number(v)}

    def _classifier(self) -> dict[str, float]:
        import numpy as np

        y, pred, sw = self.y_true, self.y_pred, self.sample_weight
        out: dict[str, float] = {}
        if y is None or pred is None:
            return out
        out[PREFIX + "accuracy_score"] = _metric_fn("accuracy_score")(y, pred, sample_weight=sw)
        binary = self.classes is not None and len(self.classes) == 2
        if binary and self.pos_label is not None:
            kwargs = {"average": "binary", "pos_label": self.pos_label}
        else:
            kwargs = {"average": "weighted"}
        try:
            p, r, f, _ = _metric_fn("precision_recall_fscore_support")(
                y, pred, sample_weight=sw, zero_division=0, **kwargs
            )
            out[PREFIX + "precision_score"] = p
            out[PREFIX + "recall_score"] = r
            out[PREFIX + "f1_score"] = f
        except Exception:
            pass
        proba = self.proba
        if proba is None or self.classes is None:
            return out
        try:
            out[PREFIX + "log_loss"] = _metric_fn("log_loss")(
                y, proba, sample_weight=sw, labels=self.classes
            )
        except Exception:
            pass
        try:
            roc_auc = _metric_fn("roc_auc_score")
            if binary:
                pos = self.pos_label if self.pos_label is not None else self.classes[1]
                col = list(self.classes).index(pos)
                out[PREFIX + "roc_auc"] = roc_auc(np.asarray(y) == pos, proba[:, col], sample_weight=sw)
            else:
                # one-vs-one does not take sample weights; fall back to one-vs-rest with them
                out[PREFIX + "roc_auc"] = roc_auc(
                    y, proba, average="weighted", multi_class="ovo" if sw is None else "ovr",
                    labels=self.classes, sample_weight=sw,
                )
        except Exception:
            pass
        return out

    def _regressor(self) -> dict[str, float]:
        import math

        y, pred, sw = self.y_true, self.y_pred, self.sample_weight
        if y is None or pred is None:
            return {}
        mse = _metric_fn("mean_squared_error")(y, pred, sample_weight=sw)
        return {
            PREFIX + "mean_squared_error": mse,
            PREFIX + "root_mean_squared_error": math.sqrt(mse),
            PREFIX + "mean_absolute_error": _metric_fn("mean_absolute_error")(y, pred, sample_weight=sw),
            PREFIX + "r2_score": _metric_fn("r2_score")(y, pred, sample_weight=sw),
        }

    def _clusterer(self) -> dict[str, float]:
        import numpy as np

        labels, x = self.labels, self.x_sample
        if labels is None or x is None:
            return {}
        n_labels = len(np.unique(labels))
        if not 2 <= n_labels <= len(labels) - 1:
            return {}
        return {PREFIX + "silhouette_score": _metric_fn("silhouette_score")(x, labels)}


def _is_number(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


def _call_score(est: Any, X: Any, y: Any, sw: Any) -> float | None:
    try:
        if sw is not None:
            try:
                return float(est.score(X, y, sample_weight=sw))
            except TypeError:  # score without sample_weight
                pass
        return float(est.score(X, y)) if y is not None else float(est.score(X))
    except Exception:
        return None


def _private_rows(data: Any) -> Any:
    """A copy of sampled rows the user cannot mutate under us (fancy indexing already copies)."""
    if data is None:
        return None
    if hasattr(data, "copy"):
        return data.copy()
    if isinstance(data, list):
        return list(data)
    return data


def prepare(est: Any, X: Any, y: Any, sample_weight: Any, *, fit_result: Any = None,
            function_name: str = "fit", pos_label: Any = None, defer: bool = False) -> TrainingEval | None:
    """Private copies of what the training metrics need (see :meth:`TrainingEval.compute`).

    Rows: at most ``MAX_METRIC_ROWS`` (and ``MAX_METRIC_CELLS`` cells), an evenly spaced sample
    above that (``sampled_rows`` says so). With ``defer=False`` the one prediction pass runs
    here, on the training thread; with ``defer=True`` the caller runs
    :meth:`TrainingEval.run_predictions` later on a private copy of the estimator (background).
    Returns None when there is nothing to compute (no X). Raises only on programming errors.
    """
    import numpy as np

    if X is None:
        return None
    kind = util.estimator_type(est)
    total = util.n_rows(X)
    idx = None
    if total is not None:
        n_cols = util.n_columns(X)
        keep = min(util.MAX_METRIC_ROWS, max(1_000, util.MAX_METRIC_CELLS // max(n_cols, 1)))
        idx = util.sample_index(total, keep)
    xs = util.take_rows(X, idx)
    ys = util.take_rows(y, idx)
    ev = TrainingEval(kind=kind, pos_label=pos_label)
    if idx is not None:
        ev.sampled_rows = (len(idx), total)
    ev.sample_weight = util.to_numpy_copy(util.take_rows(sample_weight, idx))
    ev.score_kind = _score_kind(est) if kind in ("classifier", "regressor") else None
    if kind in ("classifier", "regressor") and ys is not None:
        ev.y_true = util.to_numpy_copy(ys)
    if kind == "classifier" and hasattr(est, "classes_"):
        classes = np.array(est.classes_, copy=True)
        ev.classes = classes if classes.ndim == 1 else None  # multi-output: no shared metrics
    if kind == "clusterer":
        labels = fit_result if function_name == "fit_predict" else getattr(est, "labels_", None)
        if labels is not None and util.n_rows(labels) == total:
            keep_rows = util.sample_index(total, util.MAX_SILHOUETTE_ROWS)
            ev.labels = np.array(util.take_rows(labels, keep_rows), copy=True)
            ev.x_sample = _private_rows(util.take_rows(X, keep_rows))
    ev.want_score = ev.score_kind is None and hasattr(est, "score")
    ev.y_for_score = ys if ev.want_score else None
    if defer:
        ev.x_eval = xs if idx is not None else _private_rows(xs)
        if ev.want_score and ys is not None and idx is None:
            ev.y_for_score = _private_rows(ys)
    else:
        ev.run_predictions(est, xs)
    return ev


def out_of_fold(est: Any, y: Any, predictions: Any, sample_weight: Any, *,
                pos_label: Any = None) -> TrainingEval | None:
    """Metrics input for ``cross_val_predict`` output (labels or values, no probabilities).

    Returns None for estimators that are neither classifiers nor regressors. Never raises
    for bad data (the metrics that fail are left out later)."""
    import numpy as np

    kind = util.estimator_type(est)
    if kind not in ("classifier", "regressor") or predictions is None:
        return None
    ev = TrainingEval(kind=kind, pos_label=pos_label)
    ev.y_true = util.to_numpy_copy(y)
    ev.y_pred = np.array(predictions, copy=True)
    ev.sample_weight = util.to_numpy_copy(sample_weight)
    if kind == "classifier":
        ev.classes = np.unique(ev.y_true) if ev.y_true is not None and ev.y_true.ndim == 1 else None
    return ev
