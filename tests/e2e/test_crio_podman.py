"""CRI-O nodes on real Podman: nodes that run CRI-O v1.34 (built from its Go module) instead
of containerd, at the newest Kubernetes release that has a CRI-O the module proxy serves
(kit/releases.CRIO_KUBERNETES).

What only CRI-O's clusters are checked for: the image's labels, a 1+1 cluster serving a
Deployment behind a Service by DNS name to a pod on every node, and CRI-O's logs in export
logs. Its clusters are the shared ones (support.SharedClusters, variant "crio"); the scenarios
every engine runs (a single node's Service by DNS name, a loaded image run without pulling,
delete leaving nothing) are in their own modules.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import (
    VARIANTS,
    WORKLOAD_IMAGE,
    SharedClusters,
    assert_cluster_dns,
    nk,
    ready_nodes,
    scenario_kubectl,
    uses,
    web_manifest,
)

from nestkube.images.node_image import (
    LABEL_COMPONENTS,
    LABEL_RUNTIME,
    NodeImage,
    parse_components_label,
)
from nestkube.kit.releases import CRIO_KUBERNETES
from nestkube.providers.podman import PodmanProvider

pytestmark = pytest.mark.e2e

CRIO = VARIANTS["crio"]


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


def test_crio_node_image_says_what_it_runs(
    crio_image: NodeImage, podman_engine: PodmanProvider
) -> None:
    assert crio_image.image.endswith(f"{CRIO_KUBERNETES}-crio")
    labels = podman_engine.image_labels(crio_image.image)
    assert labels[LABEL_RUNTIME] == "cri-o"
    components = parse_components_label(labels[LABEL_COMPONENTS])
    assert components["cri-o"] == "v1.34.0" and components["conmon"]
    assert any("/pause:" in ref for ref in crio_image.preloaded)


@uses("crio-multi")
def test_crio_two_nodes_serve_a_service_to_every_node(
    request: pytest.FixtureRequest,
    shared_clusters: SharedClusters,
    podman_engine: PodmanProvider,
    workload: Path,
) -> None:
    """The workload archive loaded through `nestkube load archive` (skopeo into CRI-O's
    store), then web behind a Service, asked by DNS name from a client pod on every node."""
    cluster = shared_clusters.get(request, CRIO, "multi")
    kubectl = scenario_kubectl(request, CRIO, cluster, shared_clusters.kubeconfig)
    nodes = [f"{CRIO.multi}-control-plane", f"{CRIO.multi}-worker"]
    assert ready_nodes(kubectl) == nodes
    nk("load", "archive", str(workload), "--name", cluster.name)
    for node in kubectl.json("get", "nodes")["items"]:
        runtime = node["status"]["nodeInfo"]["containerRuntimeVersion"]
        assert runtime.startswith("cri-o://1.34."), runtime
    # Names resolve once CoreDNS is Ready (it serves only after syncing with the API).
    kubectl.wait_pods_ready("k8s-app=kube-dns", namespace="kube-system")
    kubectl.apply(web_manifest(replicas=2) + clients(nodes))
    kubectl.wait_pods_ready("app=web", count=2)
    kubectl.wait_pods_ready("role=client")
    pods = {p["metadata"]["name"] for p in kubectl.json("get", "pods", "-l", "app=web")["items"]}
    assert_cluster_dns(
        kubectl, podman_engine, {f"client-{i}": n for i, n in enumerate(nodes)}, "web", pods
    )


@uses("crio-multi")
def test_crio_export_logs(
    request: pytest.FixtureRequest, shared_clusters: SharedClusters, tmp_path: Path
) -> None:
    shared_clusters.get(request, CRIO, "multi")
    out_dir = tmp_path / "logs"
    nk("export", "logs", str(out_dir), "--name", CRIO.multi)
    for node in (f"{CRIO.multi}-control-plane", f"{CRIO.multi}-worker"):
        assert "crio" in (out_dir / node / "crio.log").read_text()
        assert "registry.k8s.io/pause" in (out_dir / node / "crictl-images.txt").read_text()
        assert not (out_dir / node / "containerd.log").exists()
