"""`nestkube get clusters` on real Podman: one engine call lists real node containers.

The node containers are created from the real node image but never started (a created
container is listed like any other), so the test boots no cluster. A wrapper named ``podman``,
first on PATH, records every engine call and runs the real Podman.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import nestkube_cli

from nestkube.images.node_image import NodeImage
from nestkube.providers.base import LABEL_CLUSTER, LABEL_ROLE


@pytest.fixture
def created_cluster(podman_node_image: NodeImage) -> Iterator[str]:
    """Two created (not started) node containers labelled as cluster ``name``."""
    name = f"e2e-fastcli-{secrets.token_hex(3)}"
    real = shutil.which("podman")
    assert real
    nodes = [(f"{name}-control-plane", "control-plane"), (f"{name}-worker", "worker")]
    try:
        for node, role in nodes:
            subprocess.run(
                [
                    *(real, "create", "--name", node),
                    *("--label", f"{LABEL_CLUSTER}={name}", "--label", f"{LABEL_ROLE}={role}"),
                    podman_node_image.image,
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
        yield name
    finally:
        subprocess.run(
            [real, "rm", "--force", *[n for n, _ in nodes]],
            check=False,
            capture_output=True,
            timeout=120,
        )


def _nk(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run nestkube with the recording podman first on PATH; the run and the engine calls."""
    real = shutil.which("podman")
    calls = tmp_path / "calls"
    calls.unlink(missing_ok=True)
    wrapper = tmp_path / "bin" / "podman"
    wrapper.parent.mkdir(exist_ok=True)
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {calls}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{wrapper.parent}:{os.environ.get('PATH', '')}",
        "NESTKUBE_PROVIDER": "podman",
    }
    proc = subprocess.run(
        [nestkube_cli(), *args], capture_output=True, text=True, env=env, timeout=120
    )
    return proc, calls.read_text().splitlines() if calls.exists() else []


def test_get_clusters_is_one_ps_of_the_real_engine(created_cluster: str, tmp_path: Path) -> None:
    proc, calls = _nk(tmp_path, "get", "clusters")
    assert proc.returncode == 0, proc.stderr
    assert created_cluster in proc.stdout.split()
    assert len(calls) == 1, calls
    assert calls[0].startswith("ps --all") and f"label={LABEL_CLUSTER}" in calls[0]


def test_get_clusters_json_reads_nodes_and_states_from_the_same_listing(
    created_cluster: str, tmp_path: Path
) -> None:
    proc, calls = _nk(tmp_path, "get", "clusters", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    ours = [c for c in json.loads(proc.stdout) if c["name"] == created_cluster]
    assert len(ours) == 1, proc.stdout
    assert ours[0]["nodes"] == [
        {"name": f"{created_cluster}-control-plane", "role": "control-plane", "state": "created"},
        {"name": f"{created_cluster}-worker", "role": "worker", "state": "created"},
    ]
    assert ours[0]["provider"] == "podman" and ours[0]["rootless"] is (os.geteuid() != 0)
    # One listing for every cluster; these containers lack the io.nestkube.rootless label that
    # nestkube gives its nodes, so the engine is probed once for the `rootless` field.
    assert [c.split()[0] for c in calls] == ["ps", "info"], calls
