"""Dataset records: a content digest, the shape, the schema and a small per-column profile.

A record is a JSON-ready dict, enough to tell later that a training set's schema or
distribution changed, without storing the data. Supported inputs: numpy arrays, pandas
DataFrames and Series, scipy sparse matrices and Python lists (anything ``numpy.asarray``
accepts). Other objects get a minimal record (type and length when known).

The work is split in two so that integrations keep the training thread cheap:
:func:`snapshot` takes a bounded copy of the data (fast, on the caller's thread; the user may
mutate the data afterwards) and :meth:`DatasetSnapshot.record` computes digest and profile
(on a background thread). :func:`make_record` and :func:`schema_field` build the same schema
from parts, for integrations whose data is not in memory (a Spark DataFrame's schema).

Digests are sha256 over a canonical byte form of the rows (dtype and shape included). Above
``max_cells`` cells the digest and profile use evenly spaced rows (first and last included, so
the sample is deterministic and spans the whole data); the record states the sample size and
the bound, and ``digest_scope`` says whether the digest covers all rows or the sample.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any, Iterable

__all__ = [
    "DEFAULT_MAX_CELLS",
    "DEFAULT_MAX_PROFILE_COLUMNS",
    "RECORD_VERSION",
    "DatasetSnapshot",
    "dataset_record",
    "make_record",
    "schema_field",
    "snapshot",
]

RECORD_VERSION = 1
# ~16 MB of float64: hashing and profiling a sample this size stays in the tens of milliseconds
DEFAULT_MAX_CELLS = 2_000_000
# wide data (text features, one-hot) would make the record larger than the data's summary is worth
DEFAULT_MAX_PROFILE_COLUMNS = 100


def schema_field(name: Any, dtype: Any) -> dict[str, str]:
    """One schema entry ``{"name": str(name), "dtype": str(dtype)}``. Never raises."""
    return {"name": str(name), "dtype": str(dtype)}


def make_record(
    *,
    source_type: str,
    shape: Iterable[int] | None,
    schema: list[dict[str, str]] | None,
    digest: str | None,
    digest_scope: str | None = None,
    sample_rows: int | None = None,
    max_cells: int | None = None,
    profile: dict[str, dict[str, Any]] | None = None,
    name: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble a dataset record from parts (the common shape of every record).

    ``digest`` is ``"sha256:<hex>"`` or None when the content could not be read;
    ``digest_scope`` is ``"all"`` or ``"sample"``. Keys with None values are kept so the
    record's shape is stable. Never raises.
    """
    record: dict[str, Any] = {
        "record_version": RECORD_VERSION,
        "name": name,
        "source_type": source_type,
        "shape": list(shape) if shape is not None else None,
        "digest": digest,
        "digest_scope": digest_scope,
        "sample_rows": sample_rows,
        "max_cells": max_cells,
        "schema": schema,
        "profile": profile,
    }
    if extra:
        record.update(extra)
    return record


@dataclass
class DatasetSnapshot:
    """A bounded, private copy of a dataset plus what is known about the whole of it.

    Built by :func:`snapshot`; ``record()`` may run on any thread.
    """

    kind: str  # "pandas", "series", "numpy", "sparse", "list", "other"
    source_type: str
    shape: tuple[int, ...] | None
    data: Any  # the sampled copy (DataFrame, ndarray, csr matrix) or None
    sampled: bool
    max_cells: int
    extra: dict[str, Any]

    def record(self, name: str | None = None, *, max_profile_columns: int | None = None) -> dict[str, Any]:
        """Digest, schema and profile of the snapshot as a JSON-ready dict.

        ``name`` is stored as the record's name (e.g. "X", "y"). Errors while profiling a
        single column leave that column's profile out; the record itself is always returned.
        """
        limit = DEFAULT_MAX_PROFILE_COLUMNS if max_profile_columns is None else max_profile_columns
        digest = schema = profile = None
        if self.kind in ("pandas", "series"):
            digest, schema, profile = _pandas_parts(self.data, self.shape, limit)
        elif self.kind in ("numpy", "list"):
            digest, schema, profile = _numpy_parts(self.data, self.shape, limit)
        elif self.kind == "sparse":
            digest, schema, profile = _sparse_parts(self.data, self.shape, limit)
        sample_rows = None
        if self.data is not None and getattr(self.data, "shape", None):
            sample_rows = int(self.data.shape[0])
        extra = dict(self.extra)
        if profile is not None and self.shape and len(self.shape) > 1 and self.shape[1] > limit:
            extra["profile_columns_truncated_to"] = limit
        return make_record(
            source_type=self.source_type,
            shape=self.shape,
            schema=schema,
            digest=digest,
            digest_scope=None if digest is None else ("sample" if self.sampled else "all"),
            sample_rows=sample_rows,
            max_cells=self.max_cells,
            profile=profile,
            name=name,
            extra=extra,
        )


