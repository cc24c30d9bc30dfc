"""doctor picks its engine where every command does: a bad NESTKUBE_PROVIDER is one error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from doctor_fixtures import FakeHost, ForbiddenRunner, context, facts

from nestkube.doctor import diagnose
from nestkube.errors import ProviderError
from nestkube.providers import get_provider

MESSAGE = "unknown provider 'dockr'; choose one of podman, docker, nerdctl"


@pytest.mark.parametrize("key", ["NESTKUBE_PROVIDER", "KIND_EXPERIMENTAL_PROVIDER"])
def test_a_bad_engine_name_is_the_same_error_for_doctor_and_every_command(
    key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NESTKUBE_PROVIDER", raising=False)
    monkeypatch.delenv("KIND_EXPERIMENTAL_PROVIDER", raising=False)
    monkeypatch.setenv(key, "dockr")
    with pytest.raises(ProviderError) as by_command:
        get_provider()
    host = FakeHost.healthy(tmp_path)
    with pytest.raises(ProviderError) as by_doctor:
        diagnose(
            root=host.root,
            env={key: "dockr", "PATH": "/usr/bin"},
            runner=ForbiddenRunner(),
            host=facts(host),
        )
    assert str(by_command.value) == str(by_doctor.value) == MESSAGE


def test_a_named_engine_is_marked_requested(tmp_path: Path) -> None:
    ctx = context(FakeHost.healthy(tmp_path), provider=None, env={"NESTKUBE_PROVIDER": "podman"})
    assert ctx.provider == "podman" and ctx.requested_provider


@pytest.mark.parametrize("args", [["doctor"], ["get", "clusters"]], ids=" ".join)
def test_the_cli_says_it_in_one_line_with_exit_code_one(args: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path), "NESTKUBE_PROVIDER": "dockr", "NO_COLOR": "1"}
    res = subprocess.run(
        [sys.executable, "-m", "nestkube", "-q", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert res.returncode == 1, res.stderr
    assert res.stderr.strip().splitlines() == [f"ERROR: {MESSAGE}"]
