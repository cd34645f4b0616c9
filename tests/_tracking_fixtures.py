"""Isolation shared by the store, tracking and search tests (on top of tests/conftest.py)."""

from __future__ import annotations

import pytest

import autolog
from autolog._tracking import _fluent


@pytest.fixture(autouse=True)
def fresh_memory_store(monkeypatch):
    """A brand-new memory store and the default experiment; runs a test left open are ended."""
    monkeypatch.setenv("AUTOLOG_STRICT", "1")
    monkeypatch.setattr(_fluent, "_experiment", None)
    autolog.set_tracking_uri("memory:")
    yield
    while autolog.active_run() is not None:
        autolog.end_run()
    autolog.set_tracking_uri("memory:")