def snapshot(data: Any, *, max_cells: int = DEFAULT_MAX_CELLS) -> DatasetSnapshot:
    """Take a bounded copy of ``data`` for a later :meth:`DatasetSnapshot.record`.

    Cost is O(min(size, max_cells)). Unsupported inputs (or inputs that cannot be converted)
    give a snapshot whose record has no digest. Never raises for bad input; only for
    ``max_cells < 1`` (ValueError).
    """
    if max_cells < 1:
        raise ValueError("max_cells must be >= 1")
    source_type = f"{type(data).__module__}.{type(data).__qualname__}"
    try:
        return _snapshot(data, source_type, max_cells)
    except Exception as exc:  # a dataset we cannot read must never break a fit
        return DatasetSnapshot("other", source_type, _safe_shape(data), None, False, max_cells,
                               {"error": f"{type(exc).__name__}: {exc}"[:300]})


def dataset_record(data: Any, name: str | None = None, *, max_cells: int = DEFAULT_MAX_CELLS) -> dict[str, Any]:
    """``snapshot(data, max_cells=max_cells).record(name)`` in one call. Never raises for bad input."""
    return snapshot(data, max_cells=max_cells).record(name)


# ---------------------------------------------------------------------------------------------
# snapshotting


def _safe_shape(data: Any) -> tuple[int, ...] | None:
    try:
        shape = getattr(data, "shape", None)
        if shape is not None:
            return tuple(int(s) for s in shape)
        return (len(data),)
    except Exception:
        return None


