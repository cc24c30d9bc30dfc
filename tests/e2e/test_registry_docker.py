"""A registry on real rootful Docker: an image built on the host pushed with `docker push` to
its loopback port (Docker treats 127.0.0.0/8 registries as insecure already), a Deployment of
it Running on every node of a 1+2 cluster, the cluster and the registry deleted separately
leaving nothing."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from registry_support import spread
from support import WORKLOAD_IMAGE, Kubectl, engine_leftovers

import nestkube
from nestkube.config import default_config
from nestkube.images.node_image import NodeImage
from nestkube.kit.kubernetes import KubernetesBinaries
from nestkube.providers.docker import DockerProvider

CLUSTER = "nk25-dreg-c"
REGISTRY = "nk25-dreg"
PORT = 5027
APP = f"localhost:{PORT}/nk25/app:1"
NODES = [f"{CLUSTER}-control-plane", f"{CLUSTER}-worker", f"{CLUSTER}-worker2"]


def docker_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True)


@pytest.fixture(scope="module")
def kubeconfig_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kube") / "config"


@pytest.fixture(scope="module")
def registry(docker: DockerProvider, workload: Path) -> Iterator[str]:
    nestkube.delete_registry(REGISTRY, provider=docker)
    nestkube.create_registry(REGISTRY, port=PORT, provider=docker)
    docker_cli("load", "--input", str(workload))
    docker_cli("tag", WORKLOAD_IMAGE, APP)
    docker_cli("push", APP)
    yield REGISTRY
    subprocess.run(["docker", "rmi", APP], capture_output=True, check=False)  # the tag only
    assert nestkube.delete_registry(REGISTRY, provider=docker)
    left = docker_cli("ps", "-a", "-q", "--filter", f"name=^{REGISTRY}$").stdout.split()
    volumes = docker_cli("volume", "ls", "-q", "--filter", f"name={REGISTRY}-data").stdout
    assert (left, volumes.split()) == ([], [])


@pytest.fixture(scope="module")
def cluster(
    docker: DockerProvider,
    docker_node_image: NodeImage,
    kubeconfig_file: Path,
    registry: str,
) -> Iterator[nestkube.Cluster]:
    nestkube.delete_cluster(CLUSTER, provider="docker", kubeconfig_path=str(kubeconfig_file))
    made = nestkube.create_cluster(
        default_config(CLUSTER, workers=2).with_overrides(registries=[registry]),
        provider="docker",
        kubeconfig_path=str(kubeconfig_file),
        status=nestkube.Status(verbosity=1),
    )
    yield made
    nestkube.delete_cluster(CLUSTER, provider="docker", kubeconfig_path=str(kubeconfig_file))
    assert engine_leftovers("docker", CLUSTER) == {"containers": [], "volumes": [], "networks": []}
    (entry,) = [r for r in nestkube.list_registries(provider=docker) if r.name == registry]
    assert entry.clusters == ()


def test_an_image_pushed_with_docker_runs_on_every_node(
    cluster: nestkube.Cluster, kit: KubernetesBinaries, kubeconfig_file: Path
) -> None:
    kubectl = Kubectl(str(kit.path("kubectl")), kubeconfig_file, cluster.context)
    kubectl.apply(spread("app", APP, len(NODES)))
    kubectl.wait_pods_ready("app=app", count=len(NODES))
    pods = kubectl.json("get", "pods", "-l", "app=app")["items"]
    assert sorted(p["spec"]["nodeName"] for p in pods) == NODES
