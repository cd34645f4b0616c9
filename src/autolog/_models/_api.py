"""Saving models into runs and loading them back.

A model directory holds the flavor's files, an optional ``input_example.json`` and
``autolog-model.json``::

    {
      "format_version": 1,
      "flavor": "sklearn", "flavor_module": "autolog._models._flavors",
      "framework": "scikit-learn", "framework_version": "1.9.1",
      "model_class": "sklearn.linear_model._logistic.LogisticRegression",
      "python_version": "3.11.7", "autolog_version": "0.1.0",
      "created_time": "2026-11-22T06:40:00.123456+00:00", "created_time_ms": 1795...,
      "run_id": "<id or null>", "artifact_path": "model",
      "signature": {"inputs": {...}, "outputs": {...}} | null,
      "input_example": "input_example.json" | null,
      "flavor_metadata": {...whatever Flavor.save returned...}
    }

Directories are written under a temporary name and renamed into place, so a reader never sees a
half-written model.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from autolog._errors import AutologError, ModelError, RunStateError
from autolog._models._examples import EXAMPLE_FILE, example_to_json, head, read_example
from autolog._models._flavors import Flavor, flavor_by_name, flavor_for
from autolog._models._schema import ColumnSchema, Signature, infer_signature

__all__ = [
    "METADATA_FILE",
    "Predictor",
    "load_input_example",
    "load_model",
    "load_predictor",
    "log_model",
    "read_metadata",
    "resolve_model_uri",
    "save_model",
]

METADATA_FILE = "autolog-model.json"
FORMAT_VERSION = 1


# --------------------------------------------------------------------------- writing


def _resolve_signature(
    signature: Any, input_example: Any, flavor: Flavor, model: Any
) -> Signature | None:
    if signature is False:
        return None
    if isinstance(signature, Signature):
        return signature
    if isinstance(signature, dict):
        return Signature.from_dict(signature)
    if signature is not None:
        raise TypeError(
            "signature must be a Signature, a dict from Signature.to_dict(), None (infer from "
            f"input_example) or False (none); got {type(signature).__name__}"
        )
    if input_example is None:
        return None
    sig = infer_signature(input_example)
    try:
        output = flavor.predict(model, head(input_example))
        return Signature(sig.inputs, infer_signature(output).inputs)
    except Exception:  # the output schema is a bonus: a model that cannot predict here still logs
        return sig


def _prepare(
    model: Any, signature: Any, input_example: Any, extra: dict[str, Any]
) -> Callable[[Path], Path]:
    """Do in the caller's thread everything that reads ``model``; return the deferred writer."""
    flavor = flavor_for(model)
    sig = _resolve_signature(signature, input_example, flavor, model)
    example = example_to_json(input_example) if input_example is not None else None
    try:
        write_files = flavor.snapshot(model)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(
            f"flavor {flavor.name!r} cannot snapshot {type(model).__name__}: {exc!r}"
        ) from exc
    cls = type(model)
    created = time.time()
    meta: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "flavor": flavor.name,
        "flavor_module": type(flavor).__module__,
        "framework": flavor.framework,
        "framework_version": flavor.framework_version(),
        "model_class": f"{cls.__module__}.{cls.__qualname__}",
        "python_version": "{}.{}.{}".format(*sys.version_info[:3]),
        "autolog_version": _autolog_version(),
        "created_time": datetime.fromtimestamp(created, timezone.utc).isoformat(),
        "created_time_ms": int(created * 1000),
        **extra,
        "signature": sig.to_dict() if sig is not None else None,
        "input_example": EXAMPLE_FILE if example is not None else None,
    }

    def write(target: Path) -> Path:
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            try:
                flavor_meta = write_files(tmp)
            except ModelError:
                raise
            except Exception as exc:
                raise ModelError(
                    f"flavor {flavor.name!r} failed to save {cls.__name__}: {exc!r}"
                ) from exc
            if example is not None:
                (tmp / EXAMPLE_FILE).write_text(json.dumps(example, allow_nan=False))
            meta["flavor_metadata"] = flavor_meta or {}
            (tmp / METADATA_FILE).write_text(json.dumps(meta, indent=2, default=str))
            try:
                os.rename(tmp, target)  # atomic; also fails if target exists and is not empty
            except OSError as exc:
                raise ModelError(f"cannot create model directory {target}: {exc}") from exc
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target

    return write


def _autolog_version() -> str:
    import autolog

    return autolog.__version__


