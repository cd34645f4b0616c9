"""search_runs: filters, ordering, columns, experiments, malformed input."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import autolog
from autolog import MalformedFilterError
from autolog._tracking import create_run
from _tracking_fixtures import fresh_memory_store  # noqa: F401  (autouse, shared)




@pytest.fixture
def runs():
    """Five runs with varied params/metrics/tags/statuses, created oldest first."""
    specs = [
        ("cv-a", "FINISHED", {"lr": "0.1", "my key": "x"}, {"acc": 0.91, "loss": 0.3}, {"team": "red"}),
        ("cv-b", "FINISHED", {"lr": "0.01"}, {"acc": 0.85}, {"team": "blue"}),
        ("Train", "FAILED", {"lr": "0.1"}, {"acc": float("nan")}, {"team": "Red"}),
        ("train-2", "KILLED", {}, {"acc": 0.99, "loss": 0.1}, {}),
        ("other", "FINISHED", {"lr": "1"}, {}, {"team": "red", "note": "it's"}),
    ]
    out = {}
    for i, (name, status, params, metrics, tags) in enumerate(specs):
        run = create_run(name, tags=tags)
        run.log_params(params)
        run.log_metrics(metrics, step=1)
        run.end(status, wait=False)
        out[name] = run
    autolog.flush()
    return out


def names(df) -> list[str]:
    return list(df["name"])


def test_columns_and_default_order(runs):
    df = autolog.search_runs()
    assert list(df.columns[:7]) == [
        "run_id", "parent_run_id", "name", "status", "start_time", "end_time", "experiment",
    ]
    assert set(df.columns[7:]) == {
        "params.lr", "params.my key", "metrics.acc", "metrics.loss", "tags.team", "tags.note",
    }
    assert str(df["metrics.acc"].dtype) == "float64"
    assert str(df["start_time"].dtype).startswith("datetime64")
    assert names(df) == ["other", "train-2", "Train", "cv-b", "cv-a"]  # newest first
    row = df.set_index("name").loc["cv-a"]
    assert row["params.lr"] == "0.1" and row["metrics.acc"] == 0.91 and row["tags.team"] == "red"
    assert row["experiment"] == "Default" and row["status"] == "FINISHED"
    assert df.set_index("name").loc["train-2", "params.lr"] is None or pd.isna(
        df.set_index("name").loc["train-2", "params.lr"]
    )
    assert math.isnan(df.set_index("name").loc["other", "metrics.acc"])


@pytest.mark.parametrize(
    "flt, expected",
    [
        ("params.lr = '0.1'", {"cv-a", "Train"}),
        ("params.lr != '0.1'", {"cv-b", "other"}),  # runs without lr never match
        ("metrics.acc > 0.9", {"cv-a", "train-2"}),  # NaN never matches
        ("metrics.acc >= 0.85 AND metrics.acc < 0.95", {"cv-a", "cv-b"}),
        ("metrics.acc <= 0.85", {"cv-b"}),
        ("metrics.acc != 0.85", {"cv-a", "train-2"}),
        ("metrics.loss = 0.1", {"train-2"}),
        ("metrics.acc > 9e-1", {"cv-a", "train-2"}),
        ("tags.team = 'red'", {"cv-a", "other"}),
        ("tags.team LIKE 'r%'", {"cv-a", "other"}),  # LIKE is case-sensitive
        ("tags.team ILIKE 'r%'", {"cv-a", "Train", "other"}),
        ("tags.team NOT LIKE 'r%'", {"cv-b", "Train"}),
        ("tags.note = 'it''s'", {"other"}),
        ('tags.note = "it\'s"', {"other"}),
        ("attributes.status = 'FINISHED'", {"cv-a", "cv-b", "other"}),
        ("attributes.status != 'FINISHED'", {"Train", "train-2"}),
        ("attributes.name LIKE 'cv-%'", {"cv-a", "cv-b"}),
        ("attributes.run_name = 'other'", {"other"}),
        ("status = 'KILLED'", {"train-2"}),
        ("params.`my key` = 'x'", {"cv-a"}),
        ('params."my key" = \'x\'', {"cv-a"}),
        ("param.lr = '0.1' and metric.acc > 0.5 AnD tag.team = 'red'", {"cv-a"}),
        ("attributes.start_time > 0", {"cv-a", "cv-b", "Train", "train-2", "other"}),
        ("  ", {"cv-a", "cv-b", "Train", "train-2", "other"}),
        ("params.missing = 'x'", set()),
    ],
)
def test_filters(runs, flt, expected):
    assert set(names(autolog.search_runs(filter_string=flt))) == expected


def test_filter_by_run_id_and_parent(runs):
    parent = runs["cv-a"]
    child = create_run("child", parent_id=parent.id)
    child.end()
    df = autolog.search_runs(filter_string=f"attributes.run_id = '{child.id}'")
    assert names(df) == ["child"] and df.parent_run_id.item() == parent.id
    df = autolog.search_runs(filter_string=f"attributes.parent_run_id = '{parent.id}'")
    assert names(df) == ["child"]


@pytest.mark.parametrize(
    "flt, position, token",
    [
        ("metrics.acc >> 0.9", 13, "'>'"),
        ("metrics.acc > 'high'", 14, "\"'high'\""),
        ("params.lr = 0.1", 12, "'0.1'"),
        ("params.lr = '0.1' AND", 21, "end of input"),
        ("params.lr = '0.1' metrics.acc > 1", 18, "'metrics.acc'"),
        ("foo.lr = '1'", 0, "'foo'"),
        ("lr = '1'", 0, "'lr'"),
        ("attributes.colour = 'red'", 0, "'colour'"),
        ("params.lr = '0.1", 12, "\"'0.1\""),
        ("metrics.acc LIKE 1", 12, "'LIKE'"),
        ("params.lr = '1' OR params.lr = '2'", 16, "'OR'"),
        ("params.lr", 9, "end of input"),
        ("= 'x'", 0, "'='"),
        ("params.lr = '1' ; DROP TABLE runs", 16, "';"),
    ],
)
def test_malformed_filters_point_at_bad_token(runs, flt, position, token):
    with pytest.raises(MalformedFilterError) as info:
        autolog.search_runs(filter_string=flt)
    msg = str(info.value)
    assert f"position {position}" in msg, msg
    assert token in msg, msg


def test_malformed_filter_is_value_error():
    with pytest.raises(ValueError):
        autolog.search_runs(filter_string="metrics.x ~ 1")


def test_order_by(runs):
    assert names(autolog.search_runs(order_by=["metrics.acc DESC"])) == [
        "train-2", "cv-a", "cv-b", "other", "Train",  # missing/NaN last, then newest first
    ]
    assert names(autolog.search_runs(order_by="metrics.acc")) == [
        "cv-b", "cv-a", "train-2", "other", "Train",
    ]
    assert names(autolog.search_runs(order_by=["start_time"])) == [
        "cv-a", "cv-b", "Train", "train-2", "other",
    ]
    assert names(autolog.search_runs(order_by=["params.lr DESC", "attributes.name ASC"])) == [
        "other", "Train", "cv-a", "cv-b", "train-2",
    ]
    assert names(autolog.search_runs(order_by=["tags.team", "name"])) == [
        "Train", "cv-b", "cv-a", "other", "train-2",
    ]
    with pytest.raises(MalformedFilterError, match="position 12"):
        autolog.search_runs(order_by=["metrics.acc SIDEWAYS"])
    with pytest.raises(MalformedFilterError):
        autolog.search_runs(order_by=["bogus"])


def test_max_results(runs):
    assert names(autolog.search_runs(max_results=2)) == ["other", "train-2"]
    assert names(autolog.search_runs(order_by=["metrics.acc DESC"], max_results=1)) == ["train-2"]
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError):
            autolog.search_runs(max_results=bad)


def test_experiments_scope(runs):
    autolog.set_experiment("second")
    with autolog.start_run("in-second"):
        pass
    assert names(autolog.search_runs()) == ["in-second"]  # current experiment
    assert len(autolog.search_runs("Default")) == 5
    assert len(autolog.search_runs(["Default", "second"])) == 6
    assert len(autolog.search_runs("*")) == 6
    empty = autolog.search_runs("does-not-exist")
    assert empty.empty and list(empty.columns)[:3] == ["run_id", "parent_run_id", "name"]
    assert set(autolog.search_runs("*")["experiment"]) == {"Default", "second"}


def test_search_sees_unflushed_writes():
    with autolog.start_run("live") as run:
        autolog.log_metric("acc", 0.5)
        df = autolog.search_runs(filter_string="metrics.acc = 0.5")
        assert list(df.run_id) == [run.id] and df.status.item() == "RUNNING"
        assert df.end_time.isna().all()


def test_large_result_uses_filter_join():
    for i in range(1200):
        run = create_run(f"r{i}")
        run.log_params({"i": i, "parity": i % 2})
        run.log_metric("v", i)
        run.end(wait=False)
    df = autolog.search_runs(filter_string="params.parity = '1' AND metrics.v >= 100")
    assert len(df) == 550
    assert (df["params.parity"] == "1").all()
    assert df["metrics.v"].min() == 101 and df["params.i"].astype(int).max() == 1199
    assert (df["metrics.v"].astype(int).astype(str) == df["params.i"]).all()


def _assert_frame_matches_store(df):
    """Every params./metrics./tags. cell equals the run's stored value (missing: None/NaN),
    and every stored key has its column."""
    for row in df.to_dict("records"):
        run = autolog.get_run(row["run_id"])
        stored_by_prefix = (("params", run.params), ("metrics", run.metrics), ("tags", run.tags))
        for prefix, stored in stored_by_prefix:
            for key, value in stored.items():
                cell = row[f"{prefix}.{key}"]
                if prefix == "metrics" and math.isnan(value):
                    assert math.isnan(cell), (row["name"], key)
                else:
                    assert cell == value, (row["name"], key, cell, value)
            for column in (c for c in df.columns if c.startswith(prefix + ".")):
                if column[len(prefix) + 1 :] not in stored:
                    assert pd.isna(row[column]), (row["name"], column)


def test_dense_and_sparse_keys_give_the_same_frame():
    # "d" is on every run (read per run), "s" on one and "few" on three of ten (read in long form)
    for i in range(10):
        run = create_run(f"r{i}")
        params = {"d": i, **({"s": "only"} if i == 4 else {}), **({"few": i} if i < 3 else {})}
        run.log_params(params)
        metrics = {"d": 0.1 + 0.2 * i, **({"s": float("inf")} if i == 4 else {})}
        if i < 3:
            metrics["few"] = [float("nan"), -0.0, 1e308][i]
        run.log_metrics(metrics, step=1)
        run.set_tags({"d": "x", **({"s": "y"} if i == 7 else {})})
        run.end(wait=False)
    autolog.flush()
    for kwargs in (
        {},
        {"max_results": 4},
        {"filter_string": "params.d != '5'", "order_by": ["metrics.d ASC"]},
        {"filter_string": "metrics.d >= 0", "max_results": 6},
    ):
        df = autolog.search_runs(**kwargs)
        assert {c for c in df.columns if "." in c} <= {
            "params.d", "params.s", "params.few", "metrics.d", "metrics.s", "metrics.few",
            "tags.d", "tags.s",
        }
        assert all(str(df[c].dtype) == "float64" for c in df.columns if c.startswith("metrics."))
        _assert_frame_matches_store(df)
    df = autolog.search_runs()
    assert len(df) == 10 and df["metrics.s"].notna().sum() == 1
    assert names(df)[:3] == ["r9", "r8", "r7"]
    by_name = df.set_index("name")
    assert by_name.loc["r1", "metrics.few"] == 0.0 and by_name.loc["r2", "metrics.few"] == 1e308
    assert by_name.loc["r3", "metrics.d"] == 0.1 + 0.2 * 3  # full float64 precision
    limited = autolog.search_runs(max_results=4)
    assert names(limited) == ["r9", "r8", "r7", "r6"]
    assert "params.few" not in limited.columns  # only keys of the selected runs
    assert list(limited["tags.s"].isna()) == [True, True, False, True]


def test_more_keys_than_sqlite_can_join():
    for i in range(3):
        run = create_run(f"wide-{i}")
        run.log_params({f"p{k:03d}": f"{i}-{k}" for k in range(90)})
        run.log_metrics({f"m{k:02d}": i * 100 + k for k in range(40)})
        run.end(wait=False)
    autolog.flush()
    for kwargs in ({}, {"filter_string": "params.p001 != 'x'", "max_results": 2}):
        df = autolog.search_runs(**kwargs)
        assert sum(c.startswith("params.") for c in df.columns) == 90
        assert sum(c.startswith("metrics.") for c in df.columns) == 40
        _assert_frame_matches_store(df)
    df = autolog.search_runs()
    assert list(df.columns[7:10]) == ["params.p000", "params.p001", "params.p002"]
    assert df.set_index("name").loc["wide-2", "params.p089"] == "2-89"


def test_experiment_subset_and_filters_without_json_support(monkeypatch):
    from autolog._tracking import _search

    for i in range(6):
        run = create_run(f"d{i}")
        run.log_params({"i": i})
        run.log_metric("v", i)
        run.end(wait=False)
    autolog.set_experiment("other-exp")
    with autolog.start_run("o"):
        autolog.log_param("i", 99)
        autolog.log_param("only-other", 1)
    expected = {
        "default": names(autolog.search_runs("Default")),
        "filtered": names(autolog.search_runs("*", "params.i != '3'", ["metrics.v DESC"], 3)),
        "all": names(autolog.search_runs("*")),
    }
    assert expected["default"] == ["d5", "d4", "d3", "d2", "d1", "d0"]
    assert "params.only-other" not in autolog.search_runs("Default").columns
    assert expected["filtered"] == ["d5", "d4", "d2"]
    monkeypatch.setattr(_search, "_json_each", False)
    assert names(autolog.search_runs("Default")) == expected["default"]
    filtered = autolog.search_runs("*", "params.i != '3'", ["metrics.v DESC"], 3)
    assert names(filtered) == expected["filtered"]
    df = autolog.search_runs("*")
    assert names(df) == expected["all"]
    _assert_frame_matches_store(df)
