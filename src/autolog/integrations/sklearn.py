"""scikit-learn autologging.

What one ``fit`` (or ``fit_transform`` / ``fit_predict``) records, into a managed run or the
user's active run:

* params: ``get_params(deep=True)`` (Pipeline steps keep their ``step__`` prefixes; nested
  estimators appear as class names), tags ``estimator_name`` / ``estimator_class`` -- logged
  before the original runs, so a fit that raises leaves them and a FAILED run;
* training metrics with MLflow's names (``training_accuracy_score``, ``training_roc_auc``,
  ``training_mean_squared_error``...), from one prediction pass on at most 100k rows (an evenly
  spaced sample above that, stated in the tag ``autolog.training_metrics_sample``); computed
  on the background worker;
* the fitted estimator as model ``model`` (signature; input example when asked), written in
  the background; plots and dataset records, rendered in the background;
* searches (GridSearchCV, RandomizedSearchCV, HalvingGridSearchCV, HalvingRandomSearchCV):
  ``best_<param>`` params, ``best_cv_score``, ``cv_results.csv``, the best estimator as the
  model, and one child run per candidate built from ``cv_results_`` in this process;
* ``cross_validate`` / ``cross_val_score`` / ``cross_val_predict``: one run, per-fold scores
  as metric history (step = fold) plus mean and std;
* ``partial_fit``: every call on the same estimator logs into the same run, one step per call
  (see :func:`_partial_fit`);
* post-training metrics: ``model.score(X, y)`` and ``sklearn.metrics`` functions applied to a
  prediction of an autologged model go to that model's run as ``<metric>_<dataset>``.

Importing this module does not import scikit-learn; :meth:`SklearnIntegration.install` runs
once the user imports it, and never imports a submodule the user did not import (metrics and
model_selection are patched when the user imports them).
"""

from __future__ import annotations

import atexit
import threading
import weakref
from typing import Any

from autolog.integration import Integration
from autolog.integrations import _sklearn_post as _post

__all__ = ["SklearnIntegration"]

_FIT_ATTRS = ("fit", "fit_transform", "fit_predict")
_PREDICT_ATTRS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform")
_EAGER_ATTRS = (*_FIT_ATTRS, "partial_fit")
_EVAL_ATTRS = (*_PREDICT_ATTRS, "score")
# Mixins that define fit-like methods estimators inherit without having them in their own
# __dict__ (TransformerMixin.fit_transform, ClusterMixin.fit_predict...).
_MIXINS = ("TransformerMixin", "ClusterMixin", "OutlierMixin")
# Functions that fit clones of an estimator many times: one run each, not one per inner fit.
_CV_FUNCTIONS = ("cross_validate", "cross_val_score", "cross_val_predict", "learning_curve",
                 "validation_curve", "permutation_test_score")
_METRIC_EXCLUDE = frozenset({"check_scoring", "get_scorer", "make_scorer", "get_scorer_names"})
_EXAMPLE_ROWS = 5


class SklearnIntegration(Integration):
    """Autologging for scikit-learn estimators, searches, cross-validation and metrics.

    Options (besides the global ones): ``log_post_training_metrics`` (True),
    ``log_plots`` (True), ``max_tuning_runs`` (None = a child run for every candidate; an int
    keeps the best-ranked ones), ``pos_label`` (None = weighted averages; a label makes binary
    precision/recall/f1 use it).
    """

    name = "sklearn"
    modules = ("sklearn",)
    requires = "scikit-learn>=1.2"
    tested_up_to = "1.9"
    options = {
        "log_post_training_metrics": True,
        "log_plots": True,
        "max_tuning_runs": None,
        "pos_label": None,
    }

    def install(self, patcher: Any) -> None:
        """Patch the fit-like methods of every estimator class (existing and future), then
        metrics, model_selection and sklearn's joblib task wrapper as the user imports them.
        Prediction and score methods are patched lazily, on the class of the first estimator
        of that class an autologged fit returns (post-training metrics need no more), which
        keeps enabling and importing cheap. Imports only ``sklearn.base`` (loaded by
        ``import sklearn`` itself)."""
        global _patcher
        import sklearn.base as base

        from autolog.integrations import _sklearn_util as util

        _patcher = patcher
        patcher.wrap_subclasses(base.BaseEstimator, _EAGER_ATTRS, _estimator_hook,
                                include=_make_include(patcher, util))
        for name in _MIXINS:
            mixin = getattr(base, name, None)
            if mixin is None:
                continue
            for attr in _EAGER_ATTRS:
                if attr in mixin.__dict__:
                    patcher.wrap(mixin, attr, _estimator_hook)
        patcher.on_import("sklearn.metrics", lambda module: _patch_metrics(patcher, module))
        patcher.on_import("sklearn.model_selection._validation",
                          lambda module: _patch_cv(patcher, module))
        patcher.on_import("sklearn.model_selection", lambda module: _patch_cv(patcher, module))
        patcher.on_import("sklearn.utils.parallel", lambda module: _patch_parallel(patcher, module))


