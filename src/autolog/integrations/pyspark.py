"""Spark MLlib (``pyspark.ml``) autologging.

What one ``fit`` logs (``pyspark.ml.base.Estimator.fit``: every estimator, Pipeline,
OneVsRest, CrossValidator, TrainValidationSplit):

* params of the estimator bare, params of nested stages as ``<Stage>.<param>`` with
  deterministic stage names (see :mod:`autolog.integrations._pyspark_params`); tags
  ``estimator_name`` / ``estimator_class``; ``estimator_hierarchy.json`` for composite ones;
* the fitted model, written by Spark's own ML writer in the background, with a signature
  built from the input DataFrame's schema (feature columns only; no Spark job). Models whose
  class is not in ``log_model_allowlist`` are skipped with a tag saying why;
* for CrossValidator / TrainValidationSplit: tuner params, evaluator metric name and
  larger-is-better, ``best_<param>`` and ``best_<metric>`` on the parent, one child run per
  param map (``avg_<metric>``/``std_<metric>`` or ``<metric>``; the best tagged), the best
  model and ``search_results.csv``;
* ``fit(df, [map1, map2])``: one child run per param map, with its params and model.

Featurizer-only fits (StringIndexer, a Pipeline of featurizers...) log nothing. Stages fitted
inside a Pipeline, OneVsRest or tuner log nothing of their own, even when Spark fits them in its
own thread pool (their uids are marked busy while the outer fit runs).

After a fit, ``model.transform(df)`` marks the predictions, and ``Evaluator.evaluate`` on
them logs ``<metricName>_<dataset variable name>`` into the model's run.

Switch per Spark application with the Spark conf ``spark.autolog.enabled=false`` (read at
each fit). Nothing here persists, unpersists or counts the user's DataFrames, and params are
read on the Python side only.
"""

from __future__ import annotations

import fnmatch
import sys
import threading
import weakref
from typing import Any

from autolog.integration import Integration

__all__ = ["DEFAULT_LOG_MODEL_ALLOWLIST", "ENABLED_CONF", "PySparkIntegration"]

ENABLED_CONF = "spark.autolog.enabled"

#: Model classes logged by default. Left out on purpose, because they can be as large as the
#: data: ALSModel (factor matrices), LDA models, Word2VecModel (vocabulary x vectors),
#: FPGrowthModel (frequent itemsets).
DEFAULT_LOG_MODEL_ALLOWLIST: frozenset[str] = frozenset(
    {
        # classification
        "pyspark.ml.classification.LinearSVCModel",
        "pyspark.ml.classification.DecisionTreeClassificationModel",
        "pyspark.ml.classification.GBTClassificationModel",
        "pyspark.ml.classification.LogisticRegressionModel",
        "pyspark.ml.classification.RandomForestClassificationModel",
        "pyspark.ml.classification.NaiveBayesModel",
        "pyspark.ml.classification.MultilayerPerceptronClassificationModel",
        "pyspark.ml.classification.FMClassificationModel",
        "pyspark.ml.classification.OneVsRestModel",
        # clustering
        "pyspark.ml.clustering.BisectingKMeansModel",
        "pyspark.ml.clustering.KMeansModel",
        "pyspark.ml.clustering.GaussianMixtureModel",
        # regression
        "pyspark.ml.regression.AFTSurvivalRegressionModel",
        "pyspark.ml.regression.DecisionTreeRegressionModel",
        "pyspark.ml.regression.GBTRegressionModel",
        "pyspark.ml.regression.GeneralizedLinearRegressionModel",
        "pyspark.ml.regression.LinearRegressionModel",
        "pyspark.ml.regression.RandomForestRegressionModel",
        "pyspark.ml.regression.IsotonicRegressionModel",
        "pyspark.ml.regression.FMRegressionModel",
        # fitted featurizers (stages of pipelines)
        "pyspark.ml.feature.BucketedRandomProjectionLSHModel",
        "pyspark.ml.feature.ChiSqSelectorModel",
        "pyspark.ml.feature.CountVectorizerModel",
        "pyspark.ml.feature.IDFModel",
        "pyspark.ml.feature.ImputerModel",
        "pyspark.ml.feature.MaxAbsScalerModel",
        "pyspark.ml.feature.MinHashLSHModel",
        "pyspark.ml.feature.MinMaxScalerModel",
        "pyspark.ml.feature.OneHotEncoderModel",
        "pyspark.ml.feature.PCAModel",
        "pyspark.ml.feature.RobustScalerModel",
        "pyspark.ml.feature.RFormulaModel",
        "pyspark.ml.feature.StandardScalerModel",
        "pyspark.ml.feature.StringIndexerModel",
        "pyspark.ml.feature.VarianceThresholdSelectorModel",
        "pyspark.ml.feature.VectorIndexerModel",
        "pyspark.ml.feature.UnivariateFeatureSelectorModel",
        # composites (logged only when every nested model is allowed too)
        "pyspark.ml.pipeline.PipelineModel",
        "pyspark.ml.tuning.CrossValidatorModel",
        "pyspark.ml.tuning.TrainValidationSplitModel",
    }
)

