"""Public plugin API: write an integration for a framework in a few lines.

```python
from autolog.integration import Integration

class TinyIntegration(Integration):
    name = "tiny"                      # config key, AUTOLOG_DISABLE name, entry-point name
    modules = ("tiny",)                # importing any of these installs the integration
    requires = "tiny-ml>=1.2"          # distribution + supported range (read from metadata)
    tested_up_to = "2.0"               # newer: one warning, still runs
    options = {"log_every_n": 1}       # integration options and their defaults

    def install(self, patcher):
        import tiny                    # already imported when install runs
        patcher.wrap_subclasses(tiny.Model, "fit", self.fit_hook)

    def fit_hook(self, call):          # a generator: code before/after the single yield
        with call.session() as s:
            s.log_params(call.arguments)
            model = yield              # the engine calls the original here, exactly once
            s.log_metrics({"loss": model.loss_})
```

Register third-party integrations under the entry-point group ``autolog.integrations``
(``tiny = "tiny_autolog:TinyIntegration"``) or call :func:`register`.

Hook protocol. ``hook(call)`` is a generator function with exactly one ``yield``:

* before the ``yield`` it may replace ``call.args`` / ``call.kwargs`` (or use
  ``call.set_argument``) -- copies only, never mutate the user's objects (strict mode checks:
  a hook that changes a list / dict / set argument in place raises ``HookProtocolError``);
* the engine then calls the original once and sends its result back through the ``yield``;
  if the original raises, the exception is thrown into the generator at the ``yield`` (so a
  session marks the run FAILED, or KILLED for KeyboardInterrupt) and is then re-raised to the
  user as the same object;
* any exception of the hook's own (before or after the ``yield``) becomes one AutologWarning
  per integration and never reaches the user (with warnings turned into errors it goes to the
  ``autolog`` logger instead) -- strict mode (``AUTOLOG_STRICT=1``) raises it instead; a hook
  failing before its ``yield`` still gets the original called, with the user's arguments;
* the user always gets the original's result object; a hook that returns before yielding
  simply takes no part in that call.

Hooks run only for the outermost autologged call in a context: a patched call made while
another one is running (Pipeline steps, ``super().fit``, meta-estimators, worker tasks wrapped
with :func:`carry_context`) calls the original directly, unless the hook was registered with
``nested=True``.

``call`` (:class:`Call`): ``integration`` (name), ``config``, ``instance``, ``args``,
``kwargs``, ``arguments`` (bound through the signature, defaults applied),
``get_argument(name)``, ``set_argument(name, value)``, ``function_name``, ``owner``,
``nested``, ``result``, ``exception``, ``session(run_name=None, *, exclusive=None)``.

``call.session()`` (:class:`Session`): a managed run when no run is active (tagged
``autolog.integration=<name>`` plus ``extra_tags``; FINISHED / FAILED / KILLED at exit), else
the user's run (left open; nothing with ``exclusive``). ``s.run``, ``s.managed``, ``s.suffix``,
``s.config``, ``s.log_params(d)`` / ``s.set_tags(d)`` (conflicting keys renamed
``<key>_<suffix>``), ``s.log_metrics(d, step=None)``, ``s.log_model(model, artifact_path="model",
signature=..., input_example=...)``, ``s.log_text / log_dict / log_figure`` (background),
``s.child_run(name=None, params=None, metrics=None, tags=None)``. Each fit is listed in the run's
``autolog/fits.json``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # pragma: no cover
    from autolog._config import Config
    from autolog._patching import Call, Patcher
    from autolog._session import Session

__all__ = ["Call", "Integration", "Patcher", "Session", "carry_context", "register"]


class Integration:
    """Base class of every integration (builtin or third-party).

    Class attributes a subclass sets: ``name``, ``modules``, ``requires``, optionally
    ``tested_up_to`` and ``options``. The registry creates one instance per install and calls
    :meth:`install` once the framework is imported (never before); undoing is automatic.
    """

    name: ClassVar[str]
    modules: ClassVar[tuple[str, ...]] = ()
    requires: ClassVar[str | None] = None
    tested_up_to: ClassVar[str | None] = None
    options: ClassVar[dict[str, Any]] = {}

    def install(self, patcher: Patcher) -> None:
        """Declare what to patch with ``patcher.wrap`` / ``wrap_subclasses`` / ``on_import``.

        Write no undo code: everything declared here is reverted by ``autolog.disable()``.
        An exception raised here reverts what was declared so far and becomes one warning
        (raised in strict mode); the integration then stays off.
        """
        raise NotImplementedError(f"{type(self).__name__}.install()")

    @property
    def config(self) -> Config:
        """Resolved options: global defaults < ``options`` defaults < global ``autolog()``
        arguments < ``autolog(<name>={...})``. Always current (re-resolved on each
        ``autolog()`` call)."""
        owner = getattr(self, "_autolog_owner", None)
        if owner is not None:
            return owner.config
        from autolog._registry import current_config

        return current_config(self.name)


def register(cls: type[Integration]) -> None:
    """Make an integration class known without an entry point; see
    :func:`autolog._registry.register`."""
    from autolog._registry import register as _register

    _register(cls)


def __getattr__(name: str) -> Any:
    # the engine imports wrapt; only load it when a plugin actually asks for it
    if name in ("Call", "Patcher", "carry_context"):
        from autolog import _patching

        return getattr(_patching, name)
    if name == "Session":
        from autolog._session import Session

        return Session
    raise AttributeError(f"module 'autolog.integration' has no attribute {name!r}")
