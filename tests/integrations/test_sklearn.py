"""scikit-learn integration: the shared contract, then each item of the issue, on real
scikit-learn with tiny data (the whole file runs in well under two minutes)."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
import threading
import warnings

import numpy as np
import pytest

import autolog
from autolog._errors import AutologWarning
from autolog.testing import IntegrationContract, logged_runs

sklearn = pytest.importorskip("sklearn")

from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin  # noqa: E402
from sklearn.datasets import load_diabetes, load_iris, make_classification  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression, SGDClassifier  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer, StandardScaler  # noqa: E402

SKLEARN_VERSION = tuple(int(p) for p in sklearn.__version__.split(".")[:2])

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_BIN, Y_BIN = make_classification(n_samples=120, n_features=5, random_state=0)
X_REG, Y_REG = load_diabetes(return_X_y=True)
X_REG, Y_REG = X_REG[:150], Y_REG[:150]


# pickle caches `__slotnames__` on a class the first time one of its instances is pickled
# (model logging does that); warm the cache so the contract's exact-__dict__ check compares
# like with like whatever test runs first
for _cls in (LinearRegression, LogisticRegression, StandardScaler):
    pickle.dumps(_cls())
pickle.dumps(Pipeline([("m", LinearRegression())]))

SENTINEL = object()


class ReturnsSentinel(BaseEstimator):
    def fit(self, X, y=None):
        return SENTINEL


def top_runs():
    return [r for r in logged_runs() if r.parent_id is None]


def only_run():
    runs = top_runs()
    assert len(runs) == 1, runs
    return runs[0]


def lr(**kw):
    return LogisticRegression(max_iter=300, **kw)


@pytest.fixture
def on():
    autolog.autolog(sklearn=True)


# ------------------------------------------------------------------------------------------
# contract


def _raise(error):
    def fn(X):
        raise error

    return fn


class TestSklearnContract(IntegrationContract):
    integration = "sklearn"
    subprocess_code = """
        from sklearn.linear_model import LinearRegression
        LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
    """

    def patched_targets(self):
        # predict / score / transform are patched lazily, after a first autologged fit
        return [(LinearRegression, "fit"), (Pipeline, "fit"), (LogisticRegression, "fit"),
                (TransformerMixin, "fit_transform"), (StandardScaler, "fit")]

    def fit(self):
        return LinearRegression().fit(X_REG, Y_REG)

    def failing_fit(self, error):
        pipe = Pipeline([("f", FunctionTransformer(_raise(error))), ("m", LinearRegression())])
        return pipe.fit(X_REG, Y_REG)

    def nested_fit(self):
        return Pipeline([("s", StandardScaler()), ("m", LinearRegression())]).fit(X_REG, Y_REG)

    def check_run(self, run):
        assert run.tags["estimator_name"] == "LinearRegression"
        assert "training_r2_score" in run.metrics


# ------------------------------------------------------------------------------------------
# params, tags, training metrics


def test_classifier_params_tags_metrics_artifacts(on):
    model = lr(C=0.5).fit(X_IRIS, Y_IRIS)
    run = only_run()
    assert run.status == "FINISHED"
    assert run.params["C"] == "0.5" and run.params["max_iter"] == "300"
    assert run.tags["estimator_name"] == "LogisticRegression"
    assert run.tags["estimator_class"] == "sklearn.linear_model._logistic.LogisticRegression"
    from sklearn import metrics as m

    pred, proba = model.predict(X_IRIS), model.predict_proba(X_IRIS)
    expected = {
        "training_accuracy_score": m.accuracy_score(Y_IRIS, pred),
        "training_precision_score": m.precision_score(Y_IRIS, pred, average="weighted"),
        "training_recall_score": m.recall_score(Y_IRIS, pred, average="weighted"),
        "training_f1_score": m.f1_score(Y_IRIS, pred, average="weighted"),
        "training_log_loss": m.log_loss(Y_IRIS, proba),
        "training_roc_auc": m.roc_auc_score(Y_IRIS, proba, multi_class="ovo", average="weighted"),
        "training_score": model.score(X_IRIS, Y_IRIS),
    }
    for key, value in expected.items():
        assert run.metrics[key] == pytest.approx(value), key
    assert "model/model.pkl" in run.artifacts
    assert "datasets/training.json" in run.artifacts
    assert "autolog.training_metrics_sample" not in run.tags
    pytest.importorskip("matplotlib")
    assert "training_confusion_matrix.png" in run.artifacts
    assert "coefficients.png" in run.artifacts


def test_regressor_metrics_with_sample_weight(on):
    from sklearn import metrics as m

    weights = np.linspace(0.5, 2.0, len(Y_REG))
    model = LinearRegression().fit(X_REG, Y_REG, sample_weight=weights)
    run = only_run()
    pred = model.predict(X_REG)
    mse = m.mean_squared_error(Y_REG, pred, sample_weight=weights)
    assert run.metrics["training_mean_squared_error"] == pytest.approx(mse)
    assert run.metrics["training_root_mean_squared_error"] == pytest.approx(mse ** 0.5)
    assert run.metrics["training_mean_absolute_error"] == pytest.approx(
        m.mean_absolute_error(Y_REG, pred, sample_weight=weights))
    assert run.metrics["training_r2_score"] == pytest.approx(m.r2_score(Y_REG, pred, sample_weight=weights))
    assert run.metrics["training_score"] == pytest.approx(run.metrics["training_r2_score"])


def test_binary_plots_and_pos_label():
    pytest.importorskip("matplotlib")
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import precision_score

    autolog.autolog(sklearn={"pos_label": 0})
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X_BIN, Y_BIN)
    run = only_run()
    for name in ("training_confusion_matrix.png", "training_roc_curve.png",
                 "training_precision_recall_curve.png", "feature_importances.png"):
        assert name in run.artifacts, name
    expected = precision_score(Y_BIN, model.predict(X_BIN), pos_label=0)
    assert run.metrics["training_precision_score"] == pytest.approx(expected)


def test_log_plots_off():
    autolog.autolog(sklearn={"log_plots": False, "log_datasets": False})
    lr().fit(X_BIN, Y_BIN)
    run = only_run()
    assert not [a for a in run.artifacts if a.endswith(".png")]
    assert not [a for a in run.artifacts if a.startswith("datasets/")]
    assert "training_accuracy_score" in run.metrics


def test_large_training_set_is_sampled(on, monkeypatch):
    from autolog.integrations import _sklearn_util

    monkeypatch.setattr(_sklearn_util, "MAX_METRIC_ROWS", 40)
    LinearRegression().fit(X_REG, Y_REG)
    run = only_run()
    assert run.tags["autolog.training_metrics_sample"] == f"40 of {len(Y_REG)} rows, evenly spaced"
    assert "training_r2_score" in run.metrics


def test_clusterer_silhouette(on):
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    model = KMeans(n_clusters=3, n_init=2, random_state=0).fit(X_IRIS)
    run = only_run()
    assert run.metrics["training_silhouette_score"] == pytest.approx(silhouette_score(X_IRIS, model.labels_))
    assert run.metrics["training_score"] == pytest.approx(model.score(X_IRIS))


def test_pipeline_logs_once_with_prefixed_params(on):
    pipe = Pipeline([("scale", StandardScaler()), ("clf", lr(C=2.0))]).fit(X_IRIS, Y_IRIS)
    run = only_run()
    assert run.params["clf__C"] == "2.0"
    assert run.params["scale"] == "StandardScaler" and run.params["clf"] == "LogisticRegression"
    assert run.params["steps"] == "[('scale', 'StandardScaler'), ('clf', 'LogisticRegression')]"
    assert run.tags["estimator_name"] == "Pipeline"
    assert run.metrics["training_accuracy_score"] == pytest.approx(pipe.score(X_IRIS, Y_IRIS))


def test_fit_transform_and_fit_predict(on):
    from sklearn.cluster import KMeans

    StandardScaler().fit_transform(X_IRIS)
    KMeans(n_clusters=2, n_init=1, random_state=0).fit_predict(X_IRIS)
    runs = top_runs()
    assert sorted(r.tags["estimator_name"] for r in runs) == ["KMeans", "StandardScaler"]


def test_user_subclass_defined_after_enable():
    autolog.autolog(log_models=False)  # local classes cannot be pickled

    class MyModel(LinearRegression):
        def fit(self, X, y, sample_weight=None):
            return super().fit(X, y, sample_weight)

    class Custom(BaseEstimator):
        def __init__(self, alpha=1.0):
            self.alpha = alpha

        def fit(self, X, y=None):
            self.mean_ = np.mean(X, axis=0)
            return self

    MyModel().fit(X_REG, Y_REG)
    Custom(alpha=3).fit(X_REG)
    runs = top_runs()
    assert sorted(r.tags["estimator_name"] for r in runs) == ["Custom", "MyModel"]
    custom = next(r for r in runs if r.tags["estimator_name"] == "Custom")
    assert custom.params == {"alpha": "3"}


def test_fit_that_raises_leaves_params_and_failed_run(on):
    with pytest.raises(ValueError):
        lr(C=3.0).fit(X_IRIS, np.zeros(len(X_IRIS)))  # one class only
    run = only_run()
    assert run.status == "FAILED"
    assert run.params["C"] == "3.0"
    assert autolog.active_run() is None


def test_results_predictions_and_exceptions_identical():
    def train():
        model = Pipeline([("s", StandardScaler()), ("m", lr(random_state=0))])
        result = model.fit(X_IRIS, Y_IRIS)
        assert result is model
        return model.predict_proba(X_IRIS), model[-1].coef_

    def error():
        try:
            lr().fit(X_IRIS, np.zeros(len(X_IRIS)))
        except ValueError as exc:
            return type(exc), str(exc)
        raise AssertionError("no error")

    plain = train(), error()
    autolog.autolog()
    logged = train(), error()
    np.testing.assert_array_equal(plain[0][0], logged[0][0])
    np.testing.assert_array_equal(plain[0][1], logged[0][1])
    assert plain[1] == logged[1]
    assert ReturnsSentinel().fit(X_IRIS) is SENTINEL


def test_hasattr_of_unavailable_methods_unchanged(on):
    from sklearn.svm import SVC

    pipe = Pipeline([("m", SVC())]).fit(X_BIN, Y_BIN)
    assert not hasattr(pipe, "predict_proba")
    assert hasattr(pipe, "predict")


# ------------------------------------------------------------------------------------------
# runs: threads, user runs


def test_three_threads_fit_at_once(on):
    barrier = threading.Barrier(3)
    errors = []

    def work(c):
        try:
            barrier.wait(timeout=10)
            lr(C=c).fit(X_IRIS, Y_IRIS)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in (0.1, 1.0, 10.0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    runs = top_runs()
    assert sorted(r.params["C"] for r in runs) == ["0.1", "1.0", "10.0"]
    for run in runs:
        assert run.status == "FINISHED"
        assert "training_accuracy_score" in run.metrics
        assert "model/model.pkl" in run.artifacts


def test_user_run_two_fits_nothing_lost(on):
    with autolog.start_run("mine") as run:
        autolog.log_param("C", "user value")
        lr(C=1.0).fit(X_IRIS, Y_IRIS)
        lr(C=2.0).fit(X_IRIS, Y_IRIS)
    assert [r.id for r in top_runs()] == [run.id]
    run = autolog.get_run(run.id)
    params = run.params
    assert params["C"] == "user value"
    suffixed = sorted(v for k, v in params.items() if k.startswith("C_"))
    assert suffixed == ["1.0", "2.0"]
    assert params["max_iter"] == "300"  # equal values are not duplicated
    history = run.metric_history("training_accuracy_score")
    assert [step for step, _, _ in history] == [0, 1]
    fits = json.loads((run.artifact_dir / "autolog" / "fits.json").read_text())["fits"]
    assert len(fits) == 2
    second = fits[1]["suffix"]
    assert {"model/model.pkl", f"model_{second}/model.pkl", "datasets/training.json",
            f"datasets/training-{second}.json"} <= set(run.artifacts)


def test_exclusive_leaves_user_run_alone():
    autolog.autolog(exclusive=True)
    with autolog.start_run("mine") as run:
        lr().fit(X_IRIS, Y_IRIS)
    assert autolog.get_run(run.id).params == {}


# ------------------------------------------------------------------------------------------
# searches and cross-validation


def test_grid_search_n_jobs_2_parent_and_children(on):
    from sklearn.model_selection import GridSearchCV

    grid = {"C": [0.01, 0.1, 1.0, 10.0]}
    search = GridSearchCV(lr(), grid, cv=3, n_jobs=2).fit(X_IRIS, Y_IRIS)
    parent = only_run()
    children = parent.children()
    assert len(children) == 4
    assert parent.params["best_C"] == str(search.best_params_["C"])
    assert parent.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert parent.params["estimator"] == "LogisticRegression"
    assert "cv_results.csv" in parent.artifacts
    assert "model/model.pkl" in parent.artifacts
    assert "training_accuracy_score" in parent.metrics
    by_c = {c.params["C"]: c for c in children}
    for i, params in enumerate(search.cv_results_["params"]):
        child = by_c[str(params["C"])]
        assert child.metrics["mean_test_score"] == pytest.approx(search.cv_results_["mean_test_score"][i])
        assert child.metrics["rank_test_score"] == search.cv_results_["rank_test_score"][i]
        assert "split2_test_score" in child.metrics and "mean_fit_time" in child.metrics
        assert child.status == "FINISHED"
        assert child.tags["estimator_name"] == "LogisticRegression"
    loaded = autolog.load_model(f"runs:/{parent.id}/model")
    np.testing.assert_array_equal(loaded.predict(X_IRIS), search.predict(X_IRIS))


def test_grid_search_threading_backend_makes_no_extra_runs(on):
    from joblib import parallel_backend
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import GridSearchCV

    with parallel_backend("threading", n_jobs=2):
        GridSearchCV(lr(), {"C": [0.1, 1.0]}, cv=2).fit(X_IRIS, Y_IRIS)
    RandomForestClassifier(n_estimators=4, n_jobs=2, random_state=0).fit(X_BIN, Y_BIN)
    runs = top_runs()
    assert sorted(r.tags["estimator_name"] for r in runs) == ["GridSearchCV", "RandomForestClassifier"]
    assert len(logged_runs()) == 4  # two top-level runs and the search's two children


def test_max_tuning_runs_keeps_best_ranked():
    from sklearn.model_selection import GridSearchCV

    autolog.autolog(sklearn={"max_tuning_runs": 2})
    search = GridSearchCV(lr(), {"C": [0.001, 0.01, 1.0, 10.0]}, cv=3).fit(X_IRIS, Y_IRIS)
    children = only_run().children()
    assert len(children) == 2
    ranks = sorted(int(c.metrics["rank_test_score"]) for c in children)
    assert ranks == sorted(search.cv_results_["rank_test_score"])[:2]


def test_randomized_and_halving_searches(on):
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingGridSearchCV, RandomizedSearchCV

    rs = RandomizedSearchCV(lr(), {"C": [0.1, 1.0, 10.0]}, n_iter=2, cv=2, random_state=0).fit(X_IRIS, Y_IRIS)
    hs = HalvingGridSearchCV(lr(), {"C": [0.1, 1.0, 10.0]}, cv=2, factor=2, min_resources=30,
                             random_state=0).fit(X_IRIS, Y_IRIS)
    runs = {r.tags["estimator_name"]: r for r in top_runs()}
    assert len(runs["RandomizedSearchCV"].children()) == 2
    assert runs["RandomizedSearchCV"].params["best_C"] == str(rs.best_params_["C"])
    halving = runs["HalvingGridSearchCV"]
    assert len(halving.children()) == len(hs.cv_results_["params"])
    assert halving.params["best_C"] == str(hs.best_params_["C"])
    assert "iter" in halving.children()[0].metrics


def test_search_with_list_input_has_children(on):
    from sklearn.model_selection import GridSearchCV

    GridSearchCV(lr(), {"C": [0.1, 1.0]}, cv=2).fit(X_IRIS.tolist(), Y_IRIS.tolist())
    assert len(only_run().children()) == 2


def test_cross_val_score_one_run_with_fold_history(on):
    from sklearn.model_selection import cross_val_score

    scores = cross_val_score(lr(C=0.3), X_IRIS, Y_IRIS, cv=4)
    run = only_run()
    assert run.params["C"] == "0.3" and run.params["cv"] == "4"
    assert run.tags["autolog.cv_function"] == "cross_val_score"
    history = run.metric_history("cv_test_score")
    assert [step for step, _, _ in history] == [0, 1, 2, 3]
    np.testing.assert_allclose([v for _, _, v in history], scores)
    assert run.metrics["cv_test_score_mean"] == pytest.approx(scores.mean())
    assert run.metrics["cv_test_score_std"] == pytest.approx(scores.std())


def test_cross_validate_and_cross_val_predict(on):
    from sklearn.model_selection import cross_val_predict, cross_validate

    result = cross_validate(lr(), X_IRIS, Y_IRIS, cv=3, scoring=["accuracy", "f1_macro"],
                            return_train_score=True)
    pred = cross_val_predict(lr(), X_IRIS, Y_IRIS, cv=3)
    runs = {r.tags["autolog.cv_function"]: r for r in top_runs()}
    assert len(runs) == 2
    cv = runs["cross_validate"]
    assert cv.metrics["cv_test_f1_macro_mean"] == pytest.approx(result["test_f1_macro"].mean())
    assert len(cv.metric_history("cv_train_accuracy")) == 3
    from sklearn.metrics import accuracy_score

    assert runs["cross_val_predict"].metrics["cv_accuracy_score"] == pytest.approx(accuracy_score(Y_IRIS, pred))


def test_learning_curve_is_one_run(on):
    from sklearn.model_selection import learning_curve, permutation_test_score

    learning_curve(lr(), X_IRIS, Y_IRIS, cv=2, train_sizes=[0.5, 1.0])
    score, _, pvalue = permutation_test_score(lr(), X_IRIS, Y_IRIS, cv=2, n_permutations=2,
                                              random_state=0)
    runs = {r.tags["autolog.cv_function"]: r for r in top_runs()}
    assert sorted(runs) == ["learning_curve", "permutation_test_score"]
    assert runs["permutation_test_score"].metrics["permutation_pvalue"] == pytest.approx(pvalue)


# ------------------------------------------------------------------------------------------
# post-training metrics


def test_eval_methods_patched_lazily_and_reverted(on):
    from autolog.testing import is_patched
    from sklearn.linear_model._base import LinearClassifierMixin

    assert not is_patched(LinearClassifierMixin, "predict")
    lr().fit(X_IRIS, Y_IRIS)
    assert is_patched(LinearClassifierMixin, "predict")
    assert is_patched(ClassifierMixin, "score")
    assert is_patched(LogisticRegression, "predict_proba")
    autolog.disable()
    assert not is_patched(LinearClassifierMixin, "predict")
    assert not is_patched(ClassifierMixin, "score")


def test_post_training_metrics(on):
    from sklearn.metrics import accuracy_score, f1_score

    X_train, X_test, y_train, y_test = X_IRIS[::2], X_IRIS[1::2], Y_IRIS[::2], Y_IRIS[1::2]
    model = lr().fit(X_train, y_train)
    run = only_run()
    pred = model.predict(X_test)
    acc = accuracy_score(y_test, pred)
    accuracy_score(y_test, pred)
    f1_score(y_test, y_pred=pred, average="macro")
    score = model.score(X_test, y_test)
    accuracy_score(y_test, y_test)  # foreign data: not logged
    accuracy_score(y_test, pred.copy())  # a derived object: not logged
    pred_new = model.predict(X_train)
    accuracy_score(y_train, pred_new)
    X_test = X_test[:10]  # another object under an already used name  # noqa: F841
    acc_small = accuracy_score(y_test[:10], model.predict(X_test))
    metrics = autolog.get_run(run.id).metrics
    assert metrics["accuracy_score_X_test"] == pytest.approx(acc)
    assert "accuracy_score-2_X_test" in metrics
    assert "f1_score_X_test" in metrics
    assert metrics["LogisticRegression_score_X_test"] == pytest.approx(score)
    assert "accuracy_score_X_train" in metrics
    assert metrics["accuracy_score_X_test-2"] == pytest.approx(acc_small)
    assert not [k for k in metrics if k.startswith("accuracy_score") and k.endswith("eval_dataset")]
    info = json.loads((autolog.get_run(run.id).artifact_dir / "metric_info.json").read_text())
    assert info["accuracy_score_X_test"] == "accuracy_score(y_test, pred)"


def test_post_training_unnamed_dataset_and_option_off():
    autolog.autolog()
    from sklearn.metrics import accuracy_score  # after enabling: the name binds the wrapper

    model = lr().fit(X_IRIS, Y_IRIS)
    accuracy_score(Y_IRIS, model.predict(X_IRIS[:]))
    run = only_run()
    assert "accuracy_score_eval_dataset" in autolog.get_run(run.id).metrics
    autolog.autolog(sklearn={"log_post_training_metrics": False})
    model2 = lr().fit(X_IRIS, Y_IRIS)
    accuracy_score(Y_IRIS, model2.predict(X_IRIS))
    second = [r for r in top_runs() if r.id != run.id][0]
    assert not [k for k in second.metrics if not k.startswith("training_")]


def test_metric_calls_inside_fit_do_not_log(on):
    from sklearn.model_selection import GridSearchCV, cross_val_score

    model = lr().fit(X_IRIS, Y_IRIS)
    first = only_run()
    # a search scoring with accuracy runs the metric inside fit: nothing goes to `first`
    GridSearchCV(lr(), {"C": [1.0]}, cv=2, scoring="accuracy").fit(X_IRIS, Y_IRIS)
    cross_val_score(model, X_IRIS, Y_IRIS, cv=2)
    assert not [k for k in autolog.get_run(first.id).metrics if not k.startswith("training_")]


def test_metric_call_on_foreign_data_logs_nothing(on):
    # the cost of this path is measured by benchmarks/bench_sklearn.py, not asserted here
    from sklearn.metrics import accuracy_score

    model = lr().fit(X_IRIS, Y_IRIS)
    run = only_run()
    kept = model.predict(X_IRIS)  # one remembered prediction, so the ownership check is not empty
    foreign = Y_IRIS.copy()
    assert accuracy_score(Y_IRIS, foreign) == accuracy_score.__wrapped__(Y_IRIS, foreign)
    autolog.flush()
    assert not [k for k in autolog.get_run(run.id).metrics if not k.startswith("training_")]
    assert kept is not None


# ------------------------------------------------------------------------------------------
# pickling, models


def test_pickling_fitted_estimator_and_patched_metric(on):
    import cloudpickle
    import joblib

    from sklearn.metrics import accuracy_score, r2_score

    model = Pipeline([("s", StandardScaler()), ("m", lr())]).fit(X_IRIS, Y_IRIS)
    expected = model.predict(X_IRIS)
    for dumps, loads in ((pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)):
        np.testing.assert_array_equal(loads(dumps(model)).predict(X_IRIS), expected)
        assert loads(dumps(accuracy_score))([1, 0], [1, 1]) == 0.5
        assert loads(dumps(r2_score))([1.0, 2.0], [1.0, 2.0]) == 1.0
    import io

    buf = io.BytesIO()
    joblib.dump((model, accuracy_score), buf)
    buf.seek(0)
    restored, metric = joblib.load(buf)
    np.testing.assert_array_equal(restored.predict(X_IRIS), expected)
    assert metric([1, 0], [1, 0]) == 1.0


def test_pickling_user_subclass_with_cloudpickle():
    import cloudpickle

    autolog.autolog(log_models=False)  # local classes cannot be pickled by reference

    class Local(LinearRegression):
        def fit(self, X, y, sample_weight=None):
            return super().fit(X, y, sample_weight)

    model = Local().fit(X_REG, Y_REG)
    clone = cloudpickle.loads(cloudpickle.dumps(model))
    np.testing.assert_allclose(clone.predict(X_REG), model.predict(X_REG))


def test_load_model_predictions_equal_with_signature_and_example():
    import pandas as pd

    autolog.autolog(log_input_examples=True)
    frame = pd.DataFrame(X_IRIS, columns=["a", "b", "c", "d"])
    model = lr().fit(frame, Y_IRIS)
    run = only_run()
    loaded = autolog.load_model(f"runs:/{run.id}/model")
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    meta = json.loads((run.artifact_dir / "model" / "autolog-model.json").read_text())
    assert [c["name"] for c in meta["signature"]["inputs"]["columns"]] == ["a", "b", "c", "d"]
    assert meta["input_example"]
    predictor = autolog.load_predictor(f"runs:/{run.id}/model")
    np.testing.assert_array_equal(predictor.predict(frame), model.predict(frame))


def test_log_models_off():
    autolog.autolog(log_models=False)
    lr().fit(X_IRIS, Y_IRIS)
    assert not [a for a in only_run().artifacts if a.startswith("model/")]


class HoldsLock(ClassifierMixin, BaseEstimator):
    """A classifier that keeps a lock after fitting: it cannot be pickled."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.lock_ = threading.Lock()
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_unpicklable_estimator_warns_and_logs_the_rest(on):
    with pytest.warns(AutologWarning, match="not logged"):
        HoldsLock().fit(X_IRIS, Y_IRIS)
    run = only_run()
    assert run.status == "FINISHED"
    assert run.tags["estimator_name"] == "HoldsLock" and "training_accuracy_score" in run.metrics
    assert not [a for a in run.artifacts if a.startswith("model/")]


