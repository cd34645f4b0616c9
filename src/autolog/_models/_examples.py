"""Input examples: a few rows of model input stored as JSON next to the model.

The file (``input_example.json``) holds ``{"type": ..., ...}``:

* ``dataframe``: pandas "split" layout (``columns``, ``data`` rows) plus ``dtypes`` so that
  :func:`read_example` rebuilds the same column types; datetimes as ISO strings;
* ``series``: ``name``, ``dtype``, ``data``;
* ``ndarray``: ``dtype``, ``shape``, ``data`` (nested lists); scipy sparse input is stored
  densified with ``"sparse": <format>`` so it can be rebuilt sparse;
* ``dict``: ``data`` mapping names to ``ndarray`` entries;
* ``json``: any other JSON-able value (a list of plain values) as is.

The file is strict JSON: in frames and series NaN and infinities become ``null`` (pandas'
rules); in arrays NaN becomes ``null`` and infinities the strings ``"inf"``/``"-inf"``, which
:func:`read_example` turns back into floats.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from autolog._errors import ModelError

__all__ = ["EXAMPLE_FILE", "MAX_ROWS", "example_to_json", "read_example"]

EXAMPLE_FILE = "input_example.json"
#: at most this many rows of an input example are stored
MAX_ROWS = 5


def head(data: Any, n: int = MAX_ROWS) -> Any:
    """The first ``n`` rows of ``data`` (any supported input kind); ``data`` itself if unknown."""
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(data, (pd.DataFrame, pd.Series)):
        return data.iloc[:n]
    np = sys.modules.get("numpy")
    if np is not None and isinstance(data, np.ndarray):
        return data[:n] if data.ndim else data
    sparse = sys.modules.get("scipy.sparse")
    if sparse is not None and sparse.issparse(data):
        return data.tocsr()[:n].asformat(data.format)
    if isinstance(data, dict):
        return {k: head(v, n) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return data[:n]
    return data


def example_to_json(data: Any) -> dict[str, Any]:
    """A JSON-able dict holding the first :data:`MAX_ROWS` rows of ``data``.

    Raises :class:`~autolog.ModelError` when ``data`` is of a type that cannot be stored.
    """
    data = _as_known(data)
    data = head(data)
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(data, (pd.DataFrame, pd.Series)):
        try:
            split = json.loads(data.to_json(orient="split", date_format="iso", date_unit="us"))
        except (TypeError, ValueError, OverflowError) as exc:
            raise ModelError(f"cannot store the input example as JSON: {exc}") from exc
    if pd is not None and isinstance(data, pd.DataFrame):
        return {
            "type": "dataframe",
            "columns": split["columns"],
            "dtypes": [str(t) for t in data.dtypes],
            "data": split["data"],
        }
    if pd is not None and isinstance(data, pd.Series):
        return {
            "type": "series",
            "name": split.get("name"),
            "dtype": str(data.dtype),
            "data": split["data"],
        }
    np = sys.modules.get("numpy")
    if np is not None and isinstance(data, np.ndarray):
        return _array(data)
    sparse = sys.modules.get("scipy.sparse")
    if sparse is not None and sparse.issparse(data):
        return {**_array(data.toarray()), "sparse": data.format}
    if isinstance(data, dict):
        import numpy as np

        return {"type": "dict", "data": {str(k): _array(np.asarray(v)) for k, v in data.items()}}
    try:
        return {"type": "json", "data": json.loads(json.dumps(data, allow_nan=False))}
    except (TypeError, ValueError) as exc:
        raise ModelError(
            f"cannot store an input example of type {type(data).__name__}: {exc}"
        ) from exc


def _as_known(data: Any) -> Any:
    known = ("pandas", "numpy", "scipy", "builtins")
    if type(data).__module__.split(".")[0] in known:
        return data
    from autolog._models._flavors import flavors

    for flavor in flavors():
        converted = flavor.to_example(data)
        if converted is not None:
            return converted
    return data


def _array(arr: Any) -> dict[str, Any]:
    if arr.dtype.kind in "fc":
        values = _clean_floats(arr.tolist())
    elif arr.dtype.kind in "Mm":
        values = arr.astype(str).tolist()
    elif arr.dtype.kind == "S":
        values = [v.decode("utf-8", "replace") for v in arr.ravel().tolist()]
        values = _reshape(values, arr.shape)
    else:
        values = arr.tolist()
    try:
        json.dumps(values, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ModelError(
            f"cannot store an input example array of dtype {arr.dtype}: {exc}"
        ) from exc
    return {"type": "ndarray", "dtype": str(arr.dtype), "shape": list(arr.shape), "data": values}


def _clean_floats(values: Any) -> Any:
    if isinstance(values, list):
        return [_clean_floats(v) for v in values]
    if isinstance(values, float) and not math.isfinite(values):
        return None if math.isnan(values) else ("inf" if values > 0 else "-inf")
    if isinstance(values, complex):
        return [values.real, values.imag]
    return values


def _reshape(flat: list[Any], shape: tuple[int, ...]) -> Any:
    if len(shape) <= 1:
        return flat
    step = len(flat) // shape[0] if shape[0] else 0
    return [_reshape(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


def read_example(doc: dict[str, Any]) -> Any:
    """Rebuild the stored example (DataFrame, Series, ndarray, sparse matrix, dict or JSON value).

    Raises :class:`~autolog.ModelError` for a document it does not understand.
    """
    kind = doc.get("type")
    if kind == "dataframe":
        import pandas as pd

        df = pd.DataFrame(doc["data"], columns=doc["columns"])
        for col, dtype in zip(df.columns, doc.get("dtypes", [])):
            try:
                df[col] = df[col].astype(dtype)
            except (TypeError, ValueError):
                pass  # keep the JSON type rather than fail on an exotic dtype
        return df
    if kind == "series":
        import pandas as pd

        s = pd.Series(doc["data"], name=doc.get("name"))
        try:
            return s.astype(doc["dtype"])
        except (TypeError, ValueError, KeyError):
            return s
    if kind == "ndarray":
        arr = _read_array(doc)
        if doc.get("sparse"):
            import scipy.sparse as sp

            return sp.csr_matrix(arr).asformat(doc["sparse"])
        return arr
    if kind == "dict":
        return {k: _read_array(v) for k, v in doc["data"].items()}
    if kind == "json":
        return doc["data"]
    raise ModelError(f"unknown input example type {kind!r}")


def _read_array(doc: dict[str, Any]) -> Any:
    import numpy as np

    dtype = np.dtype(doc["dtype"])
    data = doc["data"]
    if dtype.kind in "fc":
        data = _restore_floats(data)
    if dtype.kind == "c":
        data = _restore_complex(data, len(doc["shape"]))
    return np.asarray(data, dtype=dtype).reshape(doc["shape"])


def _restore_floats(values: Any) -> Any:
    if isinstance(values, list):
        return [_restore_floats(v) for v in values]
    if values is None:
        return math.nan
    if values == "inf":
        return math.inf
    if values == "-inf":
        return -math.inf
    return values


def _restore_complex(values: Any, depth: int) -> Any:
    if depth == 0:
        return complex(values[0], values[1])
    return [_restore_complex(v, depth - 1) for v in values]