def _check_free(target: Path, where: str) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ModelError(f"{where} already exists; choose another artifact_path")


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    signature: Any = None,
    input_example: Any = None,
) -> Path:
    """Save ``model`` into the new directory ``path`` (no run involved); return the path.

    ``signature`` and ``input_example`` as for :func:`log_model`. Raises
    :class:`~autolog.ModelError` when no flavor handles the model, it cannot be serialised
    (e.g. it holds a lock or a lambda), or ``path`` exists and is not an empty directory.
    """
    target = Path(path)
    _check_free(target, f"model directory {target}")
    return _prepare(model, signature, input_example, {"run_id": None, "artifact_path": None})(
        target
    )


# URIs of models logged by this process: a second log to the same place fails at once, even
# while the first is still being written in the background.
_claims_lock = threading.Lock()
_claimed: set[str] = set()


def _release(uri: str) -> None:
    with _claims_lock:
        _claimed.discard(uri)


def _write_into_run(write: Callable[[Path], Path], run: Any, artifact_path: str, uri: str) -> None:
    try:
        target = Path(run.artifact_dir) / artifact_path
        _check_free(target, f"model {uri}")
        write(target)
    except BaseException:
        _release(uri)
        raise


def log_model(
    model: Any,
    artifact_path: str = "model",
    *,
    signature: Any = None,
    input_example: Any = None,
    run: Any = None,
    background: bool = False,
) -> str:
    """Log ``model`` as an artifact directory of ``run`` (default: the active run).

    Returns the URI ``"runs:/<run_id>/<artifact_path>"`` for :func:`load_model` and
    :func:`load_predictor`.

    ``signature``: a :class:`Signature` (or its ``to_dict()``); None infers one from
    ``input_example`` when given (inputs from the whole example; outputs from the model's
    predictions on its first rows, left out if the model cannot predict them); False logs none.
    ``input_example``: data whose first 5 rows are stored as ``input_example.json``.
    ``background``: the model is captured now, in the caller's thread (the sklearn flavor pickles
    it to bytes), and the files are written by the background worker; :func:`autolog.flush`
    waits for them. Failures in the background become an ``AutologWarning`` (raised by
    ``flush()`` in strict mode).

    Raises :class:`~autolog.RunStateError` when there is no run, :class:`~autolog.InvalidKeyError`
    for a bad ``artifact_path``, :class:`~autolog.ModelError` when no flavor handles the model,
    it cannot be serialised, or the run already has an artifact at ``artifact_path``.
    """
    from autolog._tracking._keys import validate_artifact_path

    artifact_path = validate_artifact_path(artifact_path)
    if run is None:
        import autolog

        run = autolog.active_run()
        if run is None:
            raise RunStateError(
                "log_model needs a run: call it inside `with autolog.start_run():` or pass run="
            )
    uri = f"runs:/{run.id}/{artifact_path}"
    with _claims_lock:
        if uri in _claimed:
            raise ModelError(f"model {uri} already exists; choose another artifact_path")
        _claimed.add(uri)
    try:
        write = _prepare(
            model, signature, input_example, {"run_id": run.id, "artifact_path": artifact_path}
        )
        if background:
            from autolog._tracking import submit_background

            # Even the artifact directory lookup (a mkdir) is left to the worker: the caller
            # pays only for the snapshot.
            submit_background(_write_into_run, write, run, artifact_path, uri)
        else:
            _write_into_run(write, run, artifact_path, uri)
    except BaseException:
        _release(uri)
        raise
    return uri


# --------------------------------------------------------------------------- reading


def resolve_model_uri(uri: str | os.PathLike[str]) -> Path:
    """The local model directory named by ``uri``.

    Accepts ``"runs:/<run_id>/<artifact_path>"`` (resolved through the run's artifact directory
    in the current tracking store), a ``file://`` URL or a directory path. Pending background
    writes are flushed when the directory is not there yet. Raises :class:`~autolog.ModelError`
    when the run or the model directory does not exist.
    """
    text = os.fspath(uri)
    if text.startswith("runs:/"):
        rest = text[len("runs:/") :].strip("/")
        run_id, _, artifact_path = rest.partition("/")
        if not run_id or not artifact_path:
            raise ModelError(f"malformed model URI {text!r}: expected 'runs:/<run_id>/<path>'")
        import autolog

        try:
            run = autolog.get_run(run_id)
        except (AutologError, LookupError) as exc:
            raise ModelError(f"cannot resolve {text!r}: no run {run_id!r} ({exc})") from exc
        path = Path(run.artifact_dir) / artifact_path
        if not (path / METADATA_FILE).is_file():
            autolog.flush()  # a model logged with background=True may still be on its way
    elif text.startswith("file://"):
        from urllib.parse import unquote, urlparse

        path = Path(unquote(urlparse(text).path))
    else:
        path = Path(text)
    if not path.is_dir():
        raise ModelError(f"no model at {text!r} ({path} does not exist)")
    if not (path / METADATA_FILE).is_file():
        raise ModelError(
            f"{text!r} is not an autolog model directory (no {METADATA_FILE} in {path})"
        )
    return path


