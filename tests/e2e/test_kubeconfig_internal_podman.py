"""On real Podman, a 1+1 cluster: `export kubeconfig --internal` writes the address a container
on the cluster's engine network reaches the API server at (checked from the worker node, with
its own kubectl), and nestkube.testing's ``reuse`` takes the running cluster as it is.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support import nestkube_cli

import nestkube
from nestkube.cluster import list_clusters
from nestkube.config import default_config
from nestkube.images.node_image import NodeImage
from nestkube.kit.kubernetes import KubernetesBinaries
from nestkube.providers.base import Provider
from nestkube.testing import temporary_cluster

NAME = "e2e-i14b-internal"


@pytest.fixture(scope="module")
def cluster(
    podman: Provider, podman_node_image: NodeImage, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[nestkube.Cluster]:
    kubeconfig = tmp_path_factory.mktemp("kube") / "config"
    with temporary_cluster(
        default_config(NAME, workers=1, image=podman_node_image.image),
        provider="podman",
        kubeconfig_path=kubeconfig,
    ) as made:
        yield made


def _nk(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NESTKUBE_PROVIDER": "podman"}
    return subprocess.run(
        [nestkube_cli(), *args], capture_output=True, text=True, env=env, timeout=300
    )


def _server(kubeconfig: Path) -> str:
    doc = yaml.safe_load(kubeconfig.read_text())
    [entry] = [c for c in doc["clusters"] if c["name"] == f"nestkube-{NAME}"]
    return str(entry["cluster"]["server"])


def test_export_internal_is_reachable_from_the_engine_network(
    cluster: nestkube.Cluster, podman: Provider, tmp_path: Path
) -> None:
    internal = tmp_path / "internal"
    proc = _nk("export", "kubeconfig", "-n", NAME, "--internal", "--kubeconfig", str(internal))
    assert proc.returncode == 0, proc.stderr
    control_plane = f"{NAME}-control-plane"
    address = podman.node_ip(control_plane, f"nestkube-{NAME}")
    assert _server(internal) == f"https://{address}:6443"
    # get kubeconfig --internal prints the same address.
    printed = _nk("get", "kubeconfig", "-n", NAME, "--internal")
    assert printed.returncode == 0, printed.stderr
    assert f"server: https://{address}:6443" in printed.stdout
    # The worker is a container on the cluster's network: the address answers there and the
    # API server's certificate is valid for it. (The node's name would not resolve on this
    # host's Podman: its CNI networks run no DNS server.)
    worker = f"{NAME}-worker"
    podman.exec(worker, ["sh", "-c", "cat > /tmp/internal"], input=internal.read_text())
    ready = podman.exec(
        worker, ["kubectl", "--kubeconfig", "/tmp/internal", "get", "--raw", "/readyz"]
    )
    assert ready.stdout.strip() == "ok"


def test_reuse_takes_the_running_cluster_and_leaves_it(
    cluster: nestkube.Cluster, kit: KubernetesBinaries, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "reused"
    with temporary_cluster(
        default_config(NAME), provider="podman", kubeconfig_path=kubeconfig, reuse=True
    ) as reused:
        assert sorted(n.name for n in reused.nodes) == sorted(n.name for n in cluster.nodes)
        assert reused.kubeconfig_path == kubeconfig
        server = _server(kubeconfig)
        assert server.startswith("https://127.0.0.1:")
        out = subprocess.run(
            [str(kit.path("kubectl")), "--kubeconfig", str(kubeconfig), "get", "--raw", "/readyz"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert out.stdout.strip() == "ok"
    assert NAME in list_clusters(provider="podman")
