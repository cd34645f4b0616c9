"""autolog: one line to record machine-learning training.

``autolog.autolog()`` turns on recording for every supported framework that is installed;
the manual API (``start_run``, ``log_metric``...) mixes freely with it. Names are resolved
lazily so that ``import autolog`` stays cheap and imports no framework.
"""

from __future__ import annotations

from importlib import import_module

from autolog._errors import (
    AutologError,
    AutologWarning,
    ConfigError,
    InvalidKeyError,
    MalformedFilterError,
    ModelError,
    ParamConflictError,
    RunNotFoundError,
    RunStateError,
    SchemaMismatchError,
)

__version__ = "0.1.0"

# typing costs milliseconds to import; static analysers treat this name as True anyway
TYPE_CHECKING = False

# public name -> module that defines it
_LAZY: dict[str, str] = {
    # engine
    "autolog": "autolog._registry",
    "disable": "autolog._registry",
    "status": "autolog._registry",
    # runs and logging
    "Run": "autolog._tracking._run",
    "RunStatus": "autolog._tracking._run",
    "start_run": "autolog._tracking._fluent",
    "end_run": "autolog._tracking._fluent",
    "active_run": "autolog._tracking._fluent",
    "last_run": "autolog._tracking._fluent",
    "set_experiment": "autolog._tracking._fluent",
    "list_experiments": "autolog._tracking._fluent",
    "set_tracking_uri": "autolog._tracking._fluent",
    "get_tracking_uri": "autolog._tracking._fluent",
    "flush": "autolog._tracking._fluent",
    "log_param": "autolog._tracking._fluent",
    "log_params": "autolog._tracking._fluent",
    "log_metric": "autolog._tracking._fluent",
    "log_metrics": "autolog._tracking._fluent",
    "set_tag": "autolog._tracking._fluent",
    "set_tags": "autolog._tracking._fluent",
    "log_artifact": "autolog._tracking._fluent",
    "log_text": "autolog._tracking._fluent",
    "log_dict": "autolog._tracking._fluent",
    "log_figure": "autolog._tracking._fluent",
    "get_run": "autolog._tracking._fluent",
    "search_runs": "autolog._tracking._fluent",
    # models
    "log_model": "autolog._models",
    "load_model": "autolog._models",
    "load_predictor": "autolog._models",
    "infer_signature": "autolog._models",
    "Signature": "autolog._models",
}

__all__ = [
    "AutologError",
    "AutologWarning",
    "ConfigError",
    "InvalidKeyError",
    "MalformedFilterError",
    "ModelError",
    "ParamConflictError",
    "RunNotFoundError",
    "RunStateError",
    "SchemaMismatchError",
    "__version__",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'autolog' has no attribute {name!r}")
    value = getattr(import_module(module_name), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # pragma: no cover - static analysers see the real names
    from typing import Any

    from autolog._models import (
        Signature,
        infer_signature,
        load_model,
        load_predictor,
        log_model,
    )
    from autolog._registry import autolog, disable, status
    from autolog._tracking._fluent import (
        active_run,
        end_run,
        flush,
        get_run,
        get_tracking_uri,
        last_run,
        list_experiments,
        log_artifact,
        log_dict,
        log_figure,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        log_text,
        search_runs,
        set_experiment,
        set_tag,
        set_tags,
        set_tracking_uri,
        start_run,
    )
    from autolog._tracking._run import Run, RunStatus
