"""Workers added to and removed from a running cluster on real rootful Podman: a 1+1 cluster
(with metrics-server, so an added kubelet's serving certificate is approved too) grows to 1+3
with `nestkube create node` and shrinks to 1+2 with `nestkube delete node`. A pod on a new
worker reaches a pod on the first by pod IP and a Service by DNS name, and mounts a volume of
the default StorageClass; the removed node leaves no container, volume or route behind, and the
cluster is not taken for degraded. Bad input is one line and changes nothing."""

from __future__ import annotations

import functools
import json
import subprocess
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

pytestmark = pytest.mark.e2e

CLUSTER = "e2e-resize"
FIRST = f"{CLUSTER}-worker"
CONTROL = f"{CLUSTER}-control-plane"


@pytest.fixture(scope="module")
def kubeconfig_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kube") / "config"


@pytest.fixture(scope="module")
def cluster(
    podman: Provider, podman_node_image: NodeImage, kubeconfig_file: Path, workload: Path
) -> Iterator[str]:
    nestkube.delete_cluster(CLUSTER, provider="podman", kubeconfig_path=str(kubeconfig_file))
    nk(
        "create", "cluster", "--name", CLUSTER, "--workers", "1", "--metrics-server",
        "--provider", "podman", "--kubeconfig", str(kubeconfig_file),
    )  # fmt: skip
    yield CLUSTER
    nestkube.delete_cluster(CLUSTER, provider="podman", kubeconfig_path=str(kubeconfig_file))
    assert engine_leftovers("podman", CLUSTER) == {"containers": [], "volumes": [], "networks": []}


@pytest.fixture(scope="module")
def kubectl(cluster: str, kit: KubernetesBinaries, kubeconfig_file: Path) -> Kubectl:
    return Kubectl(str(kit.path("kubectl")), kubeconfig_file, f"nestkube-{cluster}")


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


def test_bad_input_is_one_line_and_changes_nothing(cluster: str, kubectl: Kubectl) -> None:
    before = containers()
    assert "only workers can be removed" in nk_fails("delete", "node", CONTROL, "--name", cluster)
    assert "has no node 'nope'" in nk_fails("delete", "node", "nope", "--name", cluster)
    added = nk_fails("create", "node", "--name", cluster, "--role", "control-plane")
    assert "only workers can be added" in added
    assert "no cluster named 'e2e-no-such'" in nk_fails("create", "node", "--name", "e2e-no-such")
    assert containers() == before
    assert node_names(kubectl) == [CONTROL, FIRST]


def test_two_workers_join_and_work_like_the_first(
    cluster: str, kubectl: Kubectl, podman: Provider, workload: Path
) -> None:
    added = [nk("create", "node", "--name", cluster).stdout.strip() for _ in range(2)]
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
    nk("load", "archive", str(workload), "--name", cluster)

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
    cluster: str, kubectl: Kubectl, podman: Provider
) -> None:
    gone = f"{CLUSTER}-worker2"
    cidr = kubectl.json("get", "node", gone)["spec"]["podCIDR"]
    nk("delete", "node", gone, "--name", cluster)
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
    assert nk("create", "node", "--name", cluster, "--wait", "0").stdout.strip() == (
        f"{CLUSTER}-worker4"
    )
    nk("delete", "node", f"{CLUSTER}-worker4", "--name", cluster)
    assert containers() == sorted([CONTROL, FIRST, f"{CLUSTER}-worker3"])
