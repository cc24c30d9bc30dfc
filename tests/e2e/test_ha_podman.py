"""Three control planes and a worker behind HAProxy, on real rootful Podman with the default
release: every node Ready, the joins overlapped `kubeadm init`, the API keeps answering from
the host through the load balancer while a control plane is stopped, the cluster survives
stop/start, and delete removes the load balancer with everything else."""

from __future__ import annotations

import io
import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import (
    Kubectl,
    engine_leftovers,
    eventually,
    import_into_nodes,
    nestkube_cli,
    web_manifest,
)

import nestkube
from nestkube.config import default_config
from nestkube.images.node_image import NodeImage
from nestkube.kit.kubernetes import KubernetesBinaries
from nestkube.lifecycle import wait_nodes_ready
from nestkube.providers.base import LABEL_API_PORT, Provider

CLUSTER = "e2e-ha11"
NETWORK = f"nestkube-{CLUSTER}"
LB = f"{CLUSTER}-external-load-balancer"
CONTROL_PLANES = [
    f"{CLUSTER}-control-plane",
    f"{CLUSTER}-control-plane2",
    f"{CLUSTER}-control-plane3",
]
WORKER = f"{CLUSTER}-worker"
NODES = [*CONTROL_PLANES, WORKER]


@dataclass
class HA:
    cluster: nestkube.Cluster
    kubectl: Kubectl
    progress: str
    seconds: float


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [nestkube_cli(), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def ready_nodes(kubectl: Kubectl) -> dict[str, bool]:
    items = kubectl.json("get", "nodes")["items"]
    return {
        n["metadata"]["name"]: any(
            c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"]
        )
        for n in items
    }


def answers(kubectl: Kubectl, timeout: float = 60) -> list[str]:
    """Node names from `kubectl get nodes` on the host: the first answer within ``timeout``
    (the load balancer takes a stopped control plane out after two failed checks, 2 s)."""
    deadline = time.monotonic() + timeout
    while True:
        res = kubectl(
            "get", "nodes", "-o", "name", "--request-timeout=10s", check=False, timeout=30
        )
        if res.returncode == 0:
            return sorted(line.removeprefix("node/") for line in res.stdout.split())
        assert time.monotonic() < deadline, f"the API did not answer: {res.stderr}"
        time.sleep(1)


@pytest.fixture(scope="module")
def ha(
    podman: Provider,
    podman_node_image: NodeImage,
    kit: KubernetesBinaries,
    workload: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[HA]:
    kube = tmp_path_factory.mktemp("kube") / "config"
    nestkube.delete_cluster(CLUSTER, provider="podman", kubeconfig_path=str(kube))
    stream = io.StringIO()
    began = time.monotonic()
    made = nestkube.create_cluster(
        default_config(CLUSTER, control_planes=3, workers=1),
        provider="podman",
        kubeconfig_path=str(kube),
        status=nestkube.Status(verbosity=1, stream=stream),
    )
    seconds = time.monotonic() - began
    overlap = [line.strip() for line in stream.getvalue().splitlines() if "began joining" in line]
    print(f"\n3+1 create took {seconds:.1f}s; {overlap}; steps: {made.timings}")
    import_into_nodes(podman, NODES, workload)
    yield HA(
        made, Kubectl(str(kit.path("kubectl")), kube, made.context), stream.getvalue(), seconds
    )
    nestkube.delete_cluster(CLUSTER, provider="podman", kubeconfig_path=str(kube))


def test_three_control_planes_and_a_worker_are_ready_behind_the_load_balancer(
    ha: HA, podman: Provider
) -> None:
    assert ready_nodes(ha.kubectl) == dict.fromkeys(NODES, True)
    # The host's kubeconfig goes through the load balancer's published port.
    lb = next(n for n in podman.list_nodes(CLUSTER) if n.name == LB)
    server = ha.kubectl(
        "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"
    )
    assert server.stdout == f"https://127.0.0.1:{lb.labels[LABEL_API_PORT]}"
    listed = json.loads(
        cli("get", "nodes", "--name", CLUSTER, "--provider", "podman", "-o", "json").stdout
    )
    roles = {n["name"]: n["role"] for n in listed}
    assert roles == {
        **dict.fromkeys(CONTROL_PLANES, "control-plane"),
        WORKER: "worker",
        LB: "external-load-balancer",
    }
    # Three etcd members, and the API servers of all three behind the load balancer.
    etcd_nodes = eventually(
        lambda: sorted(
            p["spec"]["nodeName"]
            for p in ha.kubectl.json("get", "pods", "-n", "kube-system", "-l", "component=etcd")[
                "items"
            ]
        ),
        lambda nodes: nodes == CONTROL_PLANES,
        what="an etcd pod on every control plane",
    )
    assert etcd_nodes == CONTROL_PLANES
    haproxy = podman.exec(LB, ["cat", "/etc/haproxy/haproxy.cfg"]).stdout
    for name in CONTROL_PLANES:
        assert f"server {name} {podman.node_ip(name, NETWORK)}:6443" in haproxy


def test_joins_overlapping_init_still_make_a_healthy_cluster(ha: HA) -> None:
    # The joins started while kubeadm init was still running (its addons, at least).
    began = re.search(r"nodes began joining ([0-9.]+)s before kubeadm init", ha.progress)
    assert began is not None and float(began.group(1)) > 0, ha.progress
    # The addons installed beside the joins are there and run on every node.
    proxies = eventually(
        lambda: ha.kubectl.json("get", "daemonset", "-n", "kube-system", "kube-proxy")["status"],
        lambda status: status.get("numberReady") == len(NODES),
        what="kube-proxy Ready on every node",
    )
    assert proxies["numberReady"] == proxies["desiredNumberScheduled"] == len(NODES)
    ha.kubectl.wait_pods_ready("k8s-app=kube-dns", namespace="kube-system")


def test_the_api_answers_with_a_control_plane_stopped(ha: HA, podman: Provider) -> None:
    stopped = CONTROL_PLANES[0]  # the one kubeadm init ran on
    subprocess.run(["podman", "stop", "--time", "30", stopped], check=True, timeout=120)
    try:
        assert answers(ha.kubectl) == sorted(NODES)
        ha.kubectl.apply(web_manifest(replicas=1, service=False))
        ha.kubectl.wait_pods_ready("app=web", timeout=240)
    finally:
        since = time.time()
        subprocess.run(["podman", "start", stopped], check=True, timeout=120)
    # Ready again: the restarted kubelet has reported since it came back.
    wait_nodes_ready(podman, CONTROL_PLANES[1], NODES, since, 240)
    assert ready_nodes(ha.kubectl) == dict.fromkeys(NODES, True)


def test_stop_and_start_cluster_keep_the_load_balancer_in_front(ha: HA) -> None:
    stopped = cli("stop", "cluster", "--name", CLUSTER, "--provider", "podman")
    assert stopped.returncode == 0, stopped.stderr
    assert ha.kubectl("get", "nodes", check=False, timeout=30).returncode != 0
    started = cli("start", "cluster", "--name", CLUSTER, "--provider", "podman", "--wait", "5m")
    assert started.returncode == 0, started.stderr
    assert answers(ha.kubectl) == sorted(NODES)
    assert ready_nodes(ha.kubectl) == dict.fromkeys(NODES, True)
    ha.kubectl.wait_pods_ready("app=web", timeout=240)


def test_delete_removes_the_load_balancer_too(ha: HA) -> None:
    kube = ha.kubectl.kubeconfig
    assert nestkube.delete_cluster(CLUSTER, provider="podman", kubeconfig_path=str(kube))
    assert engine_leftovers("podman", CLUSTER) == {"containers": [], "volumes": [], "networks": []}
