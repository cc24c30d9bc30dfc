"""The metrics-server addon on real rootful Podman: a 1+1 cluster made with `--metrics-server`
answers `kubectl top nodes` for both nodes and `kubectl top pods`, with the kubelets' serving
certificates signed by the cluster CA (metrics-server verifies them; nothing turns TLS checks
off)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import Kubectl, engine_leftovers, nk

import nestkube
from nestkube.images.node_image import NodeImage
from nestkube.kit.kubernetes import KubernetesBinaries
from nestkube.providers.base import Provider

CLUSTER = "e2e-metrics"
NODES = [f"{CLUSTER}-control-plane", f"{CLUSTER}-worker"]
# What the issue asks: every node listed within 90 s of create.
TOP_WITHIN = 90.0


@pytest.fixture(scope="module")
def kubeconfig_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kube") / "config"


@pytest.fixture(scope="module")
def created(
    podman: Provider, podman_node_image: NodeImage, kubeconfig_file: Path
) -> Iterator[float]:
    """The cluster, made as a user would; yields when its create returned."""
    nestkube.delete_cluster(CLUSTER, provider="podman", kubeconfig_path=str(kubeconfig_file))
    nk(
        "create", "cluster", "--name", CLUSTER, "--workers", "1", "--metrics-server",
        "--provider", "podman", "--kubeconfig", str(kubeconfig_file),
    )  # fmt: skip
    yield time.monotonic()
    nestkube.delete_cluster(CLUSTER, provider="podman", kubeconfig_path=str(kubeconfig_file))
    assert engine_leftovers("podman", CLUSTER) == {"containers": [], "volumes": [], "networks": []}


@pytest.fixture(scope="module")
def kubectl(created: float, kit: KubernetesBinaries, kubeconfig_file: Path) -> Kubectl:
    return Kubectl(str(kit.path("kubectl")), kubeconfig_file, f"nestkube-{CLUSTER}")


def test_top_nodes_lists_every_node_soon_after_create(created: float, kubectl: Kubectl) -> None:
    listed: list[str] = []
    while time.monotonic() - created < TOP_WITHIN:
        top = kubectl("top", "nodes", "--no-headers", check=False)
        listed = sorted(line.split()[0] for line in top.stdout.splitlines() if line.strip())
        if top.returncode == 0 and listed == NODES:
            break
        time.sleep(3)
    took = time.monotonic() - created
    print(f"kubectl top nodes listed every node {took:.0f}s after create returned")
    assert listed == NODES, kubectl("top", "nodes", check=False).stderr
    # Pods: every one that metrics-server has scraped twice (a container started since has
    # none yet), so only its own pod and a few others are asked for.
    pods = kubectl("top", "pods", "-n", "kube-system", "--no-headers").stdout
    names = [line.split()[0] for line in pods.splitlines() if line.strip()]
    assert any(n.startswith("metrics-server-") for n in names), pods
    assert len(names) >= 5, pods


def test_the_kubelets_serve_certificates_the_cluster_ca_signed(
    kubectl: Kubectl, podman: Provider
) -> None:
    for node in NODES:
        # The kubelet's current serving certificate, checked against the cluster CA.
        script = (
            "openssl verify -CAfile /etc/kubernetes/pki/ca.crt "
            "/var/lib/kubelet/pki/kubelet-server-current.pem"
        )
        out = podman.exec(node, ["sh", "-c", script], check=False)
        assert out.ok and ": OK" in out.stdout, (node, out.stdout, out.stderr)
    args = kubectl.json("-n", "kube-system", "get", "deployment", "metrics-server")
    (container,) = args["spec"]["template"]["spec"]["containers"]
    assert not any("insecure" in a for a in container["args"]), container["args"]
    csrs = kubectl.json("get", "csr")["items"]
    approved = {
        c["spec"]["username"]
        for c in csrs
        if c["spec"]["signerName"] == "kubernetes.io/kubelet-serving"
        and any(x["type"] == "Approved" for x in c["status"].get("conditions", []))
    }
    assert approved >= {f"system:node:{n}" for n in NODES}, json.dumps(csrs)[:2000]
