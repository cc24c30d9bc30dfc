"""The CLI's shared options on real Podman: cluster names from the environment, every
cluster's nodes from one listing, each engine command at -v 2, a bad --provider before any
engine call.

Node containers are created from the real node image but never started, so no cluster boots.
A wrapper named ``podman``, first on PATH, records every engine call and runs the real Podman.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import nestkube_cli

from nestkube.images.node_image import NodeImage
from nestkube.providers.base import LABEL_CLUSTER, LABEL_ROLE


@pytest.fixture(scope="module")
def clusters(podman_node_image: NodeImage) -> Iterator[tuple[str, str]]:
    """Two clusters of created node containers: A with one node, B with two."""
    prefix = f"e2e-cliopt-{secrets.token_hex(3)}"
    a, b = f"{prefix}-a", f"{prefix}-b"
    nodes = [
        (a, f"{a}-control-plane", "control-plane"),
        (b, f"{b}-control-plane", "control-plane"),
        (b, f"{b}-worker", "worker"),
    ]
    real = shutil.which("podman")
    assert real
    try:
        for cluster, node, role in nodes:
            subprocess.run(
                [
                    *(real, "create", "--name", node),
                    *("--label", f"{LABEL_CLUSTER}={cluster}", "--label", f"{LABEL_ROLE}={role}"),
                    podman_node_image.image,
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
        yield a, b
    finally:
        subprocess.run(
            [real, "rm", "--force", *[node for _, node, _ in nodes]],
            check=False,
            capture_output=True,
            timeout=120,
        )


def _nk(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run nestkube with the recording podman first on PATH; the run and the engine calls."""
    real = shutil.which("podman")
    calls = tmp_path / "calls"
    calls.unlink(missing_ok=True)
    wrapper = tmp_path / "bin" / "podman"
    wrapper.parent.mkdir(exist_ok=True)
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {calls}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    base = {k: v for k, v in os.environ.items() if not k.endswith("_CLUSTER_NAME")}
    full = {
        **base,
        "PATH": f"{wrapper.parent}:{os.environ.get('PATH', '')}",
        "NESTKUBE_PROVIDER": "podman",
        **(env or {}),
    }
    proc = subprocess.run(
        [nestkube_cli(), *args], capture_output=True, text=True, env=full, timeout=120
    )
    return proc, calls.read_text().splitlines() if calls.exists() else []


def test_all_clusters_nodes_come_from_one_listing(
    clusters: tuple[str, str], tmp_path: Path
) -> None:
    a, b = clusters
    proc, calls = _nk(tmp_path, "get", "nodes", "--all-clusters", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    ours = [row for row in json.loads(proc.stdout) if row["cluster"] in (a, b)]
    assert ours == [
        {"name": f"{a}-control-plane", "cluster": a, "role": "control-plane", "state": "created"},
        {"name": f"{b}-control-plane", "cluster": b, "role": "control-plane", "state": "created"},
        {"name": f"{b}-worker", "cluster": b, "role": "worker", "state": "created"},
    ]
    assert [c.split()[0] for c in calls] == ["ps"], calls


@pytest.mark.parametrize("variable", ["NESTKUBE_CLUSTER_NAME", "KIND_CLUSTER_NAME"])
def test_the_cluster_name_comes_from_the_environment(
    clusters: tuple[str, str], tmp_path: Path, variable: str
) -> None:
    _, b = clusters
    proc, _ = _nk(tmp_path, "get", "nodes", env={variable: b})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [f"{b}-control-plane", f"{b}-worker"]


def test_verbosity_2_shows_each_engine_command_with_its_exit_code_and_duration(
    clusters: tuple[str, str], tmp_path: Path
) -> None:
    proc, calls = _nk(tmp_path, "-v", "2", "get", "nodes", "-A")
    assert proc.returncode == 0, proc.stderr
    logged = re.findall(
        r"^nestkube\.exec: (\S*podman) (.*): exit (\d+) in \d+\.\d\ds$", proc.stderr, flags=re.M
    )
    # One line per engine command the wrapper saw, in order, with the real exit code (the log
    # quotes arguments as a shell would; the wrapper does not).
    assert [(args.split()[0], code) for _, args, code in logged] == [
        (c.split()[0], "0") for c in calls
    ], proc.stderr
    assert calls and calls[0].startswith("ps --all")


def test_a_bad_provider_is_a_usage_error_before_any_engine_call(
    clusters: tuple[str, str], tmp_path: Path
) -> None:
    for command in (["get", "nodes"], ["delete", "cluster", "-n", clusters[0]], ["doctor"]):
        proc, calls = _nk(tmp_path, *command, "--provider", "podmn")
        assert proc.returncode == 2, (command, proc.stderr)
        assert "'podmn' is not one of podman, docker, nerdctl" in proc.stderr
        assert calls == [], command