# ------------------------------------------------------------------------------------------
# datasets


@pytest.mark.parametrize("kind", ["numpy", "pandas", "sparse", "list"])
def test_dataset_records(on, kind):
    import pandas as pd
    import scipy.sparse as sp

    X = {"numpy": X_IRIS, "pandas": pd.DataFrame(X_IRIS, columns=list("abcd")),
         "sparse": sp.csr_matrix(X_IRIS), "list": X_IRIS.tolist()}[kind]
    lr().fit(X, Y_IRIS)
    run = only_run()
    records = json.loads((run.artifact_dir / "datasets" / "training.json").read_text())
    assert records["X"]["shape"] == [150, 4]
    assert records["X"]["digest"].startswith("sha256:")
    assert run.tags["dataset.X.digest"] == records["X"]["digest"]
    assert records["y"]["shape"] == [150]
    assert len(records["X"]["profile"]) == 4
    if kind == "pandas":
        assert [f["name"] for f in records["X"]["schema"]] == list("abcd")


# ------------------------------------------------------------------------------------------
# partial_fit


def test_partial_fit_steps_in_one_run(on):
    from autolog.integrations.sklearn import close_partial_runs

    model = SGDClassifier(random_state=0)
    classes = np.unique(Y_IRIS)
    for start in (0, 50, 100):
        model.partial_fit(X_IRIS[start:start + 50], Y_IRIS[start:start + 50], classes=classes)
    run = only_run()
    assert run.status == "RUNNING"
    assert [v for _, _, v in run.metric_history("training_samples_seen")] == [50, 100, 150]
    assert [s for s, _, _ in run.metric_history("training_accuracy_score")] == [0, 1, 2]
    close_partial_runs()
    run = autolog.get_run(run.id)
    assert run.status == "FINISHED"
    assert "model/model.pkl" in run.artifacts
    model.partial_fit(X_IRIS[:50], Y_IRIS[:50])  # a new run after closing
    assert len(top_runs()) == 2
    model.fit(X_IRIS, Y_IRIS)  # a full fit closes the partial run and has its own
    runs = top_runs()
    assert len(runs) == 3 and all(r.status == "FINISHED" for r in runs)


