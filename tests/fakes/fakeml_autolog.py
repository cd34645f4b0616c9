"""Integrations of the fake framework, used by the engine tests (and as an entry-point target).

Importing this module does not import fakeml.
"""

from __future__ import annotations

import threading

from autolog.integration import Integration

EVENTS: list[tuple] = []  # what hooks saw, for assertions
SLOW_IMPORT_STARTED = threading.Event()  # set by fakeslow's body once it is in sys.modules
SLOW_IMPORT_GATE = threading.Event()  # fakeslow's body waits for this before defining Model


class FakeIntegration(Integration):
    name = "fakeml"
    modules = ("fakeml",)
    requires = None
    options = {"log_every": 1}

    def install(self, patcher):
        import fakeml
        import fakeml.models

        patcher.wrap_subclasses(fakeml.Estimator, "fit", self.fit_hook)
        patcher.wrap(fakeml.models, "train", self.train_hook)
        patcher.wrap(fakeml, "train", self.train_hook)

    def fit_hook(self, call):
        EVENTS.append(("fit", type(call.instance).__name__, call.nested))
        with call.session() as s:
            s.log_params(call.instance.get_params())
            s.set_tags({"estimator": type(call.instance).__name__})
            model = yield
            s.log_metrics({"coef": model.coef_})

    def train_hook(self, call):
        args = call.arguments
        with call.session() as s:
            s.log_params(args["params"])
            s.log_params({"rounds": args["rounds"]})
            seen = []
            callbacks = list(args["callbacks"] or [])  # a copy: never touch the user's list
            callbacks.append(seen.append)
            call.set_argument("callbacks", callbacks)
            result = yield
            s.log_metrics({"seen": len(seen)})


class MetricsIntegration(Integration):
    """A second integration patching one of the same functions (stacking)."""

    name = "fakemetrics"
    modules = ("fakeml",)

    def install(self, patcher):
        import fakeml.models

        patcher.wrap(fakeml.models, "train", self.hook, nested=True)
        patcher.wrap(fakeml.models, "score", self.hook, nested=True)

    def hook(self, call):
        EVENTS.append(("metrics", call.function_name, call.nested))
        yield


class VersionedIntegration(FakeIntegration):
    """Version gate target: distribution 'fakeml-dist' (a fake dist-info in tmp)."""

    name = "fakever"
    requires = "fakeml-dist>=2.0"
    tested_up_to = None


class BrokenInstall(Integration):
    name = "broken"
    modules = ("fakeml",)

    def install(self, patcher):
        import fakeml

        patcher.wrap(fakeml.Linear, "fit", lambda call: (yield))
        raise RuntimeError("install failed half way")


def _slow_fit_hook(call):
    with call.session() as s:
        s.log_params({"n": len(call.arguments["X"])})
        yield


class SlowIntegration(Integration):
    """Triggered by fakeslow, whose import the test can hold half way."""

    name = "fakeslow"
    modules = ("fakeslow",)

    def install(self, patcher):
        import sys

        module = sys.modules["fakeslow"]  # the trigger, as the registry saw it
        patcher.wrap(module.Model, "fit", _slow_fit_hook)


class LazySubmoduleIntegration(Integration):
    """Triggered by fakeml; patches fakeslow lazily (an optional submodule) via on_import."""

    name = "fakelazy"
    modules = ("fakeml",)

    def install(self, patcher):
        patcher.on_import("fakeslow", lambda module: patcher.wrap(module.Model, "fit", _slow_fit_hook))