SKIPPED_MODEL_TAG = "autolog.model_skipped"
BEST_TAG = "autolog.best_candidate"
_UNKNOWN_DATASET = "unknown_dataset"
_FALSE = frozenset({"false", "0", "no", "off"})
# Modules whose frames are skipped when looking for the user's variable name of a DataFrame.
_INTERNAL = ("autolog", "wrapt", "pyspark", "py4j", "contextlib")


class PySparkIntegration(Integration):
    """Autologging for ``pyspark.ml`` estimators; see the module docstring."""

    name = "pyspark"
    modules = ("pyspark",)
    requires = "pyspark>=3.4"
    tested_up_to = "4.3"
    options = {
        "log_model_allowlist": DEFAULT_LOG_MODEL_ALLOWLIST,
        "log_post_training_metrics": True,
        "max_tuning_runs": None,
    }

    def install(self, patcher: Any) -> None:
        """Patch lazily: ``pyspark.ml`` is never imported here, only when the user imports it."""
        patcher.on_import("pyspark.ml.base", lambda module: _patch_base(patcher, module))
        patcher.on_import(
            "pyspark.ml.evaluation",
            lambda module: patcher.wrap(module.Evaluator, "evaluate", _evaluate_hook),
        )


def _patch_base(patcher: Any, base: Any) -> None:
    import pyspark

    from autolog.integrations import _pyspark_flavor  # noqa: F401  (registers the flavor)

    patcher.wrap(base.Estimator, "fit", _fit_hook)
    patcher.wrap(base.Transformer, "transform", _transform_hook)
    # Pending background model writes need the JVM: stop() waits for them (bounded).
    patcher.wrap(pyspark.SparkContext, "stop", _stop_hook)


# --------------------------------------------------------------------------- shared state


class _IdentityMap:
    """``object -> value`` by identity, holding the objects weakly (DataFrames and models
    may define ``__eq__``; identity is what matters here). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[int, tuple[weakref.ref[Any], Any]] = {}

    def set(self, obj: Any, value: Any) -> None:
        key = id(obj)

        def forget(_: Any, key: int = key) -> None:
            with self._lock:
                entry = self._data.get(key)
                if entry is not None and entry[0]() is None:
                    del self._data[key]

        ref = weakref.ref(obj, forget)
        with self._lock:
            self._data[key] = (ref, value)

    def get(self, obj: Any) -> Any:
        entry = self._data.get(id(obj))
        if entry is None or entry[0]() is not obj:
            return None
        return entry[1]

    def __len__(self) -> int:
        return len(self._data)


class _BusyUids:
    """Uids of stages inside a running autologged fit (reference counted, thread-safe).

    Spark fits tuner candidates and OneVsRest classes in its own thread pool, where the
    engine's context-local "nested call" marker is not set; copies of the stages keep their
    uid, so a fit of a busy uid is known to be an inner fit.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def __contains__(self, uid: Any) -> bool:
        return uid in self._counts

    def add(self, uids: frozenset[str]) -> None:
        with self._lock:
            for uid in uids:
                self._counts[uid] = self._counts.get(uid, 0) + 1

    def remove(self, uids: frozenset[str]) -> None:
        with self._lock:
            for uid in uids:
                left = self._counts.get(uid, 0) - 1
                if left > 0:
                    self._counts[uid] = left
                else:
                    self._counts.pop(uid, None)


