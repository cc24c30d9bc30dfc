"""A v1.34 cluster on real Podman: the kubeadm v1beta3 band, initialised by its own kubeadm.

The default release (v1.37.2, kubeadm v1beta4) is covered by test_cluster_podman.py; this
module builds a second kit from the k8s.io/kubernetes module at v1.34.4 with the runtime pinned
for v1.34 (containerd 2.1), etcd and CoreDNS at the versions kubeadm v1.34.4 names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support import (
    Kubectl,
    assert_cluster_dns,
    engine_leftovers,
    fetched,
    import_into_nodes,
    web_manifest,
)

import nestkube
from nestkube.config import default_config
from nestkube.images.node_image import (
    LABEL_COMPONENTS,
    LABEL_MISSING,
    NodeImage,
    build_node_image,
    parse_components_label,
)
from nestkube.kit import releases
from nestkube.kit.kubernetes import KubernetesBinaries, build_from_modules
from nestkube.kubeadm.version import KUBEADM_V1BETA3, kubeadm_api_version
from nestkube.providers.base import Provider
from nestkube.status import Status

VERSION = "v1.34.4"
NAME = "e2e-v134"

WEB = web_manifest(replicas=1)


@pytest.fixture(scope="module")
def kit_134(progress: Status) -> KubernetesBinaries:
    return build_from_modules(VERSION, progress)


@pytest.fixture(scope="module")
def image_134(podman: Provider, kit_134: KubernetesBinaries, progress: Status) -> NodeImage:
    return build_node_image(podman, kit_134, pull_missing=False, status=progress)


@pytest.fixture(scope="module")
def cluster_134(
    podman: Provider,
    image_134: NodeImage,
    tmp_path_factory: pytest.TempPathFactory,
    workload: Path,
) -> Iterator[tuple[nestkube.Cluster, Path]]:
    kubeconfig = tmp_path_factory.mktemp("kube") / "config"
    nestkube.delete_cluster(NAME, provider="podman", kubeconfig_path=str(kubeconfig))
    cluster = nestkube.create_cluster(
        default_config(NAME),
        provider="podman",
        image=image_134.image,
        kubeconfig_path=str(kubeconfig),
        status=Status(verbosity=1),
    )
    try:
        import_into_nodes(podman, [n.name for n in cluster.nodes], workload)
        yield cluster, kubeconfig
    finally:
        nestkube.delete_cluster(NAME, provider="podman", kubeconfig_path=str(kubeconfig))
    assert engine_leftovers("podman", NAME) == {"containers": [], "volumes": [], "networks": []}


def test_v1_34_image_holds_its_own_components(podman: Provider, image_134: NodeImage) -> None:
    labels = podman.image_labels(image_134.image)
    components = parse_components_label(labels[LABEL_COMPONENTS])
    runtime = releases.runtime_for(VERSION)
    assert components["kubernetes"] == VERSION
    assert components["containerd"] == runtime.containerd
    assert components["runc"] == runtime.runc
    # Exactly the versions kubeadm v1.34.4 names, nothing missing.
    assert components["etcd"] == "v3.6.5"
    assert components["coredns"] == "v1.12.1"
    assert labels[LABEL_MISSING] == ""


def test_v1_34_cluster_is_initialised_by_its_kubeadm_with_v1beta3(
    cluster_134: tuple[nestkube.Cluster, Path], kit_134: KubernetesBinaries, podman: Provider
) -> None:
    cluster, kubeconfig = cluster_134
    node = cluster.nodes[0].name
    assert kubeadm_api_version(VERSION) == KUBEADM_V1BETA3
    rendered = podman.exec(node, ["cat", "/etc/nestkube/kubeadm.yaml"]).stdout
    api_versions = {d["apiVersion"] for d in yaml.safe_load_all(rendered) if d}
    assert KUBEADM_V1BETA3 in api_versions, api_versions
    # kubeadm stored the configuration it really used in the cluster.
    kubectl = Kubectl(str(kit_134.path("kubectl")), kubeconfig, cluster.context)
    server = kubectl.json("version")["serverVersion"]
    assert server["gitVersion"] == VERSION
    info = kubectl.json("get", "nodes")["items"][0]["status"]["nodeInfo"]
    assert info["kubeletVersion"] == VERSION
    assert info["containerRuntimeVersion"] == (
        f"containerd://{releases.runtime_for(VERSION).containerd.lstrip('v')}"
    )

    kubectl.apply(WEB)
    kubectl.wait_pods_ready("app=web")
    pod = kubectl.json("get", "pods", "-l", "app=web")["items"][0]["metadata"]["name"]
    svc_ip = kubectl.json("get", "service", "web")["spec"]["clusterIP"]
    assert fetched(kubectl, pod, f"http://{svc_ip}").strip() == pod
    kubectl.wait_pods_ready("k8s-app=kube-dns", namespace="kube-system")
    assert_cluster_dns(kubectl, podman, {pod: node}, "web", {pod})
