"""Suite-wide isolation: strict mode, a fresh in-memory store per test, every patch reverted
and the registry reset after each test, and a check that no test leaves a run active.

Generic on purpose: tests/integrations/ relies on it too.
"""

from __future__ import annotations

import os

os.environ["AUTOLOG_STRICT"] = "1"  # before autolog reads it anywhere

from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402

import autolog  # noqa: E402
from autolog import _registry  # noqa: E402
from autolog._errors import set_strict  # noqa: E402
from autolog.testing import autolog_reset, lenient_mode, memory_store, strict_mode  # noqa: E402,F401


@pytest.fixture(autouse=True)
def _autolog_isolation(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AUTOLOG_DISABLE", raising=False)
    monkeypatch.delenv("AUTOLOG_TRACKING_URI", raising=False)
    autolog.set_tracking_uri("memory:")
    yield
    leaked = []
    run = autolog.active_run()
    while run is not None and len(leaked) < 50:
        leaked.append(run)
        run.end("KILLED", wait=False)  # also leaves the active stack
        run = autolog.active_run()
    _registry.reset()
    set_strict(None)
    autolog.flush()
    assert not leaked, f"test left run(s) active: {leaked}"
