"""A framework whose import stops half way until the test opens the gate (import races)."""

import fakeml_autolog as _gate

_gate.SLOW_IMPORT_STARTED.set()
if not _gate.SLOW_IMPORT_GATE.wait(30):  # pragma: no cover - a hung test, not a result
    raise RuntimeError("fakeslow: gate never opened")


class Model:
    def fit(self, X):
        self.n_ = len(X)
        return self
