"""Spark MLlib integration against real Spark (local[2] on 127.0.0.1, one session per module)
and, in ``test_standalone_cluster_same_runs``, a real standalone cluster started by the test."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pyspark = pytest.importorskip("pyspark")

import autolog  # noqa: E402
from autolog.testing import IntegrationContract, logged_runs  # noqa: E402

HAS_JAVA = shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME"))
pytestmark = pytest.mark.skipif(not HAS_JAVA, reason="Spark needs Java")

SPARK_CONF = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.sql.adaptive.enabled": "false",
    "spark.driver.memory": "1g",
    "spark.ui.showConsoleProgress": "false",
    "spark.locality.wait": "0",
}


def _rows(n: int = 60, seed: int = 7) -> list[tuple[float, float, float]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.gauss(0, 1), rng.gauss(0, 1)
        label = 1.0 if a + 0.5 * b + rng.gauss(0, 0.7) > 0 else 0.0
        out.append((a, b, label))
    return out


@pytest.fixture(scope="module")
def spark() -> Any:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master("local[2]").appName("autolog-tests")
    for key, value in SPARK_CONF.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def raw(spark: Any) -> Any:
    return spark.createDataFrame(_rows(), ["a", "b", "label"])


@pytest.fixture
def df(raw: Any) -> Any:
    from pyspark.ml.feature import VectorAssembler

    return VectorAssembler(inputCols=["a", "b"], outputCol="features").transform(raw)


def _lr(**kwargs: Any) -> Any:
    from pyspark.ml.classification import LogisticRegression

    return LogisticRegression(maxIter=kwargs.pop("maxIter", 3), **kwargs)


def _grid(lr: Any) -> list[dict[Any, Any]]:
    from pyspark.ml.tuning import ParamGridBuilder

    return (
        ParamGridBuilder()
        .addGrid(lr.regParam, [0.01, 0.5])
        .addGrid(lr.elasticNetParam, [0.0, 1.0])
        .build()
    )


def _cv(lr: Any | None = None, **kwargs: Any) -> Any:
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.tuning import CrossValidator

    lr = lr or _lr()
    return CrossValidator(
        estimator=lr,
        estimatorParamMaps=_grid(lr),
        evaluator=BinaryClassificationEvaluator(),
        numFolds=kwargs.pop("numFolds", 2),
        seed=kwargs.pop("seed", 42),
        parallelism=kwargs.pop("parallelism", 2),
        **kwargs,
    )


def _quick_cv(**kwargs: Any) -> Any:
    """A CrossValidator with few Spark jobs per candidate (one pass of the normal-equation
    solver, a one-job evaluator): for tests about run structure, fast on 2 cores."""
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.ml.regression import LinearRegression
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder

    lin = LinearRegression(solver="normal")
    grid = ParamGridBuilder().addGrid(lin.regParam, [0.0, 0.5]).addGrid(lin.fitIntercept, [True, False]).build()
    return CrossValidator(
        estimator=lin,
        estimatorParamMaps=grid,
        evaluator=RegressionEvaluator(),
        numFolds=kwargs.pop("numFolds", 2),
        seed=kwargs.pop("seed", 42),
        parallelism=kwargs.pop("parallelism", 2),
        **kwargs,
    )


def _top(runs: list[Any]) -> list[Any]:
    return [r for r in runs if r.parent_id is None]


def _children(parent: Any, runs: list[Any]) -> list[Any]:
    return sorted(
        (r for r in runs if r.parent_id == parent.id),
        key=lambda r: int(r.tags["autolog.candidate_index"]),
    )


# --------------------------------------------------------------------------- contract


class _Boom:
    """Factory for a user-defined estimator whose training raises the given error."""

    @staticmethod
    def make(error: BaseException) -> Any:
        from pyspark.ml.base import Estimator

        class BoomEstimator(Estimator):
            def _fit(self, dataset: Any) -> Any:
                raise error

        return BoomEstimator()


class TestPySparkContract(IntegrationContract):
    integration = "pyspark"
    subprocess_code = """
        from pyspark.sql import SparkSession
        from pyspark.ml.feature import VectorAssembler
        from pyspark.ml.classification import LogisticRegression
        spark = (SparkSession.builder.master("local[1]")
                 .config("spark.driver.host", "127.0.0.1")
                 .config("spark.driver.bindAddress", "127.0.0.1")
                 .config("spark.ui.enabled", "false")
                 .config("spark.sql.shuffle.partitions", "1").getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        raw = spark.createDataFrame([(0.0, 1.0, 0.0), (1.0, 0.0, 1.0), (0.1, 0.9, 0.0),
                                     (0.9, 0.2, 1.0)], ["a", "b", "label"])
        df = VectorAssembler(inputCols=["a", "b"], outputCol="features").transform(raw)
        LogisticRegression(maxIter=2).fit(df)
    """

    @pytest.fixture(autouse=True)
    def _data(self, df: Any, raw: Any) -> None:
        self.df, self.raw = df, raw

    def patched_targets(self) -> list[tuple[Any, str]]:
        from pyspark import SparkContext
        from pyspark.ml.base import Estimator, Transformer
        from pyspark.ml.evaluation import Evaluator

        return [
            (Estimator, "fit"),
            (Transformer, "transform"),
            (Evaluator, "evaluate"),
            (SparkContext, "stop"),
        ]

    def fit(self) -> Any:
        return _lr().fit(self.df)

    def failing_fit(self, error: BaseException) -> Any:
        return _Boom.make(error).fit(self.df)

    def nested_fit(self) -> Any:
        from pyspark.ml import Pipeline
        from pyspark.ml.feature import StandardScaler, VectorAssembler

        stages = [
            VectorAssembler(inputCols=["a", "b"], outputCol="raw_features"),
            StandardScaler(inputCol="raw_features", outputCol="features"),
            _lr(),
        ]
        return Pipeline(stages=stages).fit(self.raw)

    def check_run(self, run: Any) -> None:
        assert run.params["maxIter"] == "3"
        assert run.tags["estimator_name"] == "LogisticRegression"
        assert "model/autolog-model.json" in run.artifacts


# --------------------------------------------------------------------------- tuning


def test_cross_validator_parent_and_children(df: Any) -> None:
    autolog.autolog()
    cv = _cv()
    model = cv.fit(df)
    runs = logged_runs()
    (parent,) = _top(runs)
    children = _children(parent, runs)
    assert len(children) == 4
    assert parent.status == "FINISHED" and all(c.status == "FINISHED" for c in children)

    p = parent.params
    assert p["numFolds"] == "2" and p["seed"] == "42" and p["parallelism"] == "2"
    assert p["estimator"] == "LogisticRegression"
    assert p["evaluator"] == "BinaryClassificationEvaluator"
    assert p["BinaryClassificationEvaluator.metricName"] == "areaUnderROC"
    assert p["BinaryClassificationEvaluator.isLargerBetter"] == "True"
    assert p["LogisticRegression.maxIter"] == "3"
    assert "estimatorParamMaps" not in p

    grid = cv.getEstimatorParamMaps()
    best = max(range(4), key=lambda i: (model.avgMetrics[i], -i))
    assert p["best_regParam"] == str(grid[best][cv.getEstimator().regParam])
    assert p["best_elasticNetParam"] == str(grid[best][cv.getEstimator().elasticNetParam])
    assert parent.metrics["best_avg_areaUnderROC"] == pytest.approx(model.avgMetrics[best])
    assert parent.metrics["best_std_areaUnderROC"] == pytest.approx(model.stdMetrics[best])

    lr = cv.getEstimator()
    for i, child in enumerate(children):
        assert child.params["regParam"] == str(grid[i][lr.regParam])
        assert child.params["elasticNetParam"] == str(grid[i][lr.elasticNetParam])
        assert child.params["maxIter"] == "3"
        assert child.metrics["avg_areaUnderROC"] == pytest.approx(model.avgMetrics[i])
        assert child.metrics["std_areaUnderROC"] == pytest.approx(model.stdMetrics[i])
        assert (child.tags.get("autolog.best_candidate") == "true") == (i == best)

    arts = parent.artifacts
    assert "search_results.csv" in arts and "estimator_hierarchy.json" in arts
    assert "model/autolog-model.json" in arts
    table = list(csv.DictReader(io.StringIO((parent.artifact_dir / "search_results.csv").read_text())))
    assert [r["candidate"] for r in table] == ["0", "1", "2", "3"]
    assert [r["is_best"] for r in table].count("True") == 1
    assert table[best]["is_best"] == "True" and table[best]["rank"] == "1"
    assert {r["run_id"] for r in table} == {c.id for c in children}
    hierarchy = json.loads((parent.artifact_dir / "estimator_hierarchy.json").read_text())
    assert hierarchy["name"] == "CrossValidator"
    assert hierarchy["estimator"]["name"] == "LogisticRegression"
    assert hierarchy["evaluator"]["class"].endswith("BinaryClassificationEvaluator")
    meta = json.loads((parent.artifact_dir / "model" / "autolog-model.json").read_text())
    assert meta["flavor"] == "pyspark"
    assert meta["flavor_metadata"]["spark_class"].endswith("LogisticRegressionModel")
    assert [c["name"] for c in meta["signature"]["inputs"]["columns"]] == ["features"]


def test_train_validation_split_children_and_max_tuning_runs(df: Any) -> None:
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.ml.regression import LinearRegression
    from pyspark.ml.tuning import ParamGridBuilder, TrainValidationSplit

    lin = LinearRegression(maxIter=3)
    grid = ParamGridBuilder().addGrid(lin.regParam, [0.0, 1.0]).addGrid(lin.fitIntercept, [True, False]).build()
    tvs = TrainValidationSplit(
        estimator=lin, estimatorParamMaps=grid, evaluator=RegressionEvaluator(), trainRatio=0.7, seed=3
    )
    autolog.autolog()
    model = tvs.fit(df)
    runs = logged_runs()
    (parent,) = _top(runs)
    children = _children(parent, runs)
    assert len(children) == 4
    assert parent.params["trainRatio"] == "0.7"
    assert parent.params["RegressionEvaluator.isLargerBetter"] == "False"  # rmse
    best = min(range(4), key=lambda i: (model.validationMetrics[i], i))
    for i, child in enumerate(children):
        assert child.metrics == {"rmse": pytest.approx(model.validationMetrics[i])}
        assert child.params["regParam"] == str(grid[i][lin.regParam])
        assert child.params["fitIntercept"] == str(grid[i][lin.fitIntercept])
    assert parent.params["best_regParam"] == str(grid[best][lin.regParam])
    assert parent.metrics["best_rmse"] == pytest.approx(model.validationMetrics[best])
    assert [c.tags.get("autolog.best_candidate") for c in children].count("true") == 1

    # max_tuning_runs keeps only the best candidates as runs; the CSV keeps them all.
    autolog.set_tracking_uri("memory:")
    autolog.autolog(pyspark={"max_tuning_runs": 1})
    tvs.fit(df)
    runs = logged_runs()
    (parent,) = _top(runs)
    (child,) = _children(parent, runs)
    assert child.tags["autolog.best_candidate"] == "true"
    rows = (parent.artifact_dir / "search_results.csv").read_text().strip().splitlines()
    assert len(rows) == 5


def test_cross_validator_inside_user_run_leaves_it_open(df: Any) -> None:
    autolog.autolog()
    with autolog.start_run("mine") as run:
        _quick_cv().fit(df)
        assert autolog.active_run() is run
        assert run.status == "RUNNING"
    runs = logged_runs()
    assert [r.id for r in _top(runs)] == [run.id]
    assert len(_children(run, runs)) == 4
    assert run.params["numFolds"] == "2"


def test_two_cross_validators_in_one_run_keep_everything(df: Any) -> None:
    autolog.autolog()
    with autolog.start_run("two") as run:
        _quick_cv(seed=1).fit(df)
        _quick_cv(seed=2, numFolds=3).fit(df)
    runs = logged_runs()
    assert [r.id for r in _top(runs)] == [run.id]
    assert len(_children(run, runs)) == 8
    params = run.params
    assert params["seed"] == "1" and params["numFolds"] == "2"
    renamed = [k for k in params if k.startswith("seed_")]
    assert len(renamed) == 1 and params[renamed[0]] == "2"
    suffix = renamed[0][len("seed_"):]
    assert params[f"numFolds_{suffix}"] == "3"
    assert f"search_results_{suffix}.csv" in run.artifacts and "search_results.csv" in run.artifacts
    assert f"best_avg_rmse_{suffix}" in run.metrics and "best_avg_rmse" in run.metrics
    assert f"model_{suffix}/autolog-model.json" in run.artifacts


# --------------------------------------------------------------------------- params


def test_pipeline_params_are_named_deterministically(raw: Any) -> None:
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import VectorAssembler

    autolog.autolog()
    Pipeline(stages=[VectorAssembler(inputCols=["a", "b"], outputCol="features"), _lr()]).fit(raw)
    pipe2 = Pipeline(
        stages=[
            VectorAssembler(inputCols=["a"], outputCol="fa"),
            VectorAssembler(inputCols=["fa", "b"], outputCol="features"),
            _lr(regParam=0.1),
        ]
    )
    pipe2.fit(raw)
    first, second = _top(logged_runs())
    assert len(logged_runs()) == 2  # no runs for the stages
    p = first.params
    assert p["stages"] == '["VectorAssembler", "LogisticRegression"]'
    assert p["VectorAssembler.inputCols"] == "['a', 'b']"
    assert p["LogisticRegression.maxIter"] == "3"
    assert "maxIter" not in p
    q = second.params
    assert q["stages"] == '["VectorAssembler_1", "VectorAssembler_2", "LogisticRegression"]'
    assert q["VectorAssembler_1.inputCols"] == "['a']"
    assert q["VectorAssembler_2.inputCols"] == "['fa', 'b']"
    assert q["LogisticRegression.regParam"] == "0.1"
    meta = json.loads((second.artifact_dir / "model" / "autolog-model.json").read_text())
    assert [c["name"] for c in meta["signature"]["inputs"]["columns"]] == ["a", "b"]


def test_featurizer_only_fits_create_no_runs(raw: Any) -> None:
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import StringIndexer, VectorAssembler

    autolog.autolog()
    StringIndexer(inputCol="label", outputCol="idx").fit(raw)
    Pipeline(stages=[VectorAssembler(inputCols=["a"], outputCol="v"),
                     StringIndexer(inputCol="label", outputCol="idx")]).fit(raw)
    assert logged_runs() == []


def test_fit_by_keyword_and_with_param_map(df: Any) -> None:
    autolog.autolog()
    lr = _lr()
    lr.fit(dataset=df)
    lr.fit(df, params={lr.regParam: 0.25})
    first, second = _top(logged_runs())
    assert first.params["regParam"] == "0.0"
    assert second.params["regParam"] == "0.25"
    assert "model/autolog-model.json" in first.artifacts


def test_fit_with_list_of_param_maps(df: Any) -> None:
    autolog.autolog()
    lr = _lr()
    models = lr.fit(df, [{lr.regParam: 0.1}, {lr.regParam: 0.2}])
    assert len(models) == 2
    runs = logged_runs()
    (parent,) = _top(runs)
    children = _children(parent, runs)
    assert [c.params["regParam"] for c in children] == ["0.1", "0.2"]
    assert all("model/autolog-model.json" in c.artifacts for c in children)


# --------------------------------------------------------------------------- models


def test_load_model_gives_same_predictions(df: Any) -> None:
    autolog.autolog()
    model = _lr().fit(df)
    (run,) = logged_runs()
    loaded = autolog.load_model(f"runs:/{run.id}/model")
    assert type(loaded) is type(model)
    expected = [r.prediction for r in model.transform(df).select("prediction").collect()]
    got = [r.prediction for r in loaded.transform(df).select("prediction").collect()]
    assert got == expected


def test_model_outside_allowlist_is_tagged_not_logged(df: Any) -> None:
    autolog.autolog(pyspark={"log_model_allowlist": {"KMeansModel"}})
    _lr().fit(df)
    (run,) = logged_runs()
    assert not any(a.startswith("model/") for a in run.artifacts)
    reason = run.tags["autolog.model_skipped"]
    assert "LogisticRegressionModel" in reason and "log_model_allowlist" in reason


def test_dropped_model_write_does_not_hold_up_the_exit_drain(spark: Any) -> None:
    import gc

    from pyspark.ml.feature import VectorAssembler

    from autolog.integrations import _pyspark_flavor as flavor

    before = flavor.pending()
    write = flavor.SparkFlavor().snapshot(VectorAssembler(inputCols=["a"], outputCol="v"))
    assert flavor.pending() == before + 1
    del write
    gc.collect()
    assert flavor.pending() == before
    assert flavor.drain(timeout=5)


# --------------------------------------------------------------------------- post-training


def test_post_training_evaluate_is_logged_to_the_model_run(df: Any) -> None:
    from pyspark.ml.evaluation import BinaryClassificationEvaluator

    autolog.autolog()
    train_df, test_df = df.randomSplit([0.7, 0.3], seed=1)
    model = _lr().fit(train_df)
    predictions = model.transform(test_df)
    evaluator = BinaryClassificationEvaluator()
    auc = evaluator.evaluate(predictions)
    pr = evaluator.evaluate(predictions, {evaluator.metricName: "areaUnderPR"})
    BinaryClassificationEvaluator().evaluate(df.withColumn("rawPrediction", df["features"]))
    (run,) = logged_runs()
    assert run.metrics["areaUnderROC_test_df"] == pytest.approx(auc)
    assert run.metrics["areaUnderPR_test_df"] == pytest.approx(pr)
    assert len(run.metrics) == 2


# --------------------------------------------------------------------------- switches


def test_spark_conf_switch_is_read_at_fit_time(spark: Any, df: Any) -> None:
    autolog.autolog()
    spark.conf.set("spark.autolog.enabled", "false")
    try:
        _lr().fit(df)
        assert logged_runs() == []
    finally:
        spark.conf.unset("spark.autolog.enabled")
    _lr().fit(df)
    assert len(logged_runs()) == 1


def test_disable_restores_estimator_fit_exactly() -> None:
    from pyspark.ml.base import Estimator, Transformer
    from pyspark.ml.evaluation import Evaluator

    before = {cls: dict(vars(cls)) for cls in (Estimator, Transformer, Evaluator)}
    autolog.autolog()
    assert Estimator.__dict__["fit"] is not before[Estimator]["fit"]
    autolog.disable("pyspark")
    for cls, snapshot in before.items():
        assert dict(vars(cls)).keys() == snapshot.keys()
        assert all(vars(cls)[k] is v for k, v in snapshot.items() if k != "__dict__")
    assert Estimator.__dict__["fit"] is before[Estimator]["fit"]


def test_user_dataframes_are_not_cached_or_uncached(spark: Any, df: Any) -> None:
    from pyspark.sql.functions import col

    autolog.autolog()
    cached = df.withColumn("c", col("a")).cache()
    plain = df.withColumn("d", col("b"))
    before = (cached.is_cached, str(cached.storageLevel), plain.is_cached, str(plain.storageLevel))
    _quick_cv().fit(cached)
    _lr().fit(plain)
    after = (cached.is_cached, str(cached.storageLevel), plain.is_cached, str(plain.storageLevel))
    assert after == before
    assert before[0] and not before[2]
    cached.unpersist()


# --------------------------------------------------------------------------- standalone cluster


_CLUSTER_SCRIPT = """
import json, sys
import autolog
autolog.set_tracking_uri(sys.argv[2])
autolog.autolog()
from pyspark.sql import SparkSession
builder = SparkSession.builder.master(sys.argv[1]).appName("autolog-cluster-test")
for key, value in json.loads(sys.argv[3]).items():
    builder = builder.config(key, value)
spark = builder.getOrCreate()
spark.sparkContext.setLogLevel("ERROR")
sys.path.insert(0, sys.argv[5])
from test_pyspark import _quick_cv, _frame
_quick_cv().fit(_frame(spark))
print("MASTER", spark.sparkContext.master, flush=True)
# No spark.stop(), no autolog.flush(): the script just ends, as notebooks and jobs do. The
# model is still being written in the background; the exit drain must finish it before
# pyspark's exit hook kills the JVM, and the interpreter must not hang.
"""


def _frame(spark: Any) -> Any:
    from pyspark.ml.feature import VectorAssembler

    raw = spark.createDataFrame(_rows(), ["a", "b", "label"])
    return VectorAssembler(inputCols=["a", "b"], outputCol="features").transform(raw)


def _summary() -> dict[str, Any]:
    runs = logged_runs()
    (parent,) = _top(runs)
    children = _children(parent, runs)
    return {
        "params": dict(parent.params),
        "metrics": {k: round(v, 6) for k, v in parent.metrics.items()},
        "artifacts": sorted(a for a in parent.artifacts if "/" not in a),
        "has_model": "model/autolog-model.json" in parent.artifacts,
        "children": [
            (dict(c.params), {k: round(v, 6) for k, v in c.metrics.items()},
             c.tags.get("autolog.best_candidate"))
            for c in children
        ],
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_standalone_cluster_same_runs(spark: Any, tmp_path: Path) -> None:
    """A master and one worker from pyspark's own launcher run the same CrossValidator as
    local[2]: the runs logged (params, metrics, children, artifacts) are the same."""
    spark_home = Path(pyspark.__file__).parent
    spark_class = spark_home / "bin" / "spark-class"
    env = dict(
        os.environ,
        SPARK_HOME=str(spark_home),
        SPARK_LOCAL_IP="127.0.0.1",
        SPARK_WORKER_DIR=str(tmp_path / "work"),
        SPARK_LOG_DIR=str(tmp_path / "logs"),
        SPARK_MASTER_OPTS="-Dspark.master.rest.enabled=false",
        PYSPARK_PYTHON=sys.executable,
        PYSPARK_DRIVER_PYTHON=sys.executable,
        SPARK_DAEMON_MEMORY="256m",
        AUTOLOG_STRICT="1",
    )
    env.pop("AUTOLOG_DISABLE", None)
    port = _free_port()
    master_url = f"spark://127.0.0.1:{port}"
    daemons = {
        "master": ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                   "--port", str(port), "--webui-port", str(_free_port())],
        "worker": ["org.apache.spark.deploy.worker.Worker", master_url, "--host", "127.0.0.1",
                   "--cores", "2", "--memory", "1g", "--webui-port", str(_free_port()),
                   "--work-dir", str(tmp_path / "work")],
    }
    store = str(tmp_path / "store-cluster")
    conf = dict(SPARK_CONF, **{"spark.executor.memory": "512m", "spark.cores.max": "2",
                               "spark.driver.memory": "512m"})
    logs, procs = [], []
    try:
        # Master, worker and driver start together: the worker retries the master and the
        # application waits for executors, so no start-up is waited for in sequence.
        for name, args in daemons.items():
            log = open(tmp_path / f"{name}.log", "w")
            logs.append(log)
            procs.append(subprocess.Popen([str(spark_class), *args], env=env, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True,
                                          preexec_fn=_die_with_parent))
        driver = subprocess.Popen(
            [sys.executable, "-c", _CLUSTER_SCRIPT, master_url, store, json.dumps(conf), "",
             str(Path(__file__).parent)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True, preexec_fn=_die_with_parent,
        )
        procs.append(driver)
        # Meanwhile, the same search on the module's local[2] session.
        autolog.autolog()
        _quick_cv().fit(_frame(spark))
        local = _summary()
        out, err = driver.communicate(timeout=480)
        assert driver.returncode == 0, err[-4000:] + _tail(tmp_path)
        assert f"MASTER {master_url}" in out
    finally:
        for proc in reversed(procs):
            _signal_group(proc, signal.SIGTERM)
        for proc in reversed(procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        for log in logs:
            log.close()
    autolog.set_tracking_uri(store)
    cluster = _summary()
    assert len(cluster["children"]) == 4 and cluster["has_model"]
    assert "search_results.csv" in cluster["artifacts"]
    assert cluster == local


def _die_with_parent() -> None:
    # Runs in the child before exec: if the test process dies (killed, timed out), the kernel
    # sends SIGTERM to the daemons instead of leaving them running (PR_SET_PDEATHSIG = 1).
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    except Exception:
        pass


def _signal_group(proc: subprocess.Popen[Any], sig: int) -> None:
    # Each daemon leads its own process group: this reaches any process it started too.
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(tmp_path: Path) -> str:
    return "".join(
        f"\n--- {p.name}\n" + p.read_text(errors="replace")[-2000:] for p in tmp_path.glob("*.log")
    )
