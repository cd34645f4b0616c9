"""Model signatures: what a model takes and returns, inferred from data and checked against it.

A :class:`Signature` holds an input schema and an optional output schema. A schema is one of

* :class:`ColumnSchema` — named, typed columns (a pandas DataFrame or Series, or a framework
  DataFrame described by a flavor's ``infer_schema`` hook);
* :class:`TensorSchema` — one array: dtype and shape, ``-1`` for the batch dimension (numpy
  arrays, Python lists through numpy, scipy sparse matrices);
* :class:`TensorDictSchema` — named arrays (a dict of arrays).

Types are *logical* names shared by columns and tensors: ``bool``, ``int8`` … ``int64``,
``uint8`` … ``uint64``, ``float16`` … ``float64``, ``complex64``/``complex128``, ``string``,
``bytes``, ``category``, ``datetime`` (naive, any unit), ``datetimetz``, ``timedelta`` and
``object`` (anything else; as an expected type it accepts anything). Pandas' nullable types map
to their numpy counterparts (``Int64`` -> ``int64``, ``boolean`` -> ``bool``, ``string``/``str``
-> ``string``).

Compatibility rules used when checking data (expected type <- given type):

* the same type always matches; an expected ``object`` accepts any type;
* numbers widen when numpy calls the cast "safe": ``int32`` -> ``int64``, ``uint8`` -> ``int16``,
  ``int16`` -> ``float32``, ``int64`` -> ``float64``, ``float32`` -> ``float64``. Narrowing
  (``float64`` -> ``float32``, ``float`` -> ``int``) is refused, and so is ``bool`` -> number:
  a boolean where a number was trained is far more often a bug than an intent;
* ``string`` and ``category`` accept each other (encoders take either);
* nothing else converts: ``datetime`` needs a datetime, ``bool`` needs a bool.

Nothing here imports numpy, pandas or scipy at module import time.
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from autolog._errors import ModelError, SchemaMismatchError

__all__ = [
    "ColSpec",
    "ColumnSchema",
    "Schema",
    "Signature",
    "TensorDictSchema",
    "TensorSchema",
    "infer_schema",
    "infer_signature",
    "is_compatible",
]

# How many values of an object column are looked at to tell strings from mixed objects.
_SAMPLE = 1000

_NUMERIC = frozenset(
    {
        "int8", "int16", "int32", "int64",
        "uint8", "uint16", "uint32", "uint64",
        "float16", "float32", "float64", "float128",
        "complex64", "complex128",
    }
)  # fmt: skip
_TEXTUAL = frozenset({"string", "category"})


def is_compatible(expected: str, given: str) -> bool:
    """Whether data of logical type ``given`` may be fed where ``expected`` was trained.

    Implements the rules in this module's docstring. Never raises.
    """
    if expected == given or expected == "object":
        return True
    if expected in _NUMERIC and given in _NUMERIC:
        import numpy as np

        try:
            return bool(np.can_cast(np.dtype(given), np.dtype(expected), casting="safe"))
        except TypeError:
            return False
    return expected in _TEXTUAL and given in _TEXTUAL


def _mismatch_hint(expected: str, given: str) -> str:
    if expected.startswith(("int", "uint")) and given.startswith("float"):
        return (
            " (integer data with missing values turns into floats: fill them, or log a "
            "signature with a float type)"
        )
    if expected in _NUMERIC and given in _NUMERIC:
        return " (only safe widening is accepted, e.g. int32 -> int64 or int -> float64)"
    return ""


# --------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class ColSpec:
    """One column: its name, logical type and (for information) the original dtype string."""

    name: str | int | None
    type: str
    raw_dtype: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.raw_dtype is not None and self.raw_dtype != self.type:
            out["raw_dtype"] = self.raw_dtype
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColSpec:
        return cls(name=d.get("name"), type=str(d["type"]), raw_dtype=d.get("raw_dtype"))


class Schema:
    """Base class of the three schema kinds. ``to_dict()`` carries a ``"type"`` discriminator."""

    kind: str = ""

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - overridden
        raise NotImplementedError

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Schema:
        """Rebuild a schema from :meth:`to_dict` output; raises :class:`ModelError` if malformed."""
        try:
            kind = d["type"]
            if kind == "columns":
                return ColumnSchema(tuple(ColSpec.from_dict(c) for c in d["columns"]))
            if kind == "tensor":
                return TensorSchema.from_dict(d)
            if kind == "tensors":
                return TensorDictSchema(
                    {str(k): TensorSchema.from_dict(v) for k, v in d["tensors"].items()}
                )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ModelError(f"malformed schema {d!r}: {exc!r}") from exc
        raise ModelError(f"malformed schema: unknown type {kind!r}")

    def check(self, given: Schema, role: str = "input") -> list[str]:  # pragma: no cover
        """Problems found when data described by ``given`` is fed where ``self`` is expected."""
        raise NotImplementedError


@dataclass(frozen=True)
class ColumnSchema(Schema):
    """Named, typed columns. Column order is recorded; a predictor reorders pandas input to it."""

    columns: tuple[ColSpec, ...]
    kind = "columns"

    @property
    def names(self) -> list[str | int | None]:
        return [c.name for c in self.columns]

    def to_dict(self) -> dict[str, Any]:
        return {"type": "columns", "columns": [c.to_dict() for c in self.columns]}

    def check(self, given: Schema, role: str = "input") -> list[str]:
        if not isinstance(given, ColumnSchema):
            names = ", ".join(repr(n) for n in self.names)
            return [f"{role} must be a DataFrame with columns [{names}]; got {_describe(given)}"]
        problems: list[str] = []
        # A single unnamed column (a Series without a name) matches by position.
        if len(self.columns) == 1 and len(given.columns) == 1 and None in (
            self.columns[0].name,
            given.columns[0].name,
        ):
            pairs = [(self.columns[0], given.columns[0])]
        else:
            by_name = {c.name: c for c in given.columns}
            missing = [c.name for c in self.columns if c.name not in by_name]
            if missing:
                problems.append(
                    f"{role} is missing column{'s' if len(missing) > 1 else ''} "
                    + ", ".join(repr(m) for m in missing)
                    + f" (given columns: {', '.join(repr(c.name) for c in given.columns)})"
                )
            pairs = [(c, by_name[c.name]) for c in self.columns if c.name in by_name]
        for exp, got in pairs:
            if not is_compatible(exp.type, got.type):
                problems.append(
                    f"{role} column {exp.name!r} has dtype {got.raw_dtype or got.type}, "
                    f"expected {exp.type}{_mismatch_hint(exp.type, got.type)}"
                )
        return problems

    def __str__(self) -> str:
        return "[" + ", ".join(f"{c.name!r}: {c.type}" for c in self.columns) + "]"


@dataclass(frozen=True)
class TensorSchema(Schema):
    """One array: logical dtype, shape (``-1`` = any size) and, for scipy input, sparse format."""

    dtype: str
    shape: tuple[int, ...]
    sparse: str | None = None
    kind = "tensor"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "tensor", "dtype": self.dtype, "shape": list(self.shape)}
        if self.sparse:
            out["sparse"] = self.sparse
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TensorSchema:
        return cls(str(d["dtype"]), tuple(int(n) for n in d["shape"]), d.get("sparse"))

    def check(self, given: Schema, role: str = "input") -> list[str]:
        if isinstance(given, ColumnSchema) and len(self.shape) == 2:
            # A DataFrame fed to a model trained on a 2-D array: frameworks accept that, so
            # check it column by column as the array it will become.
            problems = []
            if self.shape[1] != -1 and len(given.columns) != self.shape[1]:
                problems.append(
                    f"{role} has {len(given.columns)} columns, expected {self.shape[1]} features"
                )
            for c in given.columns:
                if not is_compatible(self.dtype, c.type):
                    problems.append(
                        f"{role} column {c.name!r} has dtype {c.raw_dtype or c.type}, "
                        f"expected {self.dtype}{_mismatch_hint(self.dtype, c.type)}"
                    )
            return problems
        if not isinstance(given, TensorSchema):
            expected = _shape(self.shape)
            return [f"{role} must be an array of shape {expected}; got {_describe(given)}"]
        problems = []
        if len(given.shape) != len(self.shape) or any(
            e != -1 and e != g for e, g in zip(self.shape, given.shape)
        ):
            what = "features" if len(self.shape) == 2 and len(given.shape) == 2 else "shape"
            if what == "features":
                problems.append(
                    f"{role} has {given.shape[1]} features, expected {self.shape[1]} "
                    f"(shape {_shape(given.shape)}, expected {_shape(self.shape)})"
                )
            else:
                problems.append(
                    f"{role} has shape {_shape(given.shape)}, expected {_shape(self.shape)}"
                )
        if not is_compatible(self.dtype, given.dtype):
            problems.append(
                f"{role} has dtype {given.dtype}, expected {self.dtype}"
                f"{_mismatch_hint(self.dtype, given.dtype)}"
            )
        return problems

    def __str__(self) -> str:
        sparse = f", sparse {self.sparse}" if self.sparse else ""
        return f"tensor({self.dtype}, {_shape(self.shape)}{sparse})"


@dataclass(frozen=True)
class TensorDictSchema(Schema):
    """Named arrays, as passed in a dict ``{name: array}``."""

    tensors: dict[str, TensorSchema] = field(default_factory=dict)
    kind = "tensors"

    def to_dict(self) -> dict[str, Any]:
        return {"type": "tensors", "tensors": {k: v.to_dict() for k, v in self.tensors.items()}}

    def check(self, given: Schema, role: str = "input") -> list[str]:
        if not isinstance(given, TensorDictSchema):
            keys = ", ".join(repr(k) for k in self.tensors)
            return [f"{role} must be a dict of arrays with keys [{keys}]; got {_describe(given)}"]
        missing = [k for k in self.tensors if k not in given.tensors]
        problems = [f"{role} is missing key {k!r}" for k in missing]
        for k, exp in self.tensors.items():
            if k in given.tensors:
                problems.extend(exp.check(given.tensors[k], role=f"{role}[{k!r}]"))
        return problems

    def __str__(self) -> str:
        return "{" + ", ".join(f"{k!r}: {v}" for k, v in self.tensors.items()) + "}"


def _shape(shape: tuple[int, ...]) -> str:
    dims = ", ".join("?" if n == -1 else str(n) for n in shape)
    return f"({dims},)" if len(shape) == 1 else f"({dims})"


def _describe(schema: Schema) -> str:
    if isinstance(schema, ColumnSchema):
        return f"columns [{', '.join(repr(n) for n in schema.names)}]"
    if isinstance(schema, TensorSchema):
        return f"an array of shape {_shape(schema.shape)}"
    return "a dict of arrays"


# --------------------------------------------------------------------------- signature


@dataclass(frozen=True)
class Signature:
    """What a model takes (``inputs``) and returns (``outputs``, optional).

    Build one with :func:`infer_signature`, or from :meth:`from_dict`. ``validate(data)`` raises
    :class:`~autolog.SchemaMismatchError` listing every problem found in ``data``.
    """

    inputs: Schema
    outputs: Schema | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``{"inputs": {...}, "outputs": {...} | None}``."""
        return {
            "inputs": self.inputs.to_dict(),
            "outputs": self.outputs.to_dict() if self.outputs is not None else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Signature:
        """Rebuild from :meth:`to_dict` output; raises :class:`~autolog.ModelError` if malformed."""
        if not isinstance(d, dict) or "inputs" not in d:
            raise ModelError(f"malformed signature {d!r}: expected a dict with 'inputs'")
        outputs = d.get("outputs")
        return cls(Schema.from_dict(d["inputs"]), Schema.from_dict(outputs) if outputs else None)

    def validate(self, data: Any) -> None:
        """Check ``data`` against the input schema.

        Raises :class:`~autolog.SchemaMismatchError` naming each missing column, wrong dtype or
        wrong shape/number of features (all problems in one message); returns None when ``data``
        fits. Extra DataFrame columns are allowed (a predictor drops them).
        """
        problems = self.inputs.check(infer_schema(data, error=SchemaMismatchError, exact=True))
        if problems:
            raise SchemaMismatchError(
                "input does not match the model signature: " + "; ".join(problems)
            )

    def validate_output(self, data: Any) -> None:
        """Like :meth:`validate` for model output; does nothing when there is no output schema."""
        if self.outputs is None:
            return
        given = infer_schema(data, error=SchemaMismatchError, exact=True)
        problems = self.outputs.check(given, "output")
        if problems:
            raise SchemaMismatchError(
                "output does not match the model signature: " + "; ".join(problems)
            )

    def __str__(self) -> str:
        outputs = self.outputs if self.outputs is not None else "-"
        return f"inputs: {self.inputs}\noutputs: {outputs}"


def infer_signature(model_input: Any, model_output: Any = None) -> Signature:
    """Infer a :class:`Signature` from example input (and, optionally, output) data.

    Accepts numpy arrays (dtype; shape with ``-1`` for the first, batch, dimension), pandas
    DataFrames (column names and logical types, including category, string, bool, datetime) and
    Series, Python lists and tuples (through ``numpy.asarray``), scipy sparse matrices (dtype,
    shape, format), dicts of arrays, and any type a registered flavor's ``infer_schema`` hook
    describes (a Spark DataFrame, for instance). Only dtypes and a sample of at most 1,000
    values of object columns are inspected, so it is cheap on large data.

    Raises :class:`~autolog.ModelError` for data of any other type.
    """
    inputs = infer_schema(model_input, error=ModelError)
    outputs = infer_schema(model_output, error=ModelError) if model_output is not None else None
    return Signature(inputs, outputs)


# --------------------------------------------------------------------------- inference


def infer_schema(data: Any, *, error: type[Exception] = ModelError, exact: bool = False) -> Schema:
    """The schema describing ``data``; raises ``error`` when its type is not understood.

    The first dimension of arrays is ``-1`` unless ``exact`` (used when checking data, so that
    messages show the real shape).
    """
    pd = sys.modules.get("pandas")
    if pd is not None:
        if isinstance(data, pd.DataFrame):
            return ColumnSchema(
                tuple(
                    _colspec(name, dtype, lambda i=i: data.iloc[:_SAMPLE, i])
                    for i, (name, dtype) in enumerate(zip(data.columns, data.dtypes))
                )
            )
        if isinstance(data, pd.Series):
            return ColumnSchema((_colspec(data.name, data.dtype, lambda: data.iloc[:_SAMPLE]),))
    np = sys.modules.get("numpy")
    if np is not None and isinstance(data, np.ndarray):
        return _tensor(data, exact)
    sparse = sys.modules.get("scipy.sparse")
    if sparse is not None and sparse.issparse(data):
        return _tensor_of(data, error, exact)
    if isinstance(data, dict):
        if not data:
            raise error("cannot describe an empty dict")
        return TensorDictSchema({str(k): _tensor_of(v, error, exact) for k, v in data.items()})
    if isinstance(data, (list, tuple)):
        return _tensor_of(data, error, exact)
    from autolog._models._flavors import flavors

    for flavor in flavors():
        schema = flavor.infer_schema(data)
        if schema is not None:
            return schema  # type: ignore[no-any-return]
    raise error(
        f"cannot describe data of type {type(data).__module__}.{type(data).__qualname__}: "
        "expected a numpy array, pandas DataFrame/Series, list, scipy sparse matrix or dict of "
        "arrays"
    )


def _tensor_of(value: Any, error: type[Exception], exact: bool = False) -> TensorSchema:
    import numpy as np

    if isinstance(value, np.ndarray):
        return _tensor(value, exact)
    sparse = sys.modules.get("scipy.sparse")
    if sparse is not None and sparse.issparse(value):
        shape = tuple(value.shape) if exact else (-1, *value.shape[1:])
        return TensorSchema(_numpy_type(value.dtype), shape, value.format)
    try:
        if isinstance(value, (list, tuple)) and len(value) > _SAMPLE:
            # Only the first rows are converted: the batch dimension is all that differs.
            schema = _tensor(np.asarray(value[:_SAMPLE]), exact)
            if exact:
                schema = TensorSchema(schema.dtype, (len(value), *schema.shape[1:]))
            return schema
        return _tensor(np.asarray(value), exact)
    except (ValueError, TypeError) as exc:
        raise error(f"cannot describe {type(value).__name__} data as an array: {exc}") from exc


def _tensor(arr: Any, exact: bool = False) -> TensorSchema:
    shape = tuple(arr.shape) if exact or not arr.ndim else (-1, *arr.shape[1:])
    if arr.dtype.kind == "O":
        return TensorSchema(_object_type(arr.ravel()[:_SAMPLE]), shape)
    return TensorSchema(_numpy_type(arr.dtype), shape)


def _numpy_type(dtype: Any) -> str:
    kind = dtype.kind
    if kind == "b":
        return "bool"
    if kind in "iufc":
        return dtype.name
    if kind == "U":
        return "string"
    if kind == "S":
        return "bytes"
    if kind == "M":
        return "datetime"
    if kind == "m":
        return "timedelta"
    if kind == "T":  # numpy 2 StringDType
        return "string"
    return "object"


def _object_type(values: Any) -> str:
    seen_str = seen_bytes = False
    for v in values:
        if v is None:
            continue
        if isinstance(v, str):
            seen_str = True
        elif isinstance(v, bytes):
            seen_bytes = True
        else:
            return "object"
        if seen_str and seen_bytes:
            return "object"
    if seen_str:
        return "string"
    return "bytes" if seen_bytes else "object"


# numpy dtype -> (logical type, raw dtype string or None); str(dtype) is slow in numpy
_dtype_cache: dict[Any, tuple[str, str | None]] = {}


def _colspec(name: Any, dtype: Any, values: Callable[[], Any]) -> ColSpec:
    """``values()`` gives the first values of the column; called only for object columns."""
    # Names must survive JSON: str and int stay (numpy ints become int), anything else is str.
    if not (name is None or type(name) is str or type(name) is int):
        if isinstance(name, bool) or not isinstance(name, numbers.Integral):
            name = str(name)
        else:
            name = int(name)
    cacheable = isinstance(dtype, sys.modules["numpy"].dtype) and dtype.kind != "O"
    if cacheable:
        cached = _dtype_cache.get(dtype)
        if cached is not None:
            return ColSpec(name, *cached)
    logical = _pandas_type(dtype, values)
    raw = str(dtype)
    entry = (logical, raw if raw != logical else None)
    if cacheable and len(_dtype_cache) < 256:
        _dtype_cache[dtype] = entry
    return ColSpec(name, *entry)


def _pandas_type(dtype: Any, values: Callable[[], Any]) -> str:
    np = sys.modules["numpy"]
    if isinstance(dtype, np.dtype):  # the common case first: plain numpy columns
        return _object_type(values()) if dtype.kind == "O" else _numpy_type(dtype)
    import pandas as pd

    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "datetimetz"
    if isinstance(dtype, pd.StringDtype):
        return "string"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    numpy_dtype = getattr(dtype, "numpy_dtype", None)  # Int64, Float64, some Arrow types
    if numpy_dtype is not None:
        try:
            return _numpy_type(np.dtype(numpy_dtype))
        except TypeError:
            pass
    return str(dtype)
