"""Fixtures for runner tests: fake helm/kubectl on PATH and credential files."""

from __future__ import annotations

from pathlib import Path

import pytest

from .fakes import FakeTools, tools

__all__ = ["FakeTools", "tools"]

TOKEN = "ghp_notARealTokenButSecretAllTheSame"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEfake\n-----END RSA PRIVATE KEY-----\n"


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "app.pem"
    path.write_text(PEM)
    return path
