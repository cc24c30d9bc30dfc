"""`nestkube stop cluster` / `start cluster` on real rootful Podman with the default release:
stop keeps every container, volume and kubeconfig entry; start brings the same cluster back
on the same kubeconfig entry, its node Ready and a Deployment's pod Running again."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import (
    WORKLOAD_IMAGE,
    Kubectl,
    engine_leftovers,
    import_into_nodes,
    nestkube_cli,
    web_manifest,
)

import nestkube
from nestkube import kubeconfig
from nestkube.cluster import start_cluster, stop_cluster
from nestkube.config import default_config
from nestkube.images.node_image import NodeImage
from nestkube.kit.kubernetes import KubernetesBinaries
from nestkube.providers.base import Provider

CLUSTER = "e2e-h5-stopstart"
NODE = f"{CLUSTER}-control-plane"

DEPLOYMENT = web_manifest(replicas=1, service=False)


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [nestkube_cli(), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def listed(name: str) -> dict[str, object]:
    res = cli("get", "clusters", "-o", "json", "--provider", "podman")
    assert res.returncode == 0, res.stderr
    return next(c for c in json.loads(res.stdout) if c["name"] == name)


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kube") / "config"


@pytest.fixture(scope="module")
def cluster(
    podman: Provider, podman_node_image: NodeImage, kube: Path, workload: Path
) -> Iterator[nestkube.Cluster]:
    nestkube.delete_cluster(CLUSTER, provider="podman", kubeconfig_path=str(kube))
    made = nestkube.create_cluster(
        default_config(CLUSTER),
        provider="podman",
        kubeconfig_path=str(kube),
        status=nestkube.Status(verbosity=1),
    )
    import_into_nodes(podman, [NODE], workload)
    yield made
    nestkube.delete_cluster(CLUSTER, provider="podman", kubeconfig_path=str(kube))
    assert engine_leftovers("podman", CLUSTER) == {"containers": [], "volumes": [], "networks": []}


def test_stop_then_start_brings_the_same_cluster_back(
    cluster: nestkube.Cluster, podman: Provider, kit: KubernetesBinaries, kube: Path
) -> None:
    kubectl = Kubectl(str(kit.path("kubectl")), kube, cluster.context)
    kubectl.apply(DEPLOYMENT)
    kubectl.wait_pods_ready("app=web")
    address = podman.node_ip(NODE, f"nestkube-{CLUSTER}")
    server = kubectl("config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}")
    assert listed(CLUSTER)["state"] == "running"

    stopped = cli("stop", "cluster", "--name", CLUSTER, "--provider", "podman")
    assert stopped.returncode == 0, stopped.stderr
    # Everything stays: the container (stopped), its volume, the network, the kubeconfig entry.
    left = engine_leftovers("podman", CLUSTER)
    assert left["containers"] and left["volumes"] and left["networks"], left
    assert listed(CLUSTER)["state"] == "stopped"
    text = cli("get", "clusters", "--provider", "podman").stdout.splitlines()
    assert [CLUSTER, "stopped"] in [line.split() for line in text], text
    assert kubeconfig.has_entries(CLUSTER, str(kube))
    assert kubectl("get", "nodes", check=False, timeout=30).returncode != 0

    began = time.monotonic()
    started = cli("start", "cluster", "--name", CLUSTER, "--provider", "podman", "--wait", "3m")
    assert started.returncode == 0, started.stderr
    took = time.monotonic() - began
    assert took < 180, f"start took {took:.0f}s"

    # The same kubeconfig entry answers; the node kept its address, and is Ready.
    again = kubectl("config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}")
    assert again.stdout == server.stdout
    assert podman.node_ip(NODE, f"nestkube-{CLUSTER}") == address
    node = kubectl.json("get", "node", NODE)
    ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}
    assert ready["Ready"] == "True"
    assert listed(CLUSTER)["state"] == "running"
    # The Deployment's pod runs again (its container restarted on the same node).
    kubectl.wait_pods_ready("app=web", timeout=180)
    pods = kubectl.json("get", "pods", "-l", "app=web")["items"]
    assert [p["status"]["phase"] for p in pods] == ["Running"]
    # And the API still schedules new work.
    kubectl("scale", "deployment", "web", "--replicas=2")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pods = kubectl.json("get", "pods", "-l", "app=web")["items"]
        if len(pods) == 2 and all(p["status"]["phase"] == "Running" for p in pods):
            break
        time.sleep(2)
    assert len(pods) == 2 and all(p["status"]["phase"] == "Running" for p in pods), pods


def test_stop_and_start_of_unknown_or_empty_names(cluster: nestkube.Cluster) -> None:
    for verb in ("stop", "start"):
        res = cli(verb, "cluster", "--name", "e2e-h5-absent", "--provider", "podman")
        assert res.returncode == 1
        assert res.stderr.strip().splitlines() == ["ERROR: no cluster named 'e2e-h5-absent'"]
        res = cli(verb, "clusters", " ", "--provider", "podman")
        assert res.returncode == 1
        assert res.stderr.strip().splitlines() == [
            "ERROR: invalid cluster name ' ': a cluster name cannot be empty"
        ]
    assert listed(CLUSTER)["state"] == "running"


MULTI = "e2e-h5-stopstart2"


def server_pod(name: str, node: str) -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{role: {name}}}}}
spec:
  nodeName: {node}
  containers:
  - name: main
    image: {WORKLOAD_IMAGE}
    imagePullPolicy: Never
    command: ["sh", "-c", "hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
    readinessProbe: {{tcpSocket: {{port: 8080}}, periodSeconds: 1}}
"""


