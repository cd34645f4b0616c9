"""Models with a schema: flavors, signatures, logging models into runs and loading them back.

Public names (``autolog.log_model``, ``load_model``, ``load_predictor``, ``infer_signature``,
``Signature``) are re-exported by :mod:`autolog`. Integrations add support for their framework
by subclassing :class:`Flavor` and calling :func:`register_flavor` (see
:mod:`autolog._models._flavors` for a worked example).

Importing this package imports neither numpy, pandas nor any framework.
"""

from __future__ import annotations

from autolog._models._api import (
    METADATA_FILE,
    Predictor,
    load_input_example,
    load_model,
    load_predictor,
    log_model,
    read_metadata,
    resolve_model_uri,
    save_model,
)
from autolog._models._flavors import (
    Flavor,
    SklearnFlavor,
    flavor_by_name,
    flavor_for,
    flavors,
    register_flavor,
    unregister_flavor,
)
from autolog._models._schema import (
    ColSpec,
    ColumnSchema,
    Schema,
    Signature,
    TensorDictSchema,
    TensorSchema,
    infer_schema,
    infer_signature,
    is_compatible,
)

__all__ = [
    "METADATA_FILE",
    "ColSpec",
    "ColumnSchema",
    "Flavor",
    "Predictor",
    "Schema",
    "Signature",
    "SklearnFlavor",
    "TensorDictSchema",
    "TensorSchema",
    "flavor_by_name",
    "flavor_for",
    "flavors",
    "infer_schema",
    "infer_signature",
    "is_compatible",
    "load_input_example",
    "load_model",
    "load_predictor",
    "log_model",
    "read_metadata",
    "register_flavor",
    "resolve_model_uri",
    "save_model",
    "unregister_flavor",
]