def read_metadata(uri: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed ``autolog-model.json`` of the model at ``uri``; ModelError if unreadable."""
    return _read_meta(resolve_model_uri(uri))


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads((path / METADATA_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"unreadable model metadata {path / METADATA_FILE}: {exc}") from exc
    if not isinstance(meta, dict) or "flavor" not in meta:
        raise ModelError(f"model metadata {path / METADATA_FILE} has no 'flavor'")
    version = meta.get("format_version", 1)
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise ModelError(
            f"model at {path} uses metadata format {version}; this autolog reads up to "
            f"{FORMAT_VERSION}: upgrade autolog"
        )
    return meta


def _load(path: Path, meta: dict[str, Any]) -> tuple[Flavor, Any]:
    flavor = flavor_by_name(str(meta["flavor"]), meta.get("flavor_module"))
    try:
        return flavor, flavor.load(path)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(
            f"cannot load the {flavor.name} model at {path}: {type(exc).__name__}: {exc}"
        ) from exc


def load_model(uri: str | os.PathLike[str]) -> Any:
    """Load the native model object (e.g. the sklearn estimator) logged at ``uri``.

    ``uri``: ``"runs:/<run_id>/<artifact_path>"`` or a model directory path. Raises
    :class:`~autolog.ModelError` when nothing is there, the metadata is unreadable, the flavor
    is unknown, or the flavor fails to load the files. Pickle-based flavors execute code while
    loading: only load models you trust.
    """
    path = resolve_model_uri(uri)
    return _load(path, _read_meta(path))[1]


def load_input_example(uri: str | os.PathLike[str]) -> Any:
    """The input example stored with the model at ``uri``, or None if it has none."""
    path = resolve_model_uri(uri)
    name = _read_meta(path).get("input_example")
    if not name:
        return None
    try:
        doc = json.loads((path / name).read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"unreadable input example {path / name}: {exc}") from exc
    return read_example(doc)


class Predictor:
    """A loaded model that checks its input against the logged signature before predicting.

    Attributes: ``model`` (native object), ``flavor``, ``signature`` (None when the model was
    logged without one: then nothing is checked), ``metadata`` (``autolog-model.json``),
    ``path`` (model directory).
    """

    def __init__(self, model: Any, flavor: Flavor, metadata: dict[str, Any], path: Path) -> None:
        self.model = model
        self.flavor = flavor
        self.metadata = metadata
        self.path = path
        sig = metadata.get("signature")
        self.signature: Signature | None = Signature.from_dict(sig) if sig else None

    def predict(self, data: Any) -> Any:
        """Validate ``data`` against the signature, then return the model's predictions.

        Raises :class:`~autolog.SchemaMismatchError` (nothing reaches the model) for a missing
        column, an incompatible dtype (see :mod:`autolog._models._schema` for the widening
        rules: int32 -> int64 and int -> float64 pass, narrowing and bool -> number do not) or a
        wrong shape / number of features. A pandas DataFrame is passed on with its columns in
        the signature's order and extra columns dropped; any other input is passed unchanged.
        """
        sig = self.signature
        if sig is not None:
            sig.validate(data)
            data = _align(sig.inputs, data)
        return self.flavor.predict(self.model, data)

    def __repr__(self) -> str:
        return f"<Predictor {self.metadata.get('model_class')} ({self.flavor.name}) at {self.path}>"


def _align(schema: Any, data: Any) -> Any:
    if not isinstance(schema, ColumnSchema):
        return data
    pd = sys.modules.get("pandas")
    if pd is None or not isinstance(data, pd.DataFrame):
        return data
    names = schema.names
    if None in names or list(data.columns) == names:
        return data
    try:
        return data[names]
    except (KeyError, ValueError):  # names that JSON could not keep exactly (tuples...)
        return data


def load_predictor(uri: str | os.PathLike[str]) -> Predictor:
    """Load the model at ``uri`` wrapped in a :class:`Predictor` that validates its input.

    Raises :class:`~autolog.ModelError` like :func:`load_model`.
    """
    path = resolve_model_uri(uri)
    meta = _read_meta(path)
    flavor, model = _load(path, meta)
    return Predictor(model, flavor, meta, path)
