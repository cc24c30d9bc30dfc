"""Each node its own identity, images exactly as written, and no pod DNS leaving a cluster
without the DNS addon: real rootful Podman, one 1+2 cluster for the whole module.

- machine-id: fresh per node container at first boot, kept across `podman restart`; the image
  itself ships none. The kubelet reports it (machineID) and a system UUID of each node's own.
- An image from nestkube's archive writer with /tmp 1777 keeps the sticky bit when run.
- dnsAddon: false: no CoreDNS, and a pod's lookups go to its own loopback and fail at once.
"""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support import WORKLOAD_IMAGE, Kubectl, engine_leftovers, import_into_nodes, workload_archive

import nestkube
from nestkube.config import load_config
from nestkube.images.node_image import NodeImage
from nestkube.kit.kubernetes import KubernetesBinaries
from nestkube.providers.base import Provider, rlimit_args
from nestkube.providers.podman import PodmanProvider

NAME = "e2e-identity"
CONTROL_PLANE = f"{NAME}-control-plane"
WORKERS = [f"{NAME}-worker", f"{NAME}-worker2"]
NODES = [CONTROL_PLANE, *WORKERS]
MACHINE_ID = re.compile(r"[0-9a-f]{32}")
CONFIG = f"""\
kind: Cluster
apiVersion: nestkube.io/v1alpha1
name: {NAME}
dnsAddon: false
nodes: [{{role: control-plane}}, {{role: worker}}, {{role: worker}}]
"""
POD = f"""
apiVersion: v1
kind: Pod
metadata: {{name: probe, labels: {{role: probe}}}}
spec:
  nodeName: {WORKERS[0]}
  containers:
  - name: main
    image: {WORKLOAD_IMAGE}
    imagePullPolicy: Never
    command: ["sleep", "3600"]
"""


def run_podman(*args: str, timeout: float = 120) -> str:
    proc = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, f"podman {' '.join(args)}: {proc.stderr}{proc.stdout}"
    return proc.stdout


def in_node(node: str, *args: str) -> str:
    return run_podman("exec", node, *args).strip()


@pytest.fixture(scope="module")
def kubeconfig_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kube") / "config"


@pytest.fixture(scope="module")
def cluster(
    podman: Provider, podman_node_image: NodeImage, kubeconfig_file: Path, workload: Path
) -> Iterator[nestkube.Cluster]:
    def delete() -> None:
        nestkube.delete_cluster(NAME, provider="podman", kubeconfig_path=str(kubeconfig_file))

    delete()
    try:
        made = nestkube.create_cluster(
            load_config("identity.yaml", text=CONFIG),
            provider="podman",
            image=podman_node_image.image,
            kubeconfig_path=str(kubeconfig_file),
            status=nestkube.Status(verbosity=1),
        )
        import_into_nodes(podman, NODES, workload)
        yield made
    finally:
        delete()
    assert engine_leftovers("podman", NAME) == {"containers": [], "volumes": [], "networks": []}


@pytest.fixture(scope="module")
def kubectl(cluster: nestkube.Cluster, kit: KubernetesBinaries, kubeconfig_file: Path) -> Kubectl:
    return Kubectl(str(kit.path("kubectl")), kubeconfig_file, cluster.context)


def node_info(kubectl: Kubectl) -> dict[str, dict[str, Any]]:
    items = kubectl.json("get", "nodes")["items"]
    return {n["metadata"]["name"]: n["status"]["nodeInfo"] for n in items}


def run_args(engine: PodmanProvider) -> list[str]:
    """The runtime and rlimit flags this host needs for any container (see host-facts)."""
    return ["run", "--rm", *engine.runtime_args(), *rlimit_args(engine.info)]


def test_the_node_image_ships_no_machine_id(
    podman: PodmanProvider, podman_node_image: NodeImage
) -> None:
    image = podman_node_image.image
    out = run_podman(*run_args(podman), "--entrypoint", "cat", image, "/etc/machine-id")
    assert out == ""
    entrypoint = run_podman(
        "image", "inspect", "--format", "{{json .Config.Entrypoint}}", podman_node_image.image
    )
    assert entrypoint.strip() == '["/usr/local/bin/nestkube-entrypoint"]'


def test_three_nodes_three_machine_ids(cluster: nestkube.Cluster) -> None:
    ids = {node: in_node(node, "cat", "/etc/machine-id") for node in NODES}
    assert all(MACHINE_ID.fullmatch(i) for i in ids.values()), ids
    assert len(set(ids.values())) == 3, ids
    # The host's id is not any node's either.
    assert Path("/etc/machine-id").read_text().strip() not in ids.values()


