"""The kind-format node image on real rootful Podman: its labels and /kind files, a single-node
cluster made by the real kind v0.33.0 (built from its Go module) and one made by nestkube, both
from the same image, each Ready with a pod running, and both deleted without leftovers."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import Kubectl, engine_leftovers, import_into_nodes, web_manifest

import nestkube
from nestkube.config import default_config
from nestkube.images.kind_format import (
    KIND_CONTRACT,
    LABEL_KIND_GAPS,
    POD_NETWORK_IMAGE,
    build_kind_image,
    is_kind_format,
)
from nestkube.images.node_image import (
    LABEL_COMPONENTS,
    LABEL_PRELOADED,
    NodeImage,
    parse_components_label,
)
from nestkube.kit.kind_tool import ensure_kind, kind_setup, prepare_host
from nestkube.kit.kubernetes import KubernetesBinaries
from nestkube.providers.base import Provider, rlimit_args
from nestkube.providers.engine import CliProvider
from nestkube.status import Status

KIND_CLUSTER = "e2e-k10-kind"
NESTKUBE_CLUSTER = "e2e-k10-nkkind"


@pytest.fixture(scope="module")
def kind_image(podman: Provider, podman_node_image: NodeImage) -> NodeImage:
    return build_kind_image(podman, podman_node_image.image, status=Status(verbosity=1))


def _cat(podman: Provider, image: str, path: str) -> str:
    assert isinstance(podman, CliProvider)
    # The engine's default runtime and rlimits do not work on every host; the nodes' do.
    flags = [*podman.runtime_args(), *rlimit_args(podman.info)]
    return subprocess.run(
        [podman.info.binary, "run", "--rm", *flags, "--entrypoint", "cat", image, path],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout


def test_image_records_its_format_and_holds_kinds_files(
    podman: Provider, kind_image: NodeImage, kit: KubernetesBinaries
) -> None:
    labels = podman.image_labels(kind_image.image)
    assert is_kind_format(labels)
    assert labels["io.nestkube.kind-contract"] == KIND_CONTRACT
    assert "kindnetd" in labels[LABEL_KIND_GAPS]
    components = parse_components_label(labels[LABEL_COMPONENTS])
    for name in ("kubernetes", "containerd", "runc", "cni-plugins", "crictl", "etcd", "coredns"):
        assert components.get(name), name
    assert components["kubernetes"] == kit.version
    assert POD_NETWORK_IMAGE in labels[LABEL_PRELOADED].split(",")
    assert _cat(podman, kind_image.image, "/kind/version").strip() == kit.version
    cni = _cat(podman, kind_image.image, "/kind/manifests/default-cni.yaml")
    assert POD_NETWORK_IMAGE in cni
    storage = _cat(podman, kind_image.image, "/kind/manifests/default-storage.yaml")
    assert "StorageClass" in storage


def _all_ready(kubectl: Kubectl, nodes: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    query = '{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}'
    while True:
        states = kubectl("get", "nodes", "-o", f"jsonpath={query}", check=False).stdout.split()
        if len(states) == nodes and set(states) == {"True"}:
            return
        assert time.monotonic() < deadline, f"nodes not Ready: {states}"
        time.sleep(1)


def _pod_runs(kubectl: Kubectl) -> None:
    kubectl.apply(web_manifest(replicas=1, service=False))
    kubectl.wait_pods_ready("app=web")
    pod = kubectl.json("get", "pods", "-l", "app=web")["items"][0]
    # An address from the pod network, not the node's: the CNI really set it up.
    assert pod["status"]["podIP"] != pod["status"]["hostIP"]


@pytest.fixture(scope="module")
def kind_cluster(
    podman: Provider, kind_image: NodeImage, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, dict[str, str], Path]]:
    kind = ensure_kind(Status(verbosity=1))
    work = tmp_path_factory.mktemp("kind")
    setup = kind_setup(podman.info, work)
    prepare_host()
    env = {**os.environ, **setup.env}
    kubeconfig = work / "kubeconfig"
    config = work / "kind.yaml"
    config.write_text(setup.config())

    def kind_cmd(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(kind), *args], env=env, capture_output=True, text=True, timeout=timeout
        )

    kind_cmd("delete", "cluster", "--name", KIND_CLUSTER, "--kubeconfig", str(kubeconfig))
    made = kind_cmd(
        "create", "cluster", "--name", KIND_CLUSTER, "--image", kind_image.image,
        "--config", str(config), "--kubeconfig", str(kubeconfig), "--wait", "5m",
        timeout=600,
    )  # fmt: skip
    try:
        assert made.returncode == 0, made.stdout + made.stderr
        yield kind, env, kubeconfig
    finally:
        gone = kind_cmd(
            "delete", "cluster", "--name", KIND_CLUSTER, "--kubeconfig", str(kubeconfig)
        )
        assert gone.returncode == 0, gone.stderr
    assert engine_leftovers("podman", KIND_CLUSTER)["containers"] == []


def test_real_kind_boots_the_image(
    kind_cluster: tuple[Path, dict[str, str], Path],
    podman: Provider,
    kit: KubernetesBinaries,
    workload: Path,
) -> None:
    _, _, kubeconfig = kind_cluster
    kubectl = Kubectl(str(kit.path("kubectl")), kubeconfig, f"kind-{KIND_CLUSTER}")
    _all_ready(kubectl, 1)
    version = kubectl.json("get", "nodes")["items"][0]["status"]["nodeInfo"]["kubeletVersion"]
    assert version == kit.version
    # kind applied the image's manifests: our pod network and the default StorageClass.
    kubectl.wait_pods_ready("app=nestkube-pod-network", namespace="kube-system")
    classes = kubectl.json("get", "storageclass")["items"]
    assert [c["metadata"]["name"] for c in classes] == ["standard"]
    import_into_nodes(podman, [f"{KIND_CLUSTER}-control-plane"], workload)
    _pod_runs(kubectl)


def test_nestkube_boots_the_image(
    podman: Provider, kind_image: NodeImage, kit: KubernetesBinaries, workload: Path, tmp_path: Path
) -> None:
    kube = tmp_path / "config"
    nestkube.delete_cluster(NESTKUBE_CLUSTER, provider="podman", kubeconfig_path=str(kube))
    try:
        made = nestkube.create_cluster(
            default_config(NESTKUBE_CLUSTER),
            image=kind_image.image,
            provider="podman",
            kubeconfig_path=str(kube),
            status=nestkube.Status(verbosity=1),
        )
        kubectl = Kubectl(str(kit.path("kubectl")), kube, made.context)
        _all_ready(kubectl, 1)
        import_into_nodes(podman, [f"{NESTKUBE_CLUSTER}-control-plane"], workload)
        _pod_runs(kubectl)
    finally:
        nestkube.delete_cluster(NESTKUBE_CLUSTER, provider="podman", kubeconfig_path=str(kube))
    assert engine_leftovers("podman", NESTKUBE_CLUSTER) == {
        "containers": [],
        "volumes": [],
        "networks": [],
    }
