"""The fake engine CLI as a fixture."""

from __future__ import annotations

import pytest

from nestkube import _exec

from .fakes import FakeEngine


@pytest.fixture
def fake_engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    engine = FakeEngine()
    monkeypatch.setattr(_exec, "run", engine.run)
    return engine