def test_partial_fit_in_user_run(on):
    model = SGDClassifier(random_state=0)
    with autolog.start_run() as run:
        model.partial_fit(X_IRIS[:75], Y_IRIS[:75], classes=np.unique(Y_IRIS))
        model.partial_fit(X_IRIS[75:], Y_IRIS[75:])
    assert [r.id for r in top_runs()] == [run.id]
    assert len(autolog.get_run(run.id).metric_history("training_samples_seen")) == 2


# ------------------------------------------------------------------------------------------
# imports


def test_enabling_imports_no_sklearn_submodule(tmp_path):
    code = textwrap.dedent(f"""
        import sys, autolog
        autolog.set_tracking_uri({str(tmp_path / "s")!r})
        import sklearn
        base = set(sys.modules)
        autolog.autolog()
        added = sorted(m for m in set(sys.modules) - base if m.startswith("sklearn"))
        print("ADDED", added)
        from sklearn.metrics import accuracy_score
        from sklearn.model_selection import cross_val_score
        print("PATCHED", type(accuracy_score).__name__, type(cross_val_score).__name__)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ADDED []" in proc.stdout
    assert "PATCHED AutologWrapper AutologWrapper" in proc.stdout


def test_no_warnings_from_autolog_on_plain_fit(on):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lr().fit(X_IRIS, Y_IRIS)
        autolog.flush()
    ours = [w for w in caught if "autolog" in w.filename or issubclass(w.category, AutologWarning)]
    assert not ours, [str(w.message) for w in ours]