_patcher: Any = None  # the installed integration's patcher (lazy patches go through it)
_eval_hooked: "weakref.WeakKeyDictionary[type, Any]" = weakref.WeakKeyDictionary()
_eval_lock = threading.Lock()


def _ensure_eval_hooks(est: Any) -> None:
    """Patch predict / predict_proba / ... / score where ``type(est)`` resolves them (its own
    class or the base or mixin defining them), once per class and install."""
    patcher = _patcher
    cls = type(est)
    if patcher is None or patcher.reverted or _eval_hooked.get(cls) is patcher:
        return
    from autolog.integrations import _sklearn_util as util

    with _eval_lock:
        for attr in _EVAL_ATTRS:
            for klass in cls.__mro__:
                if attr in klass.__dict__:
                    value = klass.__dict__[attr]
                    if (klass is not object and not isinstance(value, property)
                            and not util.is_foreign_class(klass)):
                        patcher.wrap(klass, attr, _estimator_hook)
                    break
        _eval_hooked[cls] = patcher


def _make_include(patcher: Any, util: Any):
    """Class filter: skip other frameworks' classes. A class that hides one of our attributes
    behind a property (FeatureAgglomeration.fit_predict) gets its other attributes wrapped
    here, one by one, since the engine wraps only functions and descriptors."""

    def include(cls: type) -> bool:
        if util.is_foreign_class(cls):
            return False
        own = cls.__dict__
        if any(isinstance(own.get(attr), property) for attr in _EAGER_ATTRS):
            for attr in _EAGER_ATTRS:
                if attr in own and not isinstance(own[attr], property):
                    patcher.wrap(cls, attr, _estimator_hook)
            return False
        return True

    return include


def _patch_metrics(patcher: Any, module: Any) -> None:
    import inspect

    for name in getattr(module, "__all__", ()):
        if name in _METRIC_EXCLUDE or name.startswith("plot_"):
            continue
        fn = getattr(module, name, None)
        if fn is None or inspect.isclass(fn) or not callable(fn):
            continue
        patcher.wrap(module, name, _metric_hook, when=_is_ours)


def _patch_cv(patcher: Any, module: Any) -> None:
    for name in _CV_FUNCTIONS:
        if callable(getattr(module, name, None)):
            patcher.wrap(module, name, _cv_hook)


def _patch_parallel(patcher: Any, module: Any) -> None:
    wrapper_cls = getattr(module, "_FuncWrapper", None)
    if isinstance(wrapper_cls, type) and "__init__" in wrapper_cls.__dict__:
        patcher.wrap(wrapper_cls, "__init__", _task_hook, nested=True)


# ------------------------------------------------------------------------------------------
# joblib tasks: sklearn wraps every parallel task in _FuncWrapper(function) in the calling
# thread; inside an autologged call we hand the task our context so that the fits it runs in
# threads (threading backend, RandomForest with n_jobs) are nested calls, not new runs.


def _task_hook(call: Any):
    if not call.nested or not call.args:
        return
    call.args = (_CarriedTask(call.args[0]), *call.args[1:])
    yield


