"""The metrics-server addon on real rootful Podman: a 1+1 cluster made with `--metrics-server`
answers `kubectl top nodes` for both nodes and `kubectl top pods`, with the kubelets' serving
certificates signed by the cluster CA (metrics-server verifies them; nothing turns TLS checks
off).

The same cluster then grows to 1+3 with `nestkube create node` (an added kubelet's serving
certificate is approved too) and shrinks to 1+2 with `nestkube delete node`: a pod on a new
worker reaches a pod on the first by pod IP and a Service by DNS name, and mounts a volume of
the default StorageClass; the removed node leaves no container, volume or route behind, and
the cluster is not taken for degraded. Bad input is one line and changes nothing."""

from __future__ import annotations

import functools
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import (
    Kubectl,
    assert_cluster_dns,
    claim_manifest,
    claim_pod,
    engine_leftovers,
    eventually,
    fetched,
    nestkube_cli,
    nk,
    pinned_pod,
    web_manifest,
)

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


# --- workers added and removed on the same cluster (nestkube create node / delete node) ---
CONTROL, FIRST = NODES


def node_names(kubectl: Kubectl) -> list[str]:
    return sorted(n["metadata"]["name"] for n in kubectl.json("get", "nodes")["items"])


def containers() -> list[str]:
    return sorted(n.name for n in nestkube.list_nodes(CLUSTER, provider="podman"))


def nk_fails(*args: str) -> str:
    """The one error line of a nestkube command that must fail with exit 1."""
    proc = subprocess.run(
        [nestkube_cli(), *args, "--provider", "podman"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR: "), lines
    return lines[0]


def test_bad_input_is_one_line_and_changes_nothing(created: float, kubectl: Kubectl) -> None:
    before = containers()
    assert "only workers can be removed" in nk_fails("delete", "node", CONTROL, "--name", CLUSTER)
    assert "has no node 'nope'" in nk_fails("delete", "node", "nope", "--name", CLUSTER)
    added = nk_fails("create", "node", "--name", CLUSTER, "--role", "control-plane")
    assert "only workers can be added" in added
    assert "no cluster named 'e2e-no-such'" in nk_fails("create", "node", "--name", "e2e-no-such")
    assert containers() == before
    assert node_names(kubectl) == [CONTROL, FIRST]


def test_two_workers_join_and_work_like_the_first(
    created: float, kubectl: Kubectl, podman: Provider, workload: Path
) -> None:
    added = [nk("create", "node", "--name", CLUSTER).stdout.strip() for _ in range(2)]
    assert added == [f"{CLUSTER}-worker2", f"{CLUSTER}-worker3"]
    assert node_names(kubectl) == [CONTROL, FIRST, *added]
    assert containers() == sorted([CONTROL, FIRST, *added])
    nodes = {n["metadata"]["name"]: n for n in kubectl.json("get", "nodes")["items"]}
    assert all(
        any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
        for n in nodes.values()
    )
    # Each has a pod CIDR of its own.
    cidrs = [n["spec"].get("podCIDR") for n in nodes.values()]
    assert None not in cidrs and len(set(cidrs)) == 4, cidrs
    nk("load", "archive", str(workload), "--name", CLUSTER)

    serve = "hostname > /www/index.html && exec httpd -f -p 8080 -h /www"
    kubectl.apply(pinned_pod("first", FIRST, serve) + "---" + pinned_pod("new", added[1], serve))
    kubectl.wait_pods_ready("role in (first,new)", count=2)
    ip_first = kubectl.json("get", "pod", "first")["status"]["podIP"]
    got = fetched(kubectl, "new", f"http://{ip_first}:8080")
    assert got.strip() == "first"
    # A Service by its DNS name, from the new node.
    kubectl.apply(web_manifest(replicas=2))
    kubectl.wait_pods_ready("app=web", count=2)
    web_pods = {
        p["metadata"]["name"] for p in kubectl.json("get", "pods", "-l", "app=web")["items"]
    }
    assert_cluster_dns(kubectl, podman, {"new": added[1]}, "web", web_pods)
    # The default StorageClass provisions on the new node.
    kubectl.apply(
        claim_manifest("on-new") + "---" + claim_pod("writer", "on-new", write=True, node=added[1])
    )
    kubectl.wait_pods_ready("role=writer")
    assert kubectl.json("get", "pvc", "on-new")["status"]["phase"] == "Bound"
    # The addon's kubelet serving certificate was approved for the added nodes too.
    eventually(
        lambda: kubectl("top", "nodes", "--no-headers", check=False).stdout,
        lambda out: all(node in out for node in added),
        timeout=120,
        what="kubectl top nodes listing the added nodes",
    )


def test_a_removed_worker_leaves_nothing_behind(
    created: float, kubectl: Kubectl, podman: Provider
) -> None:
    gone = f"{CLUSTER}-worker2"
    cidr = kubectl.json("get", "node", gone)["spec"]["podCIDR"]
    nk("delete", "node", gone, "--name", CLUSTER)
    assert node_names(kubectl) == [CONTROL, FIRST, f"{CLUSTER}-worker3"]
    assert gone not in containers()
    volumes = engine_leftovers("podman", CLUSTER)["volumes"]
    assert f"{gone}-var" not in volumes, volumes

    # No node routes into the removed node's pod CIDR once its agent has seen it go.
    def routes_into(node: str) -> str:
        return str(podman.exec(node, ["ip", "route", "show", cidr]).stdout.strip())

    for node in (CONTROL, FIRST, f"{CLUSTER}-worker3"):
        eventually(
            functools.partial(routes_into, node),
            lambda routes: routes == "",
            timeout=90,
            what=f"the route to {cidr} gone from {node}",
        )
    # Removed through nestkube, the node is not missing: the cluster is whole.
    info = json.loads(nk("get", "clusters", "-o", "json").stdout)
    mine = next(c for c in info if c["name"] == CLUSTER)
    assert mine["state"] == "running" and mine["missingNodes"] == [], mine
    # And the cluster still serves: the web Service answers from the remaining worker's pod.
    assert fetched(kubectl, "first", "http://web.default.svc.cluster.local").strip()
    # A node added now takes a new name, never the removed one's.
    assert nk("create", "node", "--name", CLUSTER, "--wait", "0").stdout.strip() == (
        f"{CLUSTER}-worker4"
    )
    nk("delete", "node", f"{CLUSTER}-worker4", "--name", CLUSTER)
    assert containers() == sorted([CONTROL, FIRST, f"{CLUSTER}-worker3"])
