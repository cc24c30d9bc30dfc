"""CRI-O nodes on real Podman: a single-node and a 1+1 cluster whose nodes run CRI-O v1.34
(built from its Go module) instead of containerd, at the newest Kubernetes release that has a
CRI-O the module proxy serves (kit/releases.CRIO_KUBERNETES).

Both clusters serve a Deployment behind a Service by DNS name to a pod on every node, run a
loaded image with imagePullPolicy Never, export CRI-O's logs, and delete to nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from engines import busybox_loaded_into
from support import WORKLOAD_IMAGE, Kubectl, assert_cluster_dns, engine_leftovers, web_manifest
from test_docker_cluster import nk, ready_nodes, run_pod_never_pull

import nestkube
from nestkube.config import ClusterConfig, NodeConfig
from nestkube.images.node_image import (
    LABEL_COMPONENTS,
    LABEL_RUNTIME,
    NodeImage,
    build_node_image,
    parse_components_label,
)
from nestkube.kit.kubernetes import KubernetesBinaries, build_from_modules
from nestkube.kit.releases import CRIO_KUBERNETES
from nestkube.providers.podman import PodmanProvider
from nestkube.status import Status

pytestmark = pytest.mark.e2e

CRIO_SINGLE = "e2e-crio-single"
CRIO_MULTI = "e2e-crio-multi"


@pytest.fixture(scope="module")
def crio_kit(progress: Status) -> KubernetesBinaries:
    return build_from_modules(CRIO_KUBERNETES, progress)


@pytest.fixture(scope="module")
def crio_image(
    podman_engine: PodmanProvider, crio_kit: KubernetesBinaries, progress: Status
) -> NodeImage:
    start = time.monotonic()
    image = build_node_image(
        podman_engine, crio_kit, pull_missing=False, runtime="cri-o", status=progress
    )
    print(f"CRI-O node image {image.image}: {time.monotonic() - start:.0f}s")
    return image


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kube") / "config"


def crio_cluster(name: str, workers: int, kubeconfig: Path) -> Iterator[nestkube.Cluster]:
    """Create ``name`` with CRI-O on every node (no image named: the CRI-O default)."""
    nodes = [NodeConfig(runtime="cri-o")]
    nodes += [NodeConfig(role="worker", runtime="cri-o") for _ in range(workers)]
    nestkube.delete_cluster(name, provider="podman", kubeconfig_path=str(kubeconfig))
    start = time.monotonic()
    cluster = nestkube.create_cluster(
        ClusterConfig(name=name, nodes=nodes),
        provider="podman",
        kubeconfig_path=str(kubeconfig),
        status=Status(verbosity=1),
    )
    print(f"created {name} (CRI-O, 1+{workers}) in {time.monotonic() - start:.0f}s")
    yield cluster
    nestkube.delete_cluster(name, provider="podman", kubeconfig_path=str(kubeconfig))


@pytest.fixture(scope="module")
def crio_single(crio_image: NodeImage, kubeconfig: Path) -> Iterator[nestkube.Cluster]:
    yield from crio_cluster(CRIO_SINGLE, 0, kubeconfig)


@pytest.fixture(scope="module")
def crio_multi(crio_image: NodeImage, kubeconfig: Path) -> Iterator[nestkube.Cluster]:
    yield from crio_cluster(CRIO_MULTI, 1, kubeconfig)


def clients(nodes: list[str]) -> str:
    """One sleeping workload pod pinned to each node, named client-0, client-1, ..."""
    return "".join(
        f"""---
apiVersion: v1
kind: Pod
metadata: {{name: client-{i}, labels: {{role: client}}}}
spec:
  nodeName: {node}
  tolerations: [{{operator: Exists}}]
  containers:
  - name: main
    image: {WORKLOAD_IMAGE}
    imagePullPolicy: Never
    command: ["sleep", "3600"]