def _sample_index(n_rows: int, n_cols: int, max_cells: int):
    """Evenly spaced row positions (deterministic; first and last row included) or None."""
    import numpy as np

    if n_rows * max(n_cols, 1) <= max_cells:
        return None
    keep = max(1, max_cells // max(n_cols, 1))
    if keep >= n_rows:
        return None
    return np.unique(np.linspace(0, n_rows - 1, keep).round().astype(np.int64))


def _snapshot(data: Any, source_type: str, max_cells: int) -> DatasetSnapshot:
    module = type(data).__module__.split(".", 1)[0]
    if module == "pandas":
        import pandas as pd

        if isinstance(data, pd.Series):
            frame = data.to_frame(name=data.name if data.name is not None else 0)
            idx = _sample_index(len(frame), 1, max_cells)
            part = frame.iloc[idx] if idx is not None else frame.copy()
            return DatasetSnapshot("series", source_type, (len(data),), part, idx is not None, max_cells, {})
        if isinstance(data, pd.DataFrame):
            idx = _sample_index(data.shape[0], data.shape[1], max_cells)
            part = data.iloc[idx] if idx is not None else data.copy()
            return DatasetSnapshot("pandas", source_type, tuple(data.shape), part, idx is not None, max_cells, {})
    if module == "scipy":
        import scipy.sparse as sp

        if sp.issparse(data):
            csr = data.tocsr()
            n_rows, n_cols = csr.shape
            # bound by stored values, not dense cells: that is what hashing costs
            nnz_per_row = max(1, csr.nnz // max(n_rows, 1))
            idx = _sample_index(n_rows, nnz_per_row, max_cells)
            part = csr[idx] if idx is not None else csr.copy()
            return DatasetSnapshot("sparse", source_type, (n_rows, n_cols), part, idx is not None, max_cells,
                                   {"format": data.format, "nnz": int(data.nnz)})
    import numpy as np

    if isinstance(data, np.ndarray):
        arr = data
        kind = "numpy"
    elif isinstance(data, (list, tuple)):
        arr = np.asarray(data) if data else np.empty((0,))
        kind = "list"
    elif hasattr(data, "__array__"):
        arr = np.asarray(data)
        kind = "numpy"
    else:
        return DatasetSnapshot("other", source_type, _safe_shape(data), None, False, max_cells, {})
    if arr.ndim == 0:
        arr = arr.reshape(1)
    n_rows = arr.shape[0]
    n_cols = int(np.prod(arr.shape[1:])) if arr.ndim > 1 else 1
    idx = _sample_index(n_rows, n_cols, max_cells)
    part = arr[idx] if idx is not None else (arr.copy() if arr is data else arr)
    return DatasetSnapshot(kind, source_type, tuple(int(s) for s in arr.shape), part, idx is not None, max_cells, {})


# ---------------------------------------------------------------------------------------------
# digests and profiles


def _json_number(value: Any) -> Any:
    """A float JSON can hold: finite numbers as float, nan/inf as strings, None for missing."""
    if isinstance(value, int) or type(value).__name__.startswith(("int", "uint")):
        try:
            return int(value)  # keep integers exact (ids, counts, label codes)
        except (TypeError, ValueError):
            pass
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isfinite(f):
        return f
    return str(f)


def _numeric_profile(values) -> dict[str, Any]:
    """nulls/min/max/mean of a 1-d numeric (or bool) ndarray."""
    import numpy as np

    if values.dtype.kind == "b":
        values = values.astype(np.int8)
    if values.dtype.kind == "f":
        nulls = int(np.isnan(values).sum())
        valid = values[~np.isnan(values)] if nulls else values
    else:
        nulls, valid = 0, values
    if valid.size == 0:
        return {"nulls": nulls, "min": None, "max": None, "mean": None}
    return {
        "nulls": nulls,
        "min": _json_number(valid.min()),
        "max": _json_number(valid.max()),
        "mean": _json_number(valid.astype(np.float64).mean()),
    }


def _object_profile(values) -> dict[str, Any]:
    """nulls/distinct of a 1-d object ndarray (categoricals, strings, mixed)."""
    nulls = 0
    seen: set = set()
    for v in values.tolist():
        if v is None or (isinstance(v, float) and v != v):
            nulls += 1
            continue
        try:
            seen.add(v)
        except TypeError:  # unhashable cells (lists, dicts) are counted by repr
            seen.add(repr(v))
    return {"nulls": nulls, "distinct": len(seen)}


def _column_profile(values) -> dict[str, Any]:
    if values.dtype.kind in "biuf":
        return _numeric_profile(values)
    if values.dtype.kind in "mM":
        import numpy as np

        nat = np.isnat(values)
        valid = values[~nat]
        return {
            "nulls": int(nat.sum()),
            "min": str(valid.min()) if valid.size else None,
            "max": str(valid.max()) if valid.size else None,
        }
    if values.dtype.kind == "c":
        return {"nulls": 0}
    return _object_profile(values.astype(object))


def _hash_object_array(h, arr) -> None:
    # repr is deterministic for the builtin scalar types that end up in object arrays
    for v in arr.ravel().tolist():
        h.update(repr(v).encode("utf-8", "backslashreplace"))
        h.update(b"\x1f")


def _numpy_parts(arr, shape, limit):
    import numpy as np

    h = hashlib.sha256()
    h.update(f"ndarray|{arr.dtype.str}|{shape}|".encode())
    if arr.dtype.kind == "O":
        _hash_object_array(h, arr)
    else:
        h.update(np.ascontiguousarray(arr).tobytes())
    flat = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(-1, 1)
    n_cols = flat.shape[1]
    schema = [schema_field(i, arr.dtype) for i in range(min(n_cols, limit))] if arr.ndim > 1 else [
        schema_field(0, arr.dtype)]
    profile: dict[str, dict[str, Any]] = {}
    for i in range(min(n_cols, limit)):
        try:
            profile[str(i)] = _column_profile(flat[:, i])
        except Exception:
            continue
    return "sha256:" + h.hexdigest(), schema, profile


def _pandas_parts(frame, shape, limit):
    import numpy as np
    import pandas as pd

    h = hashlib.sha256()
    h.update(f"dataframe|{shape}|".encode())
    for col, dtype in frame.dtypes.items():
        h.update(f"{col!r}:{dtype}|".encode())
    if frame.shape[1]:
        # per-row 64-bit hashes over all columns, then sha256 over those: vectorised and stable
        row_hashes = pd.util.hash_pandas_object(frame, index=False, categorize=True)
        h.update(np.ascontiguousarray(row_hashes.to_numpy(dtype=np.uint64)).tobytes())
    schema = [schema_field(col, dtype) for col, dtype in frame.dtypes.items()]
    profile: dict[str, dict[str, Any]] = {}
    for col in list(frame.columns)[:limit]:
        try:
            series = frame[col]
            if isinstance(series, pd.DataFrame):  # duplicated column names
                series = series.iloc[:, 0]
            profile[str(col)] = _series_profile(series)
        except Exception:
            continue
    return "sha256:" + h.hexdigest(), schema, profile


def _series_profile(series) -> dict[str, Any]:
    import pandas as pd
    from pandas.api import types as pdt

    nulls = int(series.isna().sum())
    if pdt.is_bool_dtype(series.dtype) or (
        pdt.is_numeric_dtype(series.dtype) and not isinstance(series.dtype, pd.CategoricalDtype)
    ):
        valid = series.dropna()
        if pdt.is_bool_dtype(series.dtype):
            valid = valid.astype("int8")
        if valid.empty:
            return {"nulls": nulls, "min": None, "max": None, "mean": None}
        return {
            "nulls": nulls,
            "min": _json_number(valid.min()),
            "max": _json_number(valid.max()),
            "mean": _json_number(valid.astype("float64").mean()),
        }
    if pdt.is_datetime64_any_dtype(series.dtype):
        valid = series.dropna()
        return {
            "nulls": nulls,
            "min": str(valid.min()) if not valid.empty else None,
            "max": str(valid.max()) if not valid.empty else None,
        }
    try:
        distinct = int(series.nunique(dropna=True))
    except TypeError:  # unhashable cells
        distinct = int(series.dropna().map(repr).nunique())
    return {"nulls": nulls, "distinct": distinct}


def _sparse_parts(csr, shape, limit):
    import numpy as np

    csr = csr.copy()
    csr.sort_indices()  # equal matrices stored in different index orders hash the same
    h = hashlib.sha256()
    h.update(f"csr|{csr.dtype.str}|{shape}|".encode())
    for part in (csr.indptr, csr.indices, csr.data):
        h.update(np.ascontiguousarray(part).tobytes())
    n_cols = csr.shape[1]
    schema = [schema_field(i, csr.dtype) for i in range(min(n_cols, limit))]
    profile: dict[str, dict[str, Any]] = {}
    if csr.shape[0] and n_cols:
        sub = csr[:, : min(n_cols, limit)].tocsc()
        for i in range(sub.shape[1]):
            try:
                col = sub.getcol(i)
                stored = col.data
                nulls = int(np.isnan(stored).sum()) if stored.dtype.kind == "f" else 0
                dense_min = sub[:, i].min() if col.nnz else 0
                dense_max = sub[:, i].max() if col.nnz else 0
                profile[str(i)] = {
                    "nulls": nulls,
                    "min": _json_number(dense_min),
                    "max": _json_number(dense_max),
                    "mean": _json_number(float(np.nansum(stored)) / csr.shape[0]),
                    "nonzero": int(col.nnz),
                }
            except Exception:
                continue
    return "sha256:" + h.hexdigest(), schema, profile
