"""The IntegrationContract applied to the fake integration (the real ones apply it too)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from autolog.integration import register
from autolog.testing import IntegrationContract

FAKES = Path(__file__).parent / "fakes"
sys.path.insert(0, str(FAKES))

import fakeml_autolog  # noqa: E402


class TestFakeIntegrationContract(IntegrationContract):
    integration = "fakeml"
    subprocess_code = f"""
import sys
sys.path.insert(0, {str(FAKES)!r})
import fakeml_autolog
from autolog.integration import register
register(fakeml_autolog.FakeIntegration)
import fakeml
fakeml.Linear(alpha=1).fit([1, 2])
"""

    @pytest.fixture(autouse=True)
    def _fresh(self, _contract_env):
        for name in [m for m in sys.modules if m == "fakeml" or m.startswith("fakeml.")]:
            del sys.modules[name]
        import fakeml

        self.fakeml = fakeml
        register(fakeml_autolog.FakeIntegration)
        yield

    def patched_targets(self):
        fm = self.fakeml
        return [(fm.Estimator, "fit"), (fm.Linear, "fit"), (fm.Pipeline, "fit"), (fm.models, "train"),
                (fm, "train")]

    def fit(self):
        return self.fakeml.Linear(alpha=1).fit([1, 2])

    def failing_fit(self, error):
        return self.fakeml.Boom(error).fit([1])

    def nested_fit(self):
        fm = self.fakeml
        return fm.Pipeline([fm.Linear(), fm.SuperChain()]).fit([1])

    def check_run(self, run):
        assert run.params == {"alpha": "1"}