class _CarriedTask:
    """A joblib task function that runs as part of the autologged call that created it.

    Slots only: sklearn's ``_FuncWrapper`` copies the task's ``__dict__`` onto itself, and the
    carried context must not end up there (contexts cannot be pickled for loky workers).
    Pickles as the bare function: a worker process has no autologged call to belong to.
    """

    __slots__ = ("_fn", "_carried")

    def __init__(self, fn: Any) -> None:
        from autolog.integration import carry_context

        self._fn = fn
        self._carried = carry_context(fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._carried(*args, **kwargs)

    def __reduce__(self) -> Any:
        return (_same, (self._fn,))


def _same(fn: Any) -> Any:
    return fn


# ------------------------------------------------------------------------------------------
# dispatch


def _estimator_hook(call: Any):
    name = call.function_name
    if call.instance is None:
        return  # a classmethod or an unbound call we cannot attribute to an estimator
    if name in _FIT_ATTRS:
        yield from _fit(call)
    elif name == "partial_fit":
        yield from _partial_fit(call)
    elif name == "score":
        yield from _score(call)
    else:
        yield from _predict(call)


# ------------------------------------------------------------------------------------------
# fit


_fit_counts: dict[str, int] = {}
_fit_counts_lock = threading.Lock()


def _next_fit_step(run_id: str) -> int:
    """0 for the first autologged fit in a run, 1 for the second...: metric history steps."""
    with _fit_counts_lock:
        n = _fit_counts.get(run_id, 0)
        _fit_counts[run_id] = n + 1
        if len(_fit_counts) > 10_000:
            _fit_counts.clear()
    return n


def _fit(call: Any):
    from autolog.integrations import _sklearn_post as post
    from autolog.integrations import _sklearn_util as util

    est = call.instance
    cfg = call.config
    _close_partial(est, reason="fit")
    with call.session() as s:
        if s.run is None:  # exclusive, with a user run active
            yield
            return
        s.log_params(util.flat_params(est))
        s.set_tags(util.estimator_tags(est))
        X, y, sample_weight = util.fit_data(call)
        datasets = _dataset_snapshots(X, y) if cfg.get("log_datasets") else None
        result = yield
        _after_fit(s, call, est, X, y, sample_weight, result, datasets)
        if cfg.get("log_post_training_metrics"):
            post.register_fitted(est, s.run)
            _ensure_eval_hooks(est)


def _after_fit(s: Any, call: Any, est: Any, X: Any, y: Any, sample_weight: Any, result: Any,
               datasets: Any, *, step: int | None = None) -> None:
    """Everything after a successful fit. On this thread: search children, one pickle of the
    fitted estimator and bounded copies of the training rows. The prediction pass, metrics,
    plots and the model files are produced from that pickle by the background worker, so the
    user's estimator may be refitted or mutated right away. ``step`` is given by partial_fit
    (predictions then run here: batches are small and pickling each one would cost more)."""
    from autolog.integrations import _sklearn_metrics as metrics
    from autolog.integrations import _sklearn_search as search
    from autolog.integrations import _sklearn_util as util

    cfg = call.config
    run = s.run
    partial = step is not None
    cv_results = None
    is_search = util.is_search(est)
    if is_search:
        cv_results = search.log_search(s, est, cfg.get("max_tuning_runs"))
    n = _next_fit_step(run.id)
    if step is None:
        step = n
    model_path = None
    if not partial and cfg.get("log_models") and (not is_search or hasattr(est, "best_estimator_")):
        # a second fit into the same (user) run keeps the first model: same rule as params
        model_path = "model" if n == 0 else f"model_{s.suffix}"
    frozen = None
    if not partial:
        frozen = _pickle_or_warn(est, warn=model_path is not None)
        if frozen is None:
            model_path = None
    ev = metrics.prepare(est, X, y, sample_weight, fit_result=result,
                         function_name=call.function_name, pos_label=cfg.get("pos_label"),
                         defer=frozen is not None)
    if ev is not None and ev.sampled_rows is not None:
        used, total = ev.sampled_rows
        s.set_tags({"autolog.training_metrics_sample": f"{used} of {total} rows, evenly spaced"})
    plots = None
    if cfg.get("log_plots") and not partial:
        plots = True if frozen is not None else _plot_inputs(est)
    model_job = None
    if model_path is not None:
        example = util.head(X, _EXAMPLE_ROWS) if X is not None else None
        model_job = (model_path, example, bool(cfg.get("log_model_signatures", True)),
                     bool(cfg.get("log_input_examples", False)), is_search)
    suffix = "" if n == 0 else f"-{s.suffix}"
    _background(_finish_fit, run, ev, step, frozen, plots, datasets, cv_results, suffix, model_job)


def _pickle_or_warn(est: Any, *, warn: bool) -> bytes | None:
    """The fitted estimator as pickle bytes, or None (with the documented warning when its
    model was to be logged) for an estimator that cannot be pickled."""
    import pickle

    try:
        return pickle.dumps(est, protocol=5)
    except Exception as exc:
        if warn:
            import warnings

            from autolog._errors import AutologWarning

            # the user's data, not an autolog bug: a warning even in strict mode
            warnings.warn(f"autolog: the model of {type(est).__name__} was not logged: cannot pickle "
                          f"it ({type(exc).__name__}: {exc}); params and metrics are logged",
                          AutologWarning, stacklevel=2)
        return None


def _signature(example: Any, predictions: Any) -> Any:
    from autolog._models import infer_signature

    if predictions is not None:
        try:
            return infer_signature(example, predictions[:_EXAMPLE_ROWS])
        except Exception:
            pass
    return infer_signature(example)


def _plot_inputs(est: Any) -> tuple[Any, Any, Any] | None:
    import numpy as np

    from autolog.integrations import _sklearn_util as util

    final = util.final_estimator(est)
    importances = coefficients = None
    try:
        if hasattr(final, "feature_importances_"):
            importances = np.array(final.feature_importances_, dtype=float, copy=True)
        elif hasattr(final, "coef_"):
            coefficients = np.array(final.coef_, dtype=float, copy=True)
    except Exception:
        pass
    names = getattr(est, "feature_names_in_", None)
    if names is None:
        names = getattr(final, "feature_names_in_", None)
    names = list(names) if names is not None else None
    return importances, coefficients, names


def _background(fn: Any, *args: Any) -> None:
    from autolog._tracking import submit_background

    submit_background(fn, *args)


def _finish_fit(run: Any, ev: Any, step: int, frozen: bytes | None, plots: Any, datasets: Any,
                cv_results: Any, suffix: str, model_job: Any) -> None:
    """Background half of a fit: predictions on the frozen copy, metrics, the model files,
    cv_results.csv, dataset records, plots. Failures surface as one AutologWarning."""
    copy = None
    if frozen is not None:
        import pickle

        copy = pickle.loads(frozen)
        if ev is not None:
            ev.run_predictions(copy)
    if ev is not None:
        values = ev.compute()
        if values:
            run.log_metrics(values, step=step)
    if model_job is not None and copy is not None:
        from autolog._models import log_model

        path, example, with_signature, with_example, is_search = model_job
        model = copy.best_estimator_ if is_search else copy
        signature: Any = False
        if with_signature and example is not None:
            signature = _signature(example, ev.y_pred if ev is not None else None)
        log_model(model, path, signature=signature, input_example=example if with_example else None,
                  run=run)
    if cv_results is not None:
        from autolog.integrations._sklearn_search import cv_results_csv

        run.log_text(cv_results_csv(cv_results), f"cv_results{suffix}.csv")
    if datasets:
        _log_datasets(run, datasets, suffix)
    if plots is not None:
        from autolog.integrations._sklearn_plots import render

        inputs = _plot_inputs(copy) if plots is True else plots
        for name, png in render(ev, *inputs).items():
            stem, ext = name.rsplit(".", 1)
            run.log_artifact_bytes(png, f"{stem}{suffix}.{ext}")


def _log_datasets(run: Any, datasets: list[tuple[str, Any]], suffix: str) -> None:
    records = {name: snap.record(name) for name, snap in datasets}
    run.log_dict(records, f"datasets/training{suffix}.json")
    tags = {f"dataset.{name}.digest": rec["digest"] for name, rec in records.items() if rec.get("digest")}
    if tags:
        run.set_tags(tags, on_conflict="rename", suffix=suffix.lstrip("-") or None)


# ------------------------------------------------------------------------------------------
# partial_fit: the estimator keeps one run open across calls; each call is one step. The run
# ends FINISHED when the estimator is fitted from scratch, garbage-collected, or at exit
# (its latest model is logged then); FAILED when a partial_fit raises. Inside a user run the
# calls log into that run instead.


class _PartialState:
    __slots__ = ("run", "owned", "steps", "seen", "model_cfg", "__weakref__")

    def __init__(self, run: Any, owned: bool) -> None:
        self.run = run
        self.owned = owned
        self.steps = 0
        self.seen = 0
        self.model_cfg: Any = None


_partial: "weakref.WeakKeyDictionary[Any, _PartialState]" = weakref.WeakKeyDictionary()
_partial_lock = threading.Lock()
_atexit_registered = False


def _partial_state(est: Any) -> _PartialState | None:
    try:
        return _partial.get(est)
    except TypeError:
        return None


def _partial_fit(call: Any):
    import autolog
    from autolog._tracking import create_run, pop_active_run, push_active_run
    from autolog.integrations import _sklearn_post as post
    from autolog.integrations import _sklearn_util as util

    est = call.instance
    cfg = call.config
    state = _partial_state(est)
    user_run = autolog.active_run()
    token = None
    if user_run is not None:
        if state is None or state.run is not user_run:
            state = _new_partial(est, user_run, owned=False)
    else:
        if state is None or not state.owned or state.run.ended:
            tags = {"autolog.integration": "sklearn", "autolog.partial_fit": "true"}
            tags.update(cfg.get("extra_tags") or {})
            state = _new_partial(est, create_run(tags=tags), owned=True)
        token = push_active_run(state.run)
    try:
        with call.session() as s:
            if state.steps == 0:
                s.log_params(util.flat_params(est))
                s.set_tags(util.estimator_tags(est))
            X, y, sample_weight = util.fit_data(call)
            try:
                result = yield
            except BaseException as exc:
                if state.owned:
                    _end_partial(est, state, "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
                raise
            step = state.steps
            state.steps += 1
            state.seen += util.n_rows(X) or 0
            s.log_metrics({"training_samples_seen": state.seen}, step=step)
            state.model_cfg = cfg
            _after_fit(s, call, est, X, y, sample_weight, result, None, step=step)
            if cfg.get("log_post_training_metrics"):
                post.register_fitted(est, state.run)
                _ensure_eval_hooks(est)
    finally:
        if token is not None:
            pop_active_run(token)


def _new_partial(est: Any, run: Any, owned: bool) -> _PartialState:
    global _atexit_registered
    _close_partial(est, reason="new run")
    state = _PartialState(run, owned)
    try:
        with _partial_lock:
            _partial[est] = state
    except TypeError:
        return state
    if owned:
        weakref.finalize(est, _end_run_quietly, run)
    with _partial_lock:
        if not _atexit_registered:
            _atexit_registered = True
            # registered after the tracking store's own exit handler, so it runs before it
            atexit.register(close_partial_runs)
    return state


def _end_run_quietly(run: Any) -> None:
    try:
        if not run.ended:
            run.end("FINISHED", wait=False)
    except Exception:
        pass


def _end_partial(est: Any, state: _PartialState, status: str) -> None:
    try:
        with _partial_lock:
            if _partial.get(est) is state:
                del _partial[est]
    except TypeError:
        pass
    if state.owned and not state.run.ended:
        state.run.end(status, wait=False)


def _close_partial(est: Any, reason: str) -> None:
    """Log the latest model of an estimator's open partial_fit run and end that run."""
    state = _partial_state(est)
    if state is None:
        return
    cfg = state.model_cfg
    if state.steps and cfg is not None and cfg.get("log_models"):
        try:
            from autolog._models import log_model

            log_model(est, "model", signature=False, run=state.run, background=reason != "exit")
        except Exception:
            import warnings

            from autolog._errors import AutologWarning

            warnings.warn(f"autolog: model of {type(est).__name__} (partial_fit) not logged",
                          AutologWarning, stacklevel=2)
    _end_partial(est, state, "FINISHED")


def close_partial_runs() -> None:
    """End every open partial_fit run, logging each estimator's latest model first.

    Runs at interpreter exit; call it to close them earlier. Never raises.
    """
    try:
        with _partial_lock:
            items = list(_partial.items())
    except Exception:
        return
    for est, _state in items:
        try:
            _close_partial(est, reason="exit")
        except Exception:
            pass


# ------------------------------------------------------------------------------------------
# post-training: predictions, score, metric functions


def _predict(call: Any):
    run = _post.run_of(call.instance)
    if run is None or not call.config.get("log_post_training_metrics"):
        return
    post = _post
    result = yield
    data = call.args[0] if call.args else next(iter(call.kwargs.values()), None)
    post.remember_prediction(result, run, post.dataset_name(run, data))


def _score(call: Any):
    est = call.instance
    run = _post.run_of(est)
    if run is None or not call.config.get("log_post_training_metrics"):
        return
    post = _post
    result = yield
    data = call.args[0] if call.args else call.kwargs.get("X")
    frame = post._user_frame()
    metric = f"{type(est).__name__}_score"
    key = post.metric_key(run, metric, post.dataset_name(run, data, frame))
    _log_post_metric(run, key, result, post.call_command(f"{type(est).__name__}.score",
                                                         call.args, call.kwargs, frame))


def _dataset_snapshots(X: Any, y: Any) -> list[tuple[str, Any]]:
    """Bounded copies of X and y, taken before the fit runs (it may change them in place);
    their dataset records are computed later, off the caller's thread."""
    from autolog._datasets import snapshot

    datasets = [("X", snapshot(X))] if X is not None else []
    if y is not None:
        datasets.append(("y", snapshot(y)))
    return datasets


def _is_ours(args: tuple, kwargs: dict) -> bool:
    """The engine's first check on every metric call: is an argument a remembered prediction
    of an autologged model? Foreign data stops here, before any other work."""
    return _post.match(args, kwargs) is not None


def _metric_hook(call: Any):
    # the hot path for every metric call on foreign data: one lookup per argument, then out
    hit = _post.match(call.args, call.kwargs)
    if hit is None or not call.config.get("log_post_training_metrics"):
        return
    post = _post
    run, dataset = hit
    result = yield
    frame = post._user_frame()
    key = post.metric_key(run, call.function_name, dataset)
    _log_post_metric(run, key, result, post.call_command(call.function_name, call.args,
                                                         call.kwargs, frame))


def _log_post_metric(run: Any, key: str, value: Any, command: str) -> None:
    from autolog.integrations import _sklearn_post as post

    try:
        number = float(value)
    except (TypeError, ValueError):
        return  # confusion matrices, reports: not a metric
    run.log_metric(key, number)
    info = post.record_call_info(run, key, command)
    _background(_write_metric_info, run, info)


def _write_metric_info(run: Any, info: dict[str, str]) -> None:
    run.log_dict(info, "metric_info.json")


# ------------------------------------------------------------------------------------------
# cross-validation functions


def _cv_hook(call: Any):
    from autolog.integrations import _sklearn_metrics as metrics
    from autolog.integrations import _sklearn_search as search
    from autolog.integrations import _sklearn_util as util

    arguments = call.arguments
    est = arguments.get("estimator")
    X, y = arguments.get("X"), arguments.get("y")
    cfg = call.config
    name = call.function_name
    with call.session() as s:
        if s.run is None:
            yield
            return
        if est is not None and hasattr(est, "get_params"):
            s.log_params(util.flat_params(est))
            s.set_tags(util.estimator_tags(est))
        s.set_tags({"autolog.cv_function": name})
        s.log_params({"cv": _describe_cv(arguments.get("cv")),
                      "scoring": _describe_cv(arguments.get("scoring"))})
        datasets = _dataset_snapshots(X, y) if cfg.get("log_datasets") else None
        result = yield
        series = search.fold_metrics(result, name)
        search.log_fold_metrics(s, series)
        ev = None
        if name == "cross_val_predict" and y is not None and arguments.get("method", "predict") == "predict":
            fit_params = arguments.get("params") or arguments.get("fit_params") or {}
            ev = metrics.out_of_fold(est, y, result, fit_params.get("sample_weight"),
                                     pos_label=cfg.get("pos_label"))
        suffix = "" if s.managed else f"-{s.suffix}"
        _background(_finish_cv, s.run, ev, datasets, suffix)


def _describe_cv(value: Any) -> str:
    if value is None or isinstance(value, (int, str, float)):
        return str(value)
    if callable(value) and hasattr(value, "__name__"):
        return value.__name__
    return repr(value)[:250]


def _finish_cv(run: Any, ev: Any, datasets: Any, suffix: str) -> None:
    if ev is not None:
        values = ev.compute()
        if values:
            run.log_metrics({"cv_" + k[len("training_"):]: v for k, v in values.items()})
    if datasets:
        _log_datasets(run, datasets, suffix)