def assert_pods_reach_each_other(kubectl: Kubectl, pods: list[str]) -> None:
    for pod in pods:
        kubectl.wait_pods_ready(f"role={pod}")
    ips = {p: kubectl.json("get", "pod", p)["status"]["podIP"] for p in pods}
    for client in pods:
        for target, ip in ips.items():
            if target == client:
                continue
            reply = kubectl(
                "exec", client, "--", "wget", "-q", "-O-", f"http://{ip}:8080", timeout=30
            )
            assert reply.stdout.strip() == target, (client, target, reply.stdout)


def test_two_nodes_reach_each_others_pods_after_stop_and_start(
    podman: Provider,
    podman_node_image: NodeImage,
    kit: KubernetesBinaries,
    tmp_path: Path,
    workload: Path,
) -> None:
    kube = tmp_path / "config"
    nestkube.delete_cluster(MULTI, provider="podman", kubeconfig_path=str(kube))
    try:
        made = nestkube.create_cluster(
            default_config(MULTI, workers=1), provider="podman", kubeconfig_path=str(kube)
        )
        names = [n.name for n in made.nodes]
        import_into_nodes(podman, names, workload)
        kubectl = Kubectl(str(kit.path("kubectl")), kube, made.context)
        pods = []
        for i, node_name in enumerate(names):
            kubectl.apply(server_pod(f"web{i}", node_name))
            pods.append(f"web{i}")
        assert_pods_reach_each_other(kubectl, pods)
        addresses = {n: podman.node_ip(n, f"nestkube-{MULTI}") for n in names}

        stop_cluster(MULTI, provider="podman")
        assert listed(MULTI)["state"] == "stopped"
        start_cluster(MULTI, provider="podman", wait=180)

        assert {n: podman.node_ip(n, f"nestkube-{MULTI}") for n in names} == addresses
        # The routes between nodes, lost with each container's network namespace, are back.
        assert_pods_reach_each_other(kubectl, pods)
    finally:
        nestkube.delete_cluster(MULTI, provider="podman", kubeconfig_path=str(kube))
    assert engine_leftovers("podman", MULTI) == {"containers": [], "volumes": [], "networks": []}