class _ModelInfo:
    __slots__ = ("run", "names")

    def __init__(self, run: Any) -> None:
        self.run = run
        # dataset name -> weak ref of the input DataFrame that owns it (collisions get _2...)
        self.names: dict[str, weakref.ref[Any]] = {}


_busy = _BusyUids()
_models = _IdentityMap()  # fitted model -> _ModelInfo
_predictions = _IdentityMap()  # predictions DataFrame -> (_ModelInfo, dataset name)
_runs_with_fits: dict[str, int] = {}  # run id -> fits logged (artifact/metric names of later fits)
_runs_lock = threading.Lock()


# --------------------------------------------------------------------------- fit


def _spark_enabled(dataset: Any) -> bool:
    session = getattr(dataset, "sparkSession", None)
    if session is None:
        from pyspark.sql import SparkSession

        session = SparkSession.getActiveSession()
        if session is None:
            return True
    value = session.conf.get(ENABLED_CONF, "true")
    return str(value).strip().lower() not in _FALSE


def _fit_hook(call: Any) -> Any:
    from autolog.integrations import _pyspark_params as sp

    estimator = call.instance
    if estimator is None or getattr(estimator, "uid", None) in _busy:
        return
    if sp.is_featurizer_only(estimator):
        return
    arguments = call.arguments
    dataset = arguments.get("dataset")
    params = arguments.get("params")
    if not _spark_enabled(dataset):
        return
    tree = sp.build_tree(estimator)
    uids = tree.uids
    _busy.add(uids)
    try:
        with call.session() as s:
            if not s:
                yield
                return
            first = _first_fit_in(s.run.id)
            extra = params if isinstance(params, dict) else None
            cls = type(estimator)
            s.set_tags(
                {
                    "estimator_name": cls.__name__,
                    "estimator_class": f"{cls.__module__}.{cls.__qualname__}",
                }
            )
            s.log_params(tree.params(extra))
            s.log_params(_evaluator_params(tree))
            if tree.is_composite:
                s.log_dict(tree.hierarchy(), _name("estimator_hierarchy", ".json", s, first))
            if s.config.get("log_datasets", True):
                s.log_dict(
                    {"training": _dataset_record(dataset)},
                    _name("datasets/training", ".json", s, first),
                )
            model = yield
            _arm_exit_drain()
            if isinstance(params, (list, tuple)):
                _log_multiple(s, tree, params, model, dataset)
                return
            result = sp.tuning_result(model)
            if result is not None:
                _log_tuning(s, result, first)
                _log_model(s, model.bestModel, estimator, dataset, first)
                _remember(model.bestModel, s.run)
            else:
                _log_model(s, model, estimator, dataset, first)
            _remember(model, s.run)
    finally:
        _busy.remove(uids)


def _dataset_record(dataset: Any) -> dict[str, Any]:
    """Schema-only record of a Spark DataFrame: counting rows or hashing content would run
    Spark jobs over the user's data, so shape and digest stay unknown (None)."""
    from autolog._datasets import make_record, schema_field

    fields = [schema_field(f.name, f.dataType.simpleString()) for f in dataset.schema.fields]
    return make_record(
        source_type=f"{type(dataset).__module__}.{type(dataset).__qualname__}",
        shape=None,
        schema=fields,
        digest=None,
        name="training",
        extra={"num_columns": len(fields)},
    )


def _first_fit_in(run_id: str) -> bool:
    with _runs_lock:
        count = _runs_with_fits.get(run_id, 0)
        _runs_with_fits[run_id] = count + 1
        if len(_runs_with_fits) > 4096:  # runs the user keeps open; old ones are done with
            for key in list(_runs_with_fits)[:2048]:
                del _runs_with_fits[key]
    return count == 0


def _name(stem: str, ext: str, s: Any, first: bool) -> str:
    # A later fit into the same run keeps the earlier fit's artifacts and metrics.
    return f"{stem}{ext}" if first else f"{stem}_{s.suffix}{ext}"


