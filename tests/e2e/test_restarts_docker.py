"""`docker restart` of a node of a 1+1 cluster on real Docker (default release): the node keeps
its pinned address, its agent puts the routes back, and within 60 s the pods on the two nodes
reach each other by pod IP, Service ``hello`` answers from both nodes and by its DNS name, and
the API answers from the host on the same kubeconfig entry."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from restarts import (
    BACK_WITHIN,
    HELLO_SERVICE,
    hello_pod,
    settled_network_problems,
    wait_back,
)
from support import Kubectl, import_into_nodes

import nestkube
from nestkube.config import default_config
from nestkube.images.node_image import NodeImage
from nestkube.kit.kubernetes import KubernetesBinaries
from nestkube.providers.docker import DockerProvider

pytestmark = pytest.mark.e2e

CLUSTER = "e2e-netd-dk"
NODES = [f"{CLUSTER}-control-plane", f"{CLUSTER}-worker"]
NETWORK = f"nestkube-{CLUSTER}"


@pytest.fixture(scope="module")
def kubectl(
    docker: DockerProvider,
    docker_node_image: NodeImage,
    kit: KubernetesBinaries,
    workload: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Kubectl]:
    kube = tmp_path_factory.mktemp("kube") / "config"
    nestkube.delete_cluster(CLUSTER, provider="docker", kubeconfig_path=str(kube))
    made = nestkube.create_cluster(
        default_config(CLUSTER, workers=1),
        provider="docker",
        kubeconfig_path=str(kube),
        status=nestkube.Status(verbosity=1),
    )
    try:
        import_into_nodes(docker, NODES, workload)
        client = Kubectl(str(kit.path("kubectl")), kube, made.context)
        client.apply(hello_pod("hello-a", NODES[0]))
        client.apply(hello_pod("hello-b", NODES[1]))
        client.apply(HELLO_SERVICE)
        yield client
    finally:
        nestkube.delete_cluster(CLUSTER, provider="docker", kubeconfig_path=str(kube))


@pytest.mark.parametrize("node", NODES[::-1], ids=["worker", "control-plane"])
def test_docker_restart_of_a_node_is_back_within_a_minute(
    kubectl: Kubectl, docker: DockerProvider, node: str
) -> None:
    kubectl.wait_pods_ready("app=hello")
    assert settled_network_problems(kubectl, docker, NODES) == []
    policy = subprocess.run(
        [docker.info.binary, "inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", node],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    assert policy == "unless-stopped"
    address = docker.node_ip(node, NETWORK)
    server = kubectl("config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}")
    since, began = time.time(), time.monotonic()
    subprocess.run([docker.info.binary, "restart", node], check=True, timeout=120)
    took = wait_back(kubectl, docker, NODES, since, began)
    print(f"docker restart of {node}: back in {took:.1f}s")
    assert took <= BACK_WITHIN, f"back only after {took:.0f}s"
    assert docker.node_ip(node, NETWORK) == address
    again = kubectl("config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}")
    assert again.stdout == server.stdout
