"""Dataset records (autolog._datasets): digest, shape, schema, profile, sampling."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autolog._datasets import dataset_record, make_record, schema_field, snapshot


def test_numpy_record_shape_schema_profile():
    X = np.array([[1.0, 2.0], [np.nan, 4.0], [3.0, -1.0]])
    rec = dataset_record(X, "X")
    assert rec["name"] == "X" and rec["source_type"] == "numpy.ndarray"
    assert rec["shape"] == [3, 2]
    assert rec["schema"] == [{"name": "0", "dtype": "float64"}, {"name": "1", "dtype": "float64"}]
    assert rec["profile"]["0"] == {"nulls": 1, "min": 1.0, "max": 3.0, "mean": 2.0}
    assert rec["profile"]["1"]["min"] == -1.0
    assert rec["digest"].startswith("sha256:") and len(rec["digest"]) == 7 + 64
    assert rec["digest_scope"] == "all" and rec["sample_rows"] == 3
    json.dumps(rec, allow_nan=False)  # strict JSON


def test_digest_depends_on_content_dtype_and_shape():
    a = np.arange(12, dtype=np.float64).reshape(3, 4)
    base = dataset_record(a)["digest"]
    assert dataset_record(a.copy())["digest"] == base
    assert dataset_record(np.asfortranarray(a))["digest"] == base
    changed = a.copy()
    changed[2, 3] = -1
    assert dataset_record(changed)["digest"] != base
    assert dataset_record(a.astype(np.float32))["digest"] != base
    assert dataset_record(a.reshape(4, 3))["digest"] != base


def test_pandas_record_with_mixed_columns():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({
        "num": [1.5, None, 3.5],
        "int": [1, 2, 3],
        "cat": pd.Categorical(["a", "b", "a"]),
        "text": ["x", None, "y"],
        "flag": [True, False, True],
        "when": pd.to_datetime(["2024-01-01", None, "2024-03-01"]),
    })
    rec = dataset_record(df, "X")
    assert rec["shape"] == [3, 6]
    assert [f["name"] for f in rec["schema"]] == list(df.columns)
    prof = rec["profile"]
    assert prof["num"] == {"nulls": 1, "min": 1.5, "max": 3.5, "mean": 2.5}
    assert prof["int"]["max"] == 3 and isinstance(prof["int"]["max"], int)
    assert prof["cat"] == {"nulls": 0, "distinct": 2}
    assert prof["text"] == {"nulls": 1, "distinct": 2}
    assert prof["flag"]["mean"] == pytest.approx(2 / 3)
    assert prof["when"]["nulls"] == 1 and prof["when"]["min"].startswith("2024-01-01")
    json.dumps(rec, allow_nan=False)
    renamed = df.rename(columns={"num": "other"})
    assert dataset_record(renamed)["digest"] != rec["digest"]
    assert dataset_record(df.copy())["digest"] == rec["digest"]


def test_series_and_lists():
    pd = pytest.importorskip("pandas")
    s = dataset_record(pd.Series([1, 2, 2], name="target"), "y")
    assert s["shape"] == [3] and s["schema"] == [{"name": "target", "dtype": "int64"}]
    lst = dataset_record([[1, 2], [3, 4]], "X")
    assert lst["source_type"] == "builtins.list" and lst["shape"] == [2, 2]
    strings = dataset_record(["a", "b", None, "a"])
    assert strings["profile"]["0"] == {"nulls": 1, "distinct": 2}
    assert dataset_record([])["shape"] == [0]


def test_sparse_record():
    sp = pytest.importorskip("scipy.sparse")
    m = sp.csr_matrix(np.array([[0.0, 1.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 3.0]]))
    rec = dataset_record(m, "X")
    assert rec["shape"] == [3, 3] and rec["nnz"] == 3 and rec["format"] == "csr"
    assert rec["profile"]["0"]["max"] == 2.0 and rec["profile"]["0"]["nonzero"] == 1
    assert rec["profile"]["2"]["mean"] == pytest.approx(1.0)
    assert dataset_record(m.tocsc())["digest"] == rec["digest"]  # content, not layout
    dense = m.toarray()
    dense[0, 0] = 5.0
    m2 = sp.csr_matrix(dense)
    assert dataset_record(m2)["digest"] != rec["digest"]


def test_sampling_above_bound_is_deterministic_and_stated():
    X = np.random.default_rng(0).random((1000, 10))
    rec = dataset_record(X, max_cells=2000)
    assert rec["digest_scope"] == "sample" and rec["sample_rows"] == 200 and rec["max_cells"] == 2000
    assert rec["shape"] == [1000, 10]
    assert dataset_record(X.copy(), max_cells=2000)["digest"] == rec["digest"]
    changed = X.copy()
    changed[-1, 0] = 99.0  # the last row is always in the sample
    assert dataset_record(changed, max_cells=2000)["digest"] != rec["digest"]
    with pytest.raises(ValueError):
        snapshot(X, max_cells=0)


def test_snapshot_is_a_private_copy():
    X = np.ones((4, 2))
    snap = snapshot(X)
    X[:] = 7.0
    assert snap.record()["profile"]["0"]["max"] == 1.0


def test_wide_data_profile_truncated():
    rec = dataset_record(np.zeros((2, 150)))
    assert len(rec["profile"]) == 100 and rec["profile_columns_truncated_to"] == 100
    assert rec["shape"] == [2, 150]


def test_unsupported_input_gives_minimal_record():
    rec = dataset_record(object(), "o")
    assert rec["digest"] is None and rec["profile"] is None and rec["name"] == "o"

    class Broken:
        def __array__(self, *a, **k):
            raise RuntimeError("no")

    rec = dataset_record(Broken())
    assert rec["digest"] is None and "RuntimeError" in rec["error"]


def test_make_record_for_other_integrations():
    rec = make_record(source_type="pyspark.sql.DataFrame", shape=None,
                      schema=[schema_field("age", "int"), schema_field("name", "string")],
                      digest=None, name="train")
    assert rec["schema"][1] == {"name": "name", "dtype": "string"}
    assert rec["record_version"] == 1 and rec["shape"] is None
