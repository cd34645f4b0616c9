"""log_model / load_model / load_predictor with real scikit-learn, flavors, metadata."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import autolog
from autolog import InvalidKeyError, ModelError, RunStateError, SchemaMismatchError
from autolog._models import (
    METADATA_FILE,
    Flavor,
    load_input_example,
    read_metadata,
    register_flavor,
    save_model,
    unregister_flavor,
)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="module")
def fitted(iris):
    X, y = iris
    return LogisticRegression(max_iter=500).fit(X, y)


# --------------------------------------------------------------------------- roundtrip


def test_roundtrip_runs_uri_predictions_equal(iris, fitted):
    X, _ = iris
    with autolog.start_run() as run:
        uri = autolog.log_model(fitted, input_example=X)
    assert uri == f"runs:/{run.id}/model"
    loaded = autolog.load_model(uri)
    assert type(loaded) is LogisticRegression
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
    assert {"model/model.pkl", f"model/{METADATA_FILE}", "model/input_example.json"} <= set(
        autolog.get_run(run.id).artifacts
    )


def test_roundtrip_pipeline_numpy_and_nested_artifact_path(iris):
    X, y = iris
    Xa = X.to_numpy()
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(Xa, y)
    with autolog.start_run():
        uri = autolog.log_model(pipe, "models/pipe", signature=autolog.infer_signature(Xa))
    assert uri.endswith("/models/pipe")
    np.testing.assert_array_equal(autolog.load_model(uri).predict(Xa), pipe.predict(Xa))
    assert autolog.load_predictor(uri).signature.inputs.shape == (-1, 4)


def test_background_snapshot_is_taken_before_the_model_changes(iris):
    X, y = iris
    model = LogisticRegression(max_iter=500, C=1.0).fit(X, y)
    expected = model.predict_proba(X)
    with autolog.start_run():
        uri = autolog.log_model(model, background=True)
        model.set_params(C=0.001).fit(X, y)  # the user keeps working with the estimator
    autolog.flush()
    loaded = autolog.load_model(uri)
    assert loaded.C == 1.0
    np.testing.assert_allclose(loaded.predict_proba(X), expected)


def test_background_model_loads_without_explicit_flush(iris, fitted):
    with autolog.start_run():
        uri = autolog.log_model(fitted, background=True)
    np.testing.assert_array_equal(autolog.load_model(uri).predict(iris[0]), fitted.predict(iris[0]))


def test_explicit_run_that_is_not_active(iris, fitted):
    from autolog._tracking import create_run

    run = create_run("target")
    try:
        uri = autolog.log_model(fitted, run=run)
    finally:
        run.end()
    assert uri == f"runs:/{run.id}/model"
    assert autolog.active_run() is None
    assert autolog.load_model(uri).get_params() == fitted.get_params()


def test_save_model_to_directory_and_load_by_path_and_file_url(tmp_path, iris, fitted):
    X, _ = iris
    path = save_model(fitted, tmp_path / "m", input_example=X.head(2))
    assert path == tmp_path / "m"
    for uri in (str(path), path, path.as_uri()):
        np.testing.assert_array_equal(autolog.load_model(uri).predict(X), fitted.predict(X))
    with pytest.raises(ModelError, match="already exists"):
        save_model(fitted, path)


# --------------------------------------------------------------------------- errors


def test_unpicklable_model_is_a_model_error():
    with autolog.start_run() as run:
        with pytest.raises(ModelError, match="cannot pickle LogisticRegression"):
            autolog.log_model(LogisticRegression(C=threading.Lock()))
        with pytest.raises(ModelError, match="cannot pickle"):
            autolog.log_model(LogisticRegression(C=threading.Lock()), "bg", background=True)
    assert autolog.get_run(run.id).artifacts == []  # nothing half-written


def test_estimator_class_defined_in_a_function_falls_back_to_cloudpickle(iris):
    from sklearn.linear_model import LinearRegression

    class Local(LinearRegression):
        pass

    X, y = iris
    model = Local().fit(X, y)
    with autolog.start_run():
        uri = autolog.log_model(model)
    assert read_metadata(uri)["flavor_metadata"]["serialization"] == "cloudpickle"
    np.testing.assert_allclose(autolog.load_model(uri).predict(X), model.predict(X))


def test_model_without_flavor_is_a_model_error():
    with autolog.start_run(), pytest.raises(ModelError, match="no model flavor handles"):
        autolog.log_model(object())


def test_log_model_without_run_is_a_run_state_error(fitted):
    with pytest.raises(RunStateError, match="needs a run"):
        autolog.log_model(fitted)


def test_same_artifact_path_twice_is_refused(fitted):
    with autolog.start_run():
        autolog.log_model(fitted)
        with pytest.raises(ModelError, match="already exists"):
            autolog.log_model(fitted)


@pytest.mark.parametrize("bad", ["", "../x", "/abs"])
def test_bad_artifact_path(fitted, bad):
    with autolog.start_run(), pytest.raises(InvalidKeyError):
        autolog.log_model(fitted, bad)


def test_bad_signature_argument(fitted):
    with autolog.start_run(), pytest.raises(TypeError, match="signature must be"):
        autolog.log_model(fitted, signature="yes")


def test_load_errors(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        autolog.load_model(tmp_path / "nothing")
    with pytest.raises(ModelError, match="not an autolog model directory"):
        autolog.load_model(tmp_path)
    with pytest.raises(ModelError, match="no run 'nope'"):
        autolog.load_model("runs:/nope/model")
    with pytest.raises(ModelError, match="malformed model URI"):
        autolog.load_model("runs:/only-an-id")
    with autolog.start_run() as run:
        pass
    with pytest.raises(ModelError, match="no model at"):
        autolog.load_model(f"runs:/{run.id}/model")


def test_unknown_flavor_and_newer_format(tmp_path, fitted):
    path = save_model(fitted, tmp_path / "m")
    meta = json.loads((path / METADATA_FILE).read_text())
    broken = {**meta, "flavor": "zz", "flavor_module": "no.such"}
    (path / METADATA_FILE).write_text(json.dumps(broken))
    with pytest.raises(ModelError, match="no model flavor named 'zz'"):
        autolog.load_model(path)
    (path / METADATA_FILE).write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(ModelError, match="upgrade autolog"):
        autolog.load_model(path)


def test_corrupt_model_file_is_a_model_error(tmp_path, fitted):
    path = save_model(fitted, tmp_path / "m")
    (path / "model.pkl").write_bytes(b"not a pickle")
    with pytest.raises(ModelError, match="cannot load the sklearn model"):
        autolog.load_model(path)


# --------------------------------------------------------------------------- metadata


def test_metadata_file_contents(iris, fitted):
    import sklearn

    X, _ = iris
    with autolog.start_run() as run:
        uri = autolog.log_model(fitted, input_example=X)
    path = Path(autolog.get_run(run.id).artifact_dir) / "model"
    meta = json.loads((path / METADATA_FILE).read_text())
    assert meta == read_metadata(uri)
    assert meta["format_version"] == 1
    assert meta["flavor"] == "sklearn"
    assert meta["framework"] == "scikit-learn"
    assert meta["framework_version"] == sklearn.__version__
    assert meta["model_class"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert meta["python_version"] == "{}.{}.{}".format(*sys.version_info[:3])
    assert meta["autolog_version"] == autolog.__version__
    assert meta["run_id"] == run.id
    assert meta["artifact_path"] == "model"
    assert datetime.fromisoformat(meta["created_time"]).tzinfo is not None
    assert meta["flavor_metadata"] == {
        "file": "model.pkl",
        "serialization": "pickle",
        "pickle_protocol": 5,
    }
    assert meta["input_example"] == "input_example.json"
    # signature inferred from the example: inputs from the frame, outputs from predictions
    assert meta["signature"]["inputs"]["type"] == "columns"
    assert [c["name"] for c in meta["signature"]["inputs"]["columns"]] == list(X.columns)
    assert meta["signature"]["outputs"] == {"type": "tensor", "dtype": "int64", "shape": [-1]}
    example = json.loads((path / "input_example.json").read_text())
    assert example["type"] == "dataframe"
    assert example["columns"] == list(X.columns)
    assert example["data"] == X.head(5).to_numpy().tolist()


def test_input_example_roundtrip_kinds(tmp_path, iris, fitted):
    X, _ = iris
    example = X.head(3).assign(
        when=pd.to_datetime(["2020-01-01"] * 3), cat=pd.Categorical(list("abc"))
    )
    save_model(fitted, tmp_path / "df", input_example=example, signature=False)
    back = load_input_example(tmp_path / "df")
    pd.testing.assert_frame_equal(back, example, check_dtype=False)
    assert str(back["cat"].dtype) == "category"

    arr = np.array([[1.0, np.nan], [np.inf, 2.0]] * 4)
    save_model(fitted, tmp_path / "arr", input_example=arr, signature=False)
    back = load_input_example(tmp_path / "arr")
    np.testing.assert_array_equal(back, arr[:5])  # at most 5 rows kept, NaN/inf restored

    save_model(fitted, tmp_path / "none")
    assert load_input_example(tmp_path / "none") is None
    assert read_metadata(tmp_path / "none")["signature"] is None


def test_signature_false_and_explicit_signature_dict(tmp_path, iris, fitted):
    X, _ = iris
    save_model(fitted, tmp_path / "a", input_example=X, signature=False)
    assert read_metadata(tmp_path / "a")["signature"] is None
    sig = autolog.infer_signature(X)
    save_model(fitted, tmp_path / "b", signature=sig.to_dict())
    assert autolog.load_predictor(tmp_path / "b").signature == sig


# --------------------------------------------------------------------------- predictor


@pytest.fixture
def predictor(iris, fitted):
    X, _ = iris
    with autolog.start_run():
        uri = autolog.log_model(fitted, signature=autolog.infer_signature(X, fitted.predict(X)))
    return autolog.load_predictor(uri)


def test_predictor_passing_call_and_column_reordering(predictor, iris, fitted):
    X, _ = iris
    np.testing.assert_array_equal(predictor.predict(X), fitted.predict(X))
    shuffled = X[list(reversed(X.columns))].assign(extra=1.0)
    np.testing.assert_array_equal(predictor.predict(shuffled), fitted.predict(X))
    assert predictor.metadata["flavor"] == "sklearn"
    assert predictor.flavor.name == "sklearn"


class _Spy:
    """Records whether the model was called at all."""

    def __init__(self, model):
        self.model, self.called = model, False

    def predict(self, data):
        self.called = True
        return self.model.predict(data)


def test_predictor_missing_column(predictor, iris):
    X, _ = iris
    predictor.model = spy = _Spy(predictor.model)
    with pytest.raises(SchemaMismatchError, match=r"missing column 'petal width \(cm\)'"):
        predictor.predict(X.drop(columns=["petal width (cm)"]))
    assert not spy.called


def test_predictor_wrong_dtype(predictor, iris):
    X, _ = iris
    bad = X.assign(**{"sepal length (cm)": X["sepal length (cm)"].astype(str)})
    message = r"'sepal length \(cm\)' has dtype str, expected float64"
    with pytest.raises(SchemaMismatchError, match=message):
        predictor.predict(bad)


def test_predictor_wrong_shape(predictor, iris):
    X, _ = iris
    with pytest.raises(SchemaMismatchError, match="must be a DataFrame with columns"):
        predictor.predict(X.to_numpy())


def test_predictor_on_array_signature_wrong_number_of_features(iris):
    X, y = iris
    Xa = X.to_numpy()
    model = LogisticRegression(max_iter=500).fit(Xa, y)
    with autolog.start_run():
        uri = autolog.log_model(model, input_example=Xa)
    predictor = autolog.load_predictor(uri)
    np.testing.assert_array_equal(predictor.predict(Xa[:7].tolist()), model.predict(Xa[:7]))
    with pytest.raises(SchemaMismatchError, match="input has 3 features, expected 4"):
        predictor.predict(Xa[:, :3])
    with pytest.raises(SchemaMismatchError, match="dtype string, expected float64"):
        predictor.predict(Xa.astype(str))


def test_predictor_without_signature_checks_nothing(iris, fitted):
    with autolog.start_run():
        uri = autolog.log_model(fitted)
    predictor = autolog.load_predictor(uri)
    assert predictor.signature is None
    np.testing.assert_array_equal(predictor.predict(iris[0]), fitted.predict(iris[0]))


# --------------------------------------------------------------------------- flavors


class Doubler:
    """A toy model saved as JSON by its own flavor."""

    def __init__(self, factor):
        self.factor = factor

    def predict(self, data):
        return np.asarray(data) * self.factor


class DoublerFlavor(Flavor):
    name = "doubler"

    def matches(self, model):
        return isinstance(model, Doubler)

    def save(self, model, path):
        (path / "doubler.json").write_text(json.dumps({"factor": model.factor}))
        return {"file": "doubler.json"}

    def load(self, path):
        return Doubler(json.loads((path / "doubler.json").read_text())["factor"])


@pytest.fixture
def doubler_flavor():
    flavor = register_flavor(DoublerFlavor)
    yield flavor
    unregister_flavor("doubler")


def test_custom_flavor_roundtrip(doubler_flavor):
    with autolog.start_run():
        uri = autolog.log_model(Doubler(3), input_example=np.ones((2, 2)))
    meta = read_metadata(uri)
    assert meta["flavor"] == "doubler"
    assert meta["flavor_module"] == __name__
    assert meta["framework"] is None
    assert meta["signature"]["outputs"] == {"type": "tensor", "dtype": "float64", "shape": [-1, 2]}
    predictor = autolog.load_predictor(uri)
    np.testing.assert_array_equal(predictor.predict(np.ones((1, 2))), [[3.0, 3.0]])
    with pytest.raises(SchemaMismatchError):
        predictor.predict(np.ones((1, 5)))


def test_later_flavor_overrides_for_the_models_it_claims(fitted):
    class GreedyFlavor(DoublerFlavor):
        name = "greedy"

        def matches(self, model):
            return True

    register_flavor(GreedyFlavor())
    try:
        from autolog._models import flavor_for

        assert flavor_for(fitted).name == "greedy"
    finally:
        unregister_flavor("greedy")
    assert flavor_for(fitted).name == "sklearn"


def test_register_flavor_rejects_bad_input():
    with pytest.raises(TypeError):
        register_flavor(object())  # type: ignore[arg-type]

    class Nameless(Flavor):
        pass

    with pytest.raises(ValueError, match="non-empty"):
        register_flavor(Nameless)


def test_background_failure_surfaces_on_flush_in_strict_mode(doubler_flavor):
    class Broken(DoublerFlavor):
        name = "broken"

        def save(self, model, path):
            raise OSError("disk on fire")

    from autolog._tracking import create_run

    register_flavor(Broken)
    run = create_run()
    try:
        autolog.log_model(Doubler(2), run=run, background=True)
        with pytest.raises(autolog.AutologWarning, match="disk on fire"):
            autolog.flush()
    finally:
        unregister_flavor("broken")
        run.end()
    assert not any(Path(run.artifact_dir).iterdir())  # no half-written directory left behind


def test_importing_models_does_not_import_numpy_or_pandas():
    code = (
        "import sys, autolog, autolog._models; "
        "assert autolog.log_model and autolog.Signature; "
        "bad = [m for m in ('numpy', 'pandas', 'sklearn', 'scipy') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