def _evaluator_params(tree: Any) -> dict[str, str]:
    """``<Evaluator>.isLargerBetter`` for evaluators in the tree (one cheap JVM call each)."""
    evaluation = sys.modules.get("pyspark.ml.evaluation")
    if evaluation is None:
        return {}
    out = {}
    for stage in tree.stages:
        if stage is not tree.root and isinstance(stage.obj, evaluation.Evaluator):
            out[f"{stage.name}.isLargerBetter"] = str(bool(stage.obj.isLargerBetter()))
    return out


def _log_tuning(s: Any, result: Any, first: bool) -> None:
    best = result.best
    s.log_params({f"best_{key}": value for key, value in best.tuned.items()})
    metric_key = (lambda k: f"best_{k}") if first else (lambda k: f"best_{k}_{s.suffix}")
    s.log_metrics({metric_key(key): value for key, value in best.metrics.items()})
    limit = s.config.get("max_tuning_runs")
    chosen = result.ranked()
    if limit is not None:
        chosen = chosen[: max(0, int(limit))]
    run_ids: dict[int, str] = {}
    for cand in sorted(chosen, key=lambda c: c.index):
        tags = {"autolog.candidate_index": str(cand.index), "autolog.rank": str(cand.rank)}
        if cand.index == result.best_index:
            tags[BEST_TAG] = "true"
        child = s.child_run(
            name=f"{result.tuned_name}_{cand.index}",
            params=cand.params,
            metrics=cand.metrics,
            tags=tags,
        )
        if child is not None:
            run_ids[cand.index] = child.id
    s.log_text(result.csv(run_ids), _name("search_results", ".csv", s, first))


def _log_multiple(s: Any, tree: Any, param_maps: Any, models: Any, dataset: Any) -> None:
    for index, (param_map, model) in enumerate(zip(param_maps, models)):
        child = s.child_run(
            name=f"{tree.root.name}_{index}",
            params=tree.params(param_map),
            tags={"autolog.candidate_index": str(index)},
        )
        if child is None:
            continue
        reason = _skip_reason(model, s.config)
        if reason is not None:
            child.set_tag(SKIPPED_MODEL_TAG, reason)
        elif s.config.get("log_models", True):
            from autolog._models import log_model

            signature = _signature(tree.root.obj, model, dataset) if s.config.get(
                "log_model_signatures", True
            ) else None
            log_model(model, "model", signature=signature, run=child, background=True)
        _remember(model, child)


def _log_model(s: Any, model: Any, estimator: Any, dataset: Any, first: bool) -> None:
    if not s.config.get("log_models", True):
        return
    reason = _skip_reason(model, s.config)
    if reason is not None:
        s.set_tags({SKIPPED_MODEL_TAG: reason})
        return
    s.log_model(
        model,
        _name("model", "", s, first),
        signature=lambda: _signature(estimator, model, dataset),
    )


def _arm_exit_drain() -> None:
    from autolog.integrations._pyspark_flavor import arm_exit_drain

    arm_exit_drain()


def _remember(model: Any, run: Any) -> None:
    _models.set(model, _ModelInfo(run))


# --------------------------------------------------------------------------- models


def _allowed(cls: type, patterns: Any) -> bool:
    full = f"{cls.__module__}.{cls.__qualname__}"
    for pattern in patterns:
        if pattern in (full, cls.__name__) or fnmatch.fnmatchcase(full, pattern):
            return True
    return False


def _skip_reason(model: Any, config: Any) -> str | None:
    """Why ``model`` is not logged (a class outside the allowlist), or None to log it."""
    from pyspark.ml.base import Model

    patterns = config.get("log_model_allowlist")
    if patterns is None:
        patterns = DEFAULT_LOG_MODEL_ALLOWLIST
    elif isinstance(patterns, str):
        patterns = [patterns]
    for obj in _nested_models(model):
        # Plain transformers (VectorAssembler...) hold no fitted state: always fine.
        if isinstance(obj, Model) and not _allowed(type(obj), patterns):
            name = type(obj).__name__
            where = "" if obj is model else f" (inside {type(model).__name__})"
            return (
                f"{name}{where} is not in log_model_allowlist; models that can be as large as "
                f"the data are left out by default. To log it: autolog.autolog(pyspark="
                f"{{'log_model_allowlist': {{..., '{name}'}}}})"
            )
    return None