"""
        for i, node in enumerate(nodes)
    )


def serve_and_resolve(
    cluster: nestkube.Cluster,
    kit: KubernetesBinaries,
    kubeconfig: Path,
    podman: PodmanProvider,
    workload: Path,
    nodes: list[str],
) -> None:
    """Workload archive loaded through `nestkube load archive` (skopeo into CRI-O's store),
    then web behind a Service, asked by DNS name from a client pod on every node."""
    nk("load", "archive", str(workload), "--name", cluster.name)
    kubectl = Kubectl(str(kit.path("kubectl")), kubeconfig, cluster.context)
    for node in kubectl.json("get", "nodes")["items"]:
        runtime = node["status"]["nodeInfo"]["containerRuntimeVersion"]
        assert runtime.startswith("cri-o://1.34."), runtime
    # Names resolve once CoreDNS is Ready (it serves only after syncing with the API).
    kubectl.wait_pods_ready("k8s-app=kube-dns", namespace="kube-system")
    kubectl.apply(web_manifest(replicas=2) + clients(nodes))
    kubectl.wait_pods_ready("app=web")
    kubectl.wait_pods_ready("role=client")
    pods = {p["metadata"]["name"] for p in kubectl.json("get", "pods", "-l", "app=web")["items"]}
    assert_cluster_dns(
        kubectl, podman, {f"client-{i}": n for i, n in enumerate(nodes)}, "web", pods
    )


def test_crio_node_image_says_what_it_runs(
    crio_image: NodeImage, podman_engine: PodmanProvider
) -> None:
    assert crio_image.image.endswith(f"{CRIO_KUBERNETES}-crio")
    labels = podman_engine.image_labels(crio_image.image)
    assert labels[LABEL_RUNTIME] == "cri-o"
    components = parse_components_label(labels[LABEL_COMPONENTS])
    assert components["cri-o"] == "v1.34.0" and components["conmon"]
    assert any("/pause:" in ref for ref in crio_image.preloaded)


# --- single node ----------------------------------------------------------------------------
def test_crio_single_node_serves_a_service_by_dns_name(
    crio_single: nestkube.Cluster,
    crio_kit: KubernetesBinaries,
    kubeconfig: Path,
    podman_engine: PodmanProvider,
    workload: Path,
) -> None:
    node = f"{CRIO_SINGLE}-control-plane"
    assert ready_nodes(crio_kit, kubeconfig, crio_single) == [node]
    serve_and_resolve(crio_single, crio_kit, kubeconfig, podman_engine, workload, [node])


# --- one control plane, one worker ----------------------------------------------------------
def test_crio_two_nodes_serve_a_service_to_every_node(
    crio_multi: nestkube.Cluster,
    crio_kit: KubernetesBinaries,
    kubeconfig: Path,
    podman_engine: PodmanProvider,
    workload: Path,
) -> None:
    nodes = [f"{CRIO_MULTI}-control-plane", f"{CRIO_MULTI}-worker"]
    assert ready_nodes(crio_kit, kubeconfig, crio_multi) == nodes
    serve_and_resolve(crio_multi, crio_kit, kubeconfig, podman_engine, workload, nodes)


def test_crio_loaded_image_runs_without_pulling(
    crio_multi: nestkube.Cluster,
    crio_kit: KubernetesBinaries,
    kubeconfig: Path,
    podman_engine: PodmanProvider,
    tmp_path: Path,
) -> None:
    nodes = [f"{CRIO_MULTI}-control-plane", f"{CRIO_MULTI}-worker"]
    with busybox_loaded_into(podman_engine, tmp_path, "into-crio", marker="in-cri-o") as (
        tag,
        _,
    ):
        first = nk("load", "image", tag, "--name", CRIO_MULTI)
        assert "skipped" not in first.stderr
        out = run_pod_never_pull(crio_kit, kubeconfig, crio_multi, tag, nodes[1])
        assert out.strip() == "in-cri-o"
        second = nk("load", "image", tag, "--name", CRIO_MULTI)
        for node in nodes:
            assert f"image {tag} already present on node {node}, skipped" in second.stderr


def test_crio_export_logs(crio_multi: nestkube.Cluster, tmp_path: Path) -> None:
    out_dir = tmp_path / "logs"
    nk("export", "logs", str(out_dir), "--name", CRIO_MULTI)
    for node in (f"{CRIO_MULTI}-control-plane", f"{CRIO_MULTI}-worker"):
        assert "crio" in (out_dir / node / "crio.log").read_text()
        assert "registry.k8s.io/pause" in (out_dir / node / "crictl-images.txt").read_text()
        assert not (out_dir / node / "containerd.log").exists()


# --- delete ---------------------------------------------------------------------------------
def test_crio_delete_leaves_nothing(
    crio_single: nestkube.Cluster, crio_multi: nestkube.Cluster, kubeconfig: Path
) -> None:
    for name in (CRIO_SINGLE, CRIO_MULTI):
        nk(
            "delete",
            "cluster",
            "--name",
            name,
            "--provider",
            "podman",
            "--kubeconfig",
            str(kubeconfig),
        )
        assert engine_leftovers("podman", name) == {
            "containers": [],
            "volumes": [],
            "networks": [],
        }, name
