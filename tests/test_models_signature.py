"""Signature inference, (de)serialisation and validation rules."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import autolog
from autolog import ModelError, SchemaMismatchError, Signature, infer_signature
from autolog._models import ColumnSchema, TensorDictSchema, TensorSchema, is_compatible


def _roundtrip(sig: Signature) -> Signature:
    return Signature.from_dict(json.loads(json.dumps(sig.to_dict())))


def test_numpy_array_dtype_and_shape_with_batch_dim():
    sig = infer_signature(np.zeros((10, 4), dtype=np.float32), np.zeros(10, dtype=np.int64))
    assert sig.inputs == TensorSchema("float32", (-1, 4))
    assert sig.outputs == TensorSchema("int64", (-1,))
    assert sig.to_dict() == {
        "inputs": {"type": "tensor", "dtype": "float32", "shape": [-1, 4]},
        "outputs": {"type": "tensor", "dtype": "int64", "shape": [-1]},
    }
    assert _roundtrip(sig) == sig


def test_numpy_higher_rank_and_strings():
    assert infer_signature(np.zeros((2, 3, 5), dtype=np.uint8)).inputs.shape == (-1, 3, 5)
    assert infer_signature(np.array(["a", "bc"])).inputs == TensorSchema("string", (-1,))
    obj = np.array(["a", None, "b"], dtype=object)
    assert infer_signature(obj).inputs.dtype == "string"
    assert infer_signature(np.array([1, "a"], dtype=object)).inputs.dtype == "object"


def test_dataframe_columns_and_logical_types():
    df = pd.DataFrame(
        {
            "f": [1.5, None],
            "i": np.array([1, 2], dtype=np.int32),
            "s": ["x", "y"],
            "o": np.array(["x", "y"], dtype=object),
            "c": pd.Categorical(["u", "v"]),
            "b": [True, False],
            "nb": pd.array([True, None], dtype="boolean"),
            "ni": pd.array([1, None], dtype="Int64"),
            "d": pd.to_datetime(["2020-01-01", "2020-01-02"]),
            "tz": pd.to_datetime(["2020-01-01", "2020-01-02"]).tz_localize("UTC"),
            "td": pd.to_timedelta([1, 2], unit="s"),
        }
    )
    sig = infer_signature(df)
    assert isinstance(sig.inputs, ColumnSchema)
    types = {c.name: c.type for c in sig.inputs.columns}
    assert types == {
        "f": "float64",
        "i": "int32",
        "s": "string",
        "o": "string",
        "c": "category",
        "b": "bool",
        "nb": "bool",
        "ni": "int64",
        "d": "datetime",
        "tz": "datetimetz",
        "td": "timedelta",
    }
    assert sig.inputs.names == list(df.columns)
    assert sig.outputs is None
    assert _roundtrip(sig) == sig


def test_dataframe_with_integer_column_names_roundtrips():
    sig = infer_signature(pd.DataFrame(np.zeros((3, 2))))
    assert sig.inputs.names == [0, 1]
    assert _roundtrip(sig) == sig


def test_series_and_dataframe_output():
    sig = infer_signature(pd.Series([1.0, 2.0], name="x"), pd.Series(["a", "b"]))
    assert sig.inputs == ColumnSchema(sig.inputs.columns)
    assert [(c.name, c.type) for c in sig.inputs.columns] == [("x", "float64")]
    assert [(c.name, c.type) for c in sig.outputs.columns] == [(None, "string")]
    assert _roundtrip(sig) == sig


def test_python_lists_go_through_numpy():
    assert infer_signature([[1, 2], [3, 4]]).inputs == TensorSchema("int64", (-1, 2))
    assert infer_signature([0.5, 1.5]).inputs == TensorSchema("float64", (-1,))
    assert infer_signature(["a", "b"]).inputs == TensorSchema("string", (-1,))
    assert infer_signature([[1, 2]] * 5000).inputs == TensorSchema("int64", (-1, 2))


def test_scipy_sparse_dtype_shape_and_format():
    sig = infer_signature(sp.csr_matrix(np.eye(3, 5, dtype=np.float32)))
    assert sig.inputs == TensorSchema("float32", (-1, 5), "csr")
    assert _roundtrip(sig) == sig


def test_dict_of_arrays():
    sig = infer_signature({"ids": np.arange(4), "emb": np.zeros((4, 8)), "tags": ["a"] * 4})
    assert sig.inputs == TensorDictSchema(
        {
            "ids": TensorSchema("int64", (-1,)),
            "emb": TensorSchema("float64", (-1, 8)),
            "tags": TensorSchema("string", (-1,)),
        }
    )
    assert _roundtrip(sig) == sig


def test_unsupported_input_is_a_model_error():
    with pytest.raises(ModelError, match="cannot describe data of type"):
        infer_signature(object())
    with pytest.raises(ModelError, match="as an array"):
        infer_signature([[1, 2], [3]])  # ragged


def test_malformed_signature_dict():
    with pytest.raises(ModelError, match="malformed"):
        Signature.from_dict({"inputs": {"type": "nope"}})
    with pytest.raises(ModelError, match="malformed"):
        Signature.from_dict({"outputs": None})


def test_public_names_are_reexported():
    assert autolog.Signature is Signature
    assert autolog.infer_signature is infer_signature


# --------------------------------------------------------------------------- validation


@pytest.fixture
def frame():
    return pd.DataFrame(
        {"a": [1.0, 2.0], "b": np.array([1, 2], dtype=np.int64), "c": ["x", "y"]}
    )


def test_validate_passes_on_same_data_and_reordered_or_extra_columns(frame):
    sig = infer_signature(frame)
    sig.validate(frame)
    sig.validate(frame[["c", "a", "b"]].assign(extra=1))


def test_validate_missing_column(frame):
    sig = infer_signature(frame)
    with pytest.raises(SchemaMismatchError, match=r"missing column 'b'"):
        sig.validate(frame.drop(columns=["b"]))


def test_validate_wrong_dtype_names_column_and_types(frame):
    sig = infer_signature(frame)
    with pytest.raises(SchemaMismatchError, match=r"column 'a' has dtype str, expected float64"):
        sig.validate(frame.assign(a=["1", "2"]))


def test_validate_reports_every_problem_at_once(frame):
    sig = infer_signature(frame)
    with pytest.raises(SchemaMismatchError) as info:
        sig.validate(frame.drop(columns=["c"]).assign(a=[True, False]))
    assert "missing column 'c'" in str(info.value)
    assert "column 'a' has dtype bool" in str(info.value)


def test_validate_integer_column_with_missing_values_gets_a_hint(frame):
    sig = infer_signature(frame)
    with pytest.raises(SchemaMismatchError, match="missing values"):
        sig.validate(frame.assign(b=[1.0, None]))


def test_safe_widening_is_accepted(frame):
    sig = infer_signature(frame)
    sig.validate(frame.assign(b=np.array([1, 2], dtype=np.int32), a=[1, 2]))
    sig.validate(frame.assign(b=pd.array([1, 2], dtype="Int64")))
    sig.validate(frame.assign(c=pd.Categorical(["x", "y"])))


@pytest.mark.parametrize(
    ("expected", "given", "ok"),
    [
        ("int64", "int32", True),
        ("int16", "uint8", True),
        ("float64", "int64", True),
        ("float32", "int16", True),
        ("float64", "float32", True),
        ("float32", "float64", False),
        ("int64", "float64", False),
        ("int32", "int64", False),
        ("float64", "bool", False),
        ("bool", "int64", False),
        ("string", "category", True),
        ("datetime", "string", False),
        ("object", "datetime", True),
    ],
)
def test_compatibility_rules(expected, given, ok):
    assert is_compatible(expected, given) is ok


def test_validate_tensor_shape_and_features():
    sig = infer_signature(np.zeros((5, 4)))
    sig.validate(np.ones((1, 4)))
    sig.validate([[1, 2, 3, 4]])  # ints widen to float64
    with pytest.raises(SchemaMismatchError, match=r"input has 3 features, expected 4"):
        sig.validate(np.ones((2, 3)))
    with pytest.raises(SchemaMismatchError, match=r"shape \(4,\), expected \(\?, 4\)"):
        sig.validate(np.ones(4))
    with pytest.raises(SchemaMismatchError, match="dtype string, expected float64"):
        sig.validate(np.array([["a"] * 4]))


def test_validate_dataframe_against_array_signature_checks_columns():
    sig = infer_signature(np.zeros((5, 2)))
    sig.validate(pd.DataFrame({"x": [1.0], "y": [2]}))
    with pytest.raises(SchemaMismatchError, match="has 3 columns, expected 2 features"):
        sig.validate(pd.DataFrame({"x": [1.0], "y": [2.0], "z": [3.0]}))


def test_validate_array_against_column_signature_is_refused(frame):
    message = r"must be a DataFrame with columns \['a', 'b', 'c'\]"
    with pytest.raises(SchemaMismatchError, match=message):
        infer_signature(frame).validate(np.zeros((2, 3)))


def test_validate_sparse_input():
    sig = infer_signature(sp.csr_matrix(np.eye(3)))
    sig.validate(sp.csc_matrix(np.eye(4, 3)))
    sig.validate(np.eye(2, 3))
    with pytest.raises(SchemaMismatchError, match="features"):
        sig.validate(sp.csr_matrix(np.eye(4)))


def test_validate_dict_of_arrays():
    sig = infer_signature({"x": np.zeros((3, 2)), "y": np.zeros(3)})
    sig.validate({"x": np.ones((1, 2)), "y": np.ones(1), "z": 1})
    with pytest.raises(SchemaMismatchError, match="missing key 'y'"):
        sig.validate({"x": np.ones((1, 2))})
    with pytest.raises(SchemaMismatchError, match=r"input\['x'\] has 3 features"):
        sig.validate({"x": np.ones((1, 3)), "y": np.ones(1)})


def test_validate_unsupported_type_is_schema_mismatch(frame):
    with pytest.raises(SchemaMismatchError, match="cannot describe"):
        infer_signature(frame).validate(object())


def test_validate_output():
    sig = infer_signature(np.zeros((2, 2)), np.zeros(2, dtype=np.int64))
    sig.validate_output(np.array([1, 0]))
    with pytest.raises(SchemaMismatchError, match="output has dtype string"):
        sig.validate_output(np.array(["a"]))
