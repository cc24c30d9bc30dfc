"""`nestkube conformance`: bad input is one line and leaves nothing behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

MAIN = "from nestkube.cli.main import main; main()"


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", MAIN, "conformance", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timeout", "soon"], "ERROR: invalid duration 'soon'"),
        (["--name", "  "], "ERROR: "),
    ],
)
def test_bad_input_is_one_line_before_any_engine_or_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    # No engine on PATH and temp dirs under tmp_path: nothing may be asked or made.
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    proc = run(tmp_path, *args)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_help_names_the_passes_and_flags(tmp_path: Path) -> None:
    proc = run(tmp_path, "--help")
    assert proc.returncode == 0
    for flag in ("--focus", "--skip", "--procs", "--report-dir", "--keep", "--workers"):
        assert flag in proc.stdout