def _nested_models(model: Any) -> list[Any]:
    out = [model]
    stages = getattr(model, "stages", None)
    if isinstance(stages, list):
        for stage in stages:
            out.extend(_nested_models(stage))
    for attr in ("bestModel",):
        inner = getattr(model, attr, None)
        if inner is not None:
            out.extend(_nested_models(inner))
    models = getattr(model, "models", None)
    if isinstance(models, list):
        for inner in models:
            out.extend(_nested_models(inner))
    return out


_INPUT_PARAMS = ("featuresCol", "inputCol", "inputCols")


def _signature(estimator: Any, model: Any, dataset: Any) -> Any:
    """Signature from the training DataFrame's schema: the columns the stages read.

    Only schema metadata is read (no Spark job). Falls back to every column except labels and
    weights when no stage names its input columns.
    """
    from autolog._models import Signature
    from autolog.integrations._pyspark_flavor import spark_schema
    from autolog.integrations._pyspark_params import build_tree

    schema = dataset.schema
    available = [f.name for f in schema.fields]
    wanted: set[str] = set()
    excluded: set[str] = set()
    for stage in build_tree(estimator).stages:
        obj = stage.obj
        for name in _INPUT_PARAMS:
            if obj.hasParam(name) and obj.isDefined(name):
                value = obj.getOrDefault(name)
                wanted.update(value if isinstance(value, (list, tuple)) else [value])
        for name in ("labelCol", "weightCol"):
            if obj.hasParam(name) and obj.isDefined(name):
                excluded.add(obj.getOrDefault(name))
    columns = [c for c in available if c in wanted]
    if not columns:
        columns = [c for c in available if c not in excluded]
    outputs = None
    if model.hasParam("predictionCol") and model.isDefined("predictionCol"):
        from autolog._models import ColSpec, ColumnSchema

        outputs = ColumnSchema((ColSpec(model.getOrDefault("predictionCol"), "float64"),))
    return Signature(spark_schema(schema, columns), outputs)


# --------------------------------------------------------------------------- post-training


def _transform_hook(call: Any) -> Any:
    info = _models.get(call.instance) if len(_models) else None
    if info is None or not call.config.get("log_post_training_metrics", True):
        return
    dataset = call.arguments.get("dataset")
    name = _caller_variable(dataset)
    predictions = yield
    if predictions is not None:
        _predictions.set(predictions, (info, _unique_name(info, name, dataset)))


def _unique_name(info: _ModelInfo, name: str, dataset: Any) -> str:
    candidate, n = name, 1
    while True:
        ref = info.names.get(candidate)
        if ref is None or ref() is None or ref() is dataset:
            info.names[candidate] = weakref.ref(dataset)
            return candidate
        n += 1
        candidate = f"{name}_{n}"


def _caller_variable(value: Any) -> str:
    """The name of a variable holding ``value`` in the nearest user frame, or a placeholder."""
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not module.split(".", 1)[0] in _INTERNAL:
            break
        frame = frame.f_back
    if frame is None:
        return _UNKNOWN_DATASET
    candidates = [k for k, v in frame.f_locals.items() if v is value]
    public = [k for k in candidates if not k.startswith("_")]
    chosen = (public or candidates or [_UNKNOWN_DATASET])[0]
    return chosen


def _evaluate_hook(call: Any) -> Any:
    if not len(_predictions):
        return
    arguments = call.arguments
    entry = _predictions.get(arguments.get("dataset"))
    if entry is None:
        return
    info, dataset_name = entry
    value = yield
    from autolog.integrations._pyspark_params import metric_name_of

    metric = metric_name_of(call.instance, arguments.get("params"))
    info.run.log_metric(f"{metric}_{dataset_name}", float(value))


# --------------------------------------------------------------------------- SparkContext.stop


def _stop_hook(call: Any) -> Any:
    from autolog.integrations._pyspark_flavor import drain, pending

    if not pending():
        return
    drain()  # bounded: DRAIN_TIMEOUT_S
    yield
