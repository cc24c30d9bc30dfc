"""An empty or whitespace cluster name is refused by every command before any engine is asked.

Engines read an empty label value in a filter as "any value", so before this check
`delete cluster --name ""` deleted every cluster. The commands run with no engine on PATH:
an error about the engine would mean the name was not checked first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nestkube.errors import ClusterError
from nestkube.names import cluster_name

COMMANDS = [
    ["create", "cluster", "--name", ""],
    ["create", "cluster", "--name", "  "],
    ["delete", "cluster", "--name", ""],
    ["delete", "clusters", " "],
    ["get", "nodes", "--name", ""],
    ["get", "kubeconfig", "--name", "\t"],
    ["export", "kubeconfig", "--name", ""],
    ["export", "logs", "--name", ""],
    ["load", "image", "busybox", "--name", ""],
    ["load", "archive", "x.tar", "--name", " "],
    ["stop", "cluster", "--name", ""],
    ["stop", "clusters", "dev", " "],
    ["start", "cluster", "--name", "  "],
    ["start", "clusters", ""],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_empty_names_are_refused_before_any_engine_is_asked(
    args: list[str], tmp_path: Path
) -> None:
    env = {**os.environ, "PATH": str(tmp_path), "NESTKUBE_PROVIDER": "podman"}
    res = subprocess.run(
        [sys.executable, "-m", "nestkube", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert res.returncode == 1, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR: invalid cluster name"), res.stderr
    assert "cannot be empty" in lines[0]


def test_names_with_surrounding_whitespace_are_refused() -> None:
    with pytest.raises(ClusterError, match="whitespace"):
        cluster_name(" dev")
    assert cluster_name("dev") == "dev"
