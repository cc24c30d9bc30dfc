"""Choosing the Go for module builds and for Debian's tree, never one for the other."""

from __future__ import annotations

from pathlib import Path

import pytest

from nestkube.errors import ImageBuildError
from nestkube.kit import toolchain


def fake_go(path: Path, version: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho 'go version {version} linux/amd64'\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def gos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    new = fake_go(tmp_path / "upstream/bin/go", "go1.26.8")
    old = fake_go(tmp_path / "debian/bin/go", "go1.19.8")
    monkeypatch.setattr(toolchain, "UPSTREAM_GO", new)
    monkeypatch.setattr(toolchain, "DEBIAN_GO", old)
    monkeypatch.delenv("NESTKUBE_GO", raising=False)
    return {"new": new, "old": old}


def test_debian_go_first_on_path_is_not_chosen_for_modules(
    gos: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(gos["old"].parent))
    chosen = toolchain.modules_toolchain()
    assert chosen.go == gos["new"]
    assert chosen.release == (1, 26)
    env = chosen.env()
    assert env["PATH"].startswith(str(gos["new"].parent))
    assert env["GOTOOLCHAIN"] == "local"


def test_only_an_old_go_is_a_one_line_refusal(
    gos: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(toolchain, "UPSTREAM_GO", tmp_path / "absent/go")
    monkeypatch.setenv("PATH", str(gos["old"].parent))
    with pytest.raises(ImageBuildError, match=r"go1\.19\.8; Go modules need go1\.26 or newer"):
        toolchain.modules_toolchain()


def test_nestkube_go_wins_and_must_work(
    gos: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = fake_go(tmp_path / "other/bin/go", "go1.27.1")
    monkeypatch.setenv("NESTKUBE_GO", str(other))
    assert toolchain.modules_toolchain().go == other
    monkeypatch.setenv("NESTKUBE_GO", str(tmp_path / "nope/go"))
    with pytest.raises(ImageBuildError, match="is not a working go"):
        toolchain.modules_toolchain()


def test_debian_toolchain_is_debians(gos: dict[str, Path]) -> None:
    chosen = toolchain.debian_toolchain()
    assert chosen.go == gos["old"]
    assert chosen.version == "go1.19.8"