def test_node_objects_report_each_nodes_own_ids(
    cluster: nestkube.Cluster, kubectl: Kubectl
) -> None:
    info = node_info(kubectl)
    assert sorted(info) == sorted(NODES)
    machine_ids = {n: i["machineID"] for n, i in info.items()}
    system_uuids = {n: i["systemUUID"] for n, i in info.items()}
    assert len(set(machine_ids.values())) == 3, machine_ids
    assert len(set(system_uuids.values())) == 3, system_uuids
    assert all(system_uuids.values()), system_uuids
    for node in NODES:
        assert machine_ids[node] == in_node(node, "cat", "/etc/machine-id")
        # With DMI the kubelet reads the product_uuid the entrypoint mounted over it; without
        # (this kind of VM has none) it falls back to the machine-id.
        has_dmi = in_node(node, "sh", "-c", "test -e /sys/class/dmi/id/product_uuid && echo y || :")
        own = in_node(node, "cat", "/etc/nestkube/product_uuid") if has_dmi else machine_ids[node]
        assert system_uuids[node].lower() == own.lower(), (node, system_uuids[node], own)


def test_an_image_written_by_nestkube_keeps_a_sticky_tmp(
    podman: PodmanProvider, tmp_path: Path
) -> None:
    tag = f"localhost/nestkube-e2e/sticky:{uuid.uuid4().hex[:8]}"
    archive = workload_archive(tmp_path / "sticky.tar", tag=tag)
    run_podman("load", "--input", str(archive))
    try:
        mode = run_podman(*run_args(podman), tag, "/bin/busybox", "stat", "-c", "%a %u", "/tmp")
        assert mode.split() == ["1777", "0"]
        # Writable by anyone: a user that owns nothing there can create a file.
        user = ["--user", "65534:65534"]
        run_podman(*run_args(podman), *user, tag, "/bin/busybox", "touch", "/tmp/x")
    finally:
        run_podman("rmi", "--force", tag)


def test_pods_without_dns_addon_resolve_nothing_and_keep_a_sticky_tmp(
    cluster: nestkube.Cluster, kubectl: Kubectl
) -> None:
    pods = kubectl.json("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns")["items"]
    assert pods == []
    assert kubectl("get", "service", "-n", "kube-system", "kube-dns", check=False).returncode != 0
    kubectl.apply(POD)
    kubectl.wait_pods_ready("role=probe")
    resolv = kubectl("exec", "probe", "--", "cat", "/etc/resolv.conf").stdout
    nameservers = [line.split()[1] for line in resolv.splitlines() if line.startswith("nameserver")]
    assert nameservers == ["127.0.0.1"], resolv
    # busybox's nslookup sends the query itself, to the nameserver of resolv.conf: refused on
    # the pod's loopback at once, instead of answered by whatever the node routes it to.
    for name in ("kubernetes.default", "example.com"):
        started = time.monotonic()
        lookup = kubectl("exec", "probe", "--", "busybox", "nslookup", name, check=False)
        output = lookup.stdout + lookup.stderr
        assert lookup.returncode != 0, output
        assert "write to '127.0.0.1': Connection refused" in output, output
        assert "no servers could be reached" in output, output
        assert time.monotonic() - started < 10, output
    tmp = kubectl("exec", "probe", "--", "busybox", "stat", "-c", "%a", "/tmp").stdout.strip()
    assert tmp == "1777"


def test_a_restarted_node_keeps_its_identity(cluster: nestkube.Cluster, kubectl: Kubectl) -> None:
    # Last in the module: the restart disturbs the node's pods.
    node = WORKERS[1]
    before = (
        in_node(node, "cat", "/etc/machine-id"),
        in_node(node, "cat", "/etc/nestkube/product_uuid"),
    )
    reported = node_info(kubectl)[node]
    restarted = datetime.now(UTC).replace(microsecond=0)
    run_podman("restart", node, timeout=180)
    after = (
        in_node(node, "cat", "/etc/machine-id"),
        in_node(node, "cat", "/etc/nestkube/product_uuid"),
    )
    assert after == before
    wait_for_heartbeat(kubectl, node, restarted)
    again = node_info(kubectl)[node]
    assert (again["machineID"], again["systemUUID"]) == (
        reported["machineID"],
        reported["systemUUID"],
    )


def wait_for_heartbeat(kubectl: Kubectl, node: str, since: datetime, timeout: float = 180) -> None:
    """Until the kubelet of the node's new boot has reported the node Ready."""
    deadline = time.monotonic() + timeout
    while True:
        conditions = kubectl.json("get", "node", node)["status"]["conditions"]
        ready = next(c for c in conditions if c["type"] == "Ready")
        beat = datetime.fromisoformat(ready["lastHeartbeatTime"].replace("Z", "+00:00"))
        if ready["status"] == "True" and beat > since:
            return
        assert time.monotonic() < deadline, f"{node} not reported Ready since {since}: {ready}"
        time.sleep(2)
