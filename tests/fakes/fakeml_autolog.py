"""Integrations of the fake framework, used by the engine tests (and as an entry-point target).

Importing this module does not import fakeml.
"""

from __future__ import annotations

from autolog.integration import Integration

EVENTS: list[tuple] = []  # what hooks saw, for assertions


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
