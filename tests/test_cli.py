"""The ``autolog`` command line, called through ``main([...])``, and as ``python -m autolog``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import autolog
from autolog._tracking import create_run
from autolog.cli import _records, main


@pytest.fixture
def store(tmp_path):
    """A file store: a parent run (2 children, a grandchild) and a run in experiment 'other'."""
    uri = str(tmp_path / "runs")
    autolog.set_tracking_uri(uri)
    with autolog.start_run("search") as parent:
        autolog.log_params({"cv": 3, "estimator": "LogisticRegression"})
        autolog.log_metrics({"best_cv_score": 0.96})
        autolog.set_tag("team", "vision")
        autolog.log_text("a,b\n1,2\n", "cv_results.csv")
        autolog.log_dict({"x": 1}, "model/meta.json")
        kids = []
        for c in (0.1, 1.0):
            child = create_run(f"C={c}", parent_id=parent.id)
            child.log_params({"C": c})
            child.log_metrics({"mean_test_score": 0.9 + c / 100})
            kids.append(child)
        grandchild = create_run("fold-0", parent_id=kids[0].id)
        grandchild.end()
        for child in kids:
            child.end()
    with autolog.start_run("elsewhere", experiment="other") as other:
        autolog.log_metric("loss", float("nan"))
    autolog.flush()
    return {
        "uri": uri,
        "parent": parent.id,
        "children": [k.id for k in kids],
        "grandchild": grandchild.id,
        "other": other.id,
    }


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_runs_list_shows_every_run(capsys, store):
    code, out, err = _run(capsys, "--tracking-uri", store["uri"], "runs", "list")
    assert code == 0, err
    for run_id in (store["parent"], store["other"], *store["children"], store["grandchild"]):
        assert run_id in out
    assert "FINISHED" in out and "other" in out and "search" in out
    assert "5 runs" in out
    # children are listed right below their parent, oldest first, grandchild below its parent
    family = (store["parent"], *store["children"], store["grandchild"])
    ids = [r for line in out.splitlines() for r in family if r in line]
    assert ids == [store["parent"], store["children"][0], store["grandchild"], store["children"][1]]
    assert "└ C=0.1" in out


def test_runs_list_experiment_filter_and_limit(capsys, store):
    uri = store["uri"]
    code, out, _ = _run(capsys, "--tracking-uri", uri, "runs", "list", "--experiment", "other")
    assert code == 0
    assert store["other"] in out and store["parent"] not in out
    code, out, _ = _run(capsys, "--tracking-uri", store["uri"], "runs", "list", "--limit", "2")
    assert code == 0 and "2 runs" in out


def test_runs_list_unknown_experiment_is_exit_1(capsys, store):
    code, out, err = _run(capsys, "--tracking-uri", store["uri"], "runs", "list", "-e", "nope")
    assert code == 1
    assert err.strip() == "autolog: error: no experiment named 'nope'"


def test_runs_show_params_metrics_tags_artifacts_and_child_tree(capsys, store):
    code, out, err = _run(capsys, "--tracking-uri", store["uri"], "runs", "show", store["parent"])
    assert code == 0, err
    assert store["parent"] in out and "search" in out
    for text in ("Params", "cv", "LogisticRegression", "Metrics", "best_cv_score", "0.96",
                 "Tags", "team", "vision", "Artifacts", "cv_results.csv", "model/", "meta.json"):
        assert text in out, text
    tree = out[out.index("Child runs"):]
    for run_id in (*store["children"], store["grandchild"]):
        assert run_id in tree
    assert "C=0.1" in tree and "mean_test_score=0.901" in tree
    # the grandchild hangs below its parent, deeper than the children
    lines = tree.splitlines()
    child_line = next(line for line in lines if store["children"][0] in line)
    grand_line = next(line for line in lines if store["grandchild"] in line)
    assert grand_line.index(store["grandchild"]) > child_line.index(store["children"][0])


def test_runs_show_lists_logged_models_with_signature(capsys, tmp_path):
    import numpy as np
    from sklearn.linear_model import LinearRegression

    autolog.set_tracking_uri(str(tmp_path / "runs"))
    X = np.random.default_rng(0).normal(size=(20, 3))
    model = LinearRegression().fit(X, X.sum(axis=1))
    with autolog.start_run() as run:
        autolog.log_model(model, "regressor", input_example=X)
    code, out, err = _run(capsys, "runs", "show", run.id)
    assert code == 0, err
    models = out[out.index("Models"):]
    assert f"runs:/{run.id}/regressor" in models
    assert "sklearn (scikit-learn" in models and "LinearRegression" in models
    assert "tensor(float64, (?, 3))" in models


def test_runs_show_by_unique_prefix_and_nan_metric(capsys, store):
    code, out, _ = _run(capsys, "--tracking-uri", store["uri"], "runs", "show", store["other"][:10])
    assert code == 0
    assert store["other"] in out and "nan" in out and "Child runs: none" in out


def test_runs_show_unknown_run_is_exit_1_with_one_line(capsys, store):
    uri = store["uri"]
    code, out, err = _run(capsys, "--tracking-uri", uri, "runs", "show", "0123456789abcdef")
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1 and "no run with id '0123456789abcdef'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "command", [["runs", "list"], ["runs", "show", "abcd"], ["experiments", "list"]]
)
def test_missing_store_directory_is_exit_1_and_not_created(capsys, tmp_path, command):
    missing = tmp_path / "typo"
    code, out, err = _run(capsys, "--tracking-uri", str(missing), *command)
    assert code == 1
    assert "no autolog store at" in err
    assert not missing.exists()


def test_experiments_list(capsys, store):
    code, out, _ = _run(capsys, "--tracking-uri", store["uri"], "experiments", "list")
    assert code == 0
    assert "Default" in out and "other" in out
    row = next(line for line in out.splitlines() if " other " in line)
    assert row.rstrip(" │").endswith("1")


def test_usage_errors_are_exit_2(capsys):
    assert main([]) == 2
    assert main(["runs"]) == 2
    assert main(["runs", "list", "--limit", "0"]) == 2
    assert main(["bogus"]) == 2
    assert main(["--help"]) == 0
    capsys.readouterr()


def test_status_command(capsys):
    code, out, err = _run(capsys, "status")
    assert code == 0, err
    assert "Integrations" in out and "sklearn" in out and "pyspark" in out


def test_status_records_accept_the_usual_shapes():
    from collections import namedtuple
    from dataclasses import dataclass

    @dataclass
    class S:
        name: str
        enabled: bool

    NT = namedtuple("NT", "name enabled")
    assert _records([S("sklearn", True)]) == [{"name": "sklearn", "enabled": True}]
    assert _records([NT("sklearn", False)]) == [{"name": "sklearn", "enabled": False}]
    assert _records({"sklearn": {"enabled": True}}) == [{"name": "sklearn", "enabled": True}]
    assert _records({"sklearn": "patched"}) == [{"name": "sklearn", "status": "patched"}]


def test_python_dash_m_autolog_runs_list(store):
    env = {**os.environ, "AUTOLOG_TRACKING_URI": store["uri"], "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "autolog", "runs", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert store["parent"] in proc.stdout and store["other"] in proc.stdout


def test_demo_trains_loads_and_shows_runs(tmp_path):
    # In a subprocess: the demo enables autologging and sets an experiment, process-wide state.
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("AUTOLOG_TRACKING_URI", None)
    proc = subprocess.run(
        [sys.executable, "-m", "autolog", "demo"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "predictions equal: True" in out
    assert "a predictor refuses bad input" in out and "missing column" in out
    assert "GridSearchCV" in out and "└ candidate" in out  # children nested under the search
    assert "Child runs of" in out and "mean_test_score" in out
    assert (tmp_path / "autolog-runs").is_dir()  # the documented default store
