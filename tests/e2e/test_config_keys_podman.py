"""Config keys that once parsed and did nothing, on real rootful Podman: each now either shows
its effect in a running cluster or is refused with exit 1 and one line, leaving nothing."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import (
    WORKLOAD_IMAGE,
    Kubectl,
    claim_manifest,
    claim_pod,
    engine_leftovers,
    import_into_nodes,
    nestkube_cli,
)

import nestkube
from nestkube.config import load_config
from nestkube.images.node_image import NodeImage
from nestkube.kit.kubernetes import KubernetesBinaries
from nestkube.providers.base import Provider

CLUSTER = "e2e-h5-keys"
NODE = f"{CLUSTER}-control-plane"
NOFILE, NPROC = 12288, 16384
DOMAINS = ("e2e-h5.example", "corp.e2e-h5.example")

CONFIG = f"""\
kind: Cluster
apiVersion: nestkube.io/v1alpha1
name: {CLUSTER}
ulimits: {{nofile: {NOFILE}, nproc: {NPROC}}}
loadBalancerServices: false
networking:
  dnsSearch: [{", ".join(DOMAINS)}]
"""

HEAD = "kind: Cluster\napiVersion: nestkube.io/v1alpha1\nname: e2e-h5-refused\n"
# key -> (the document's body after HEAD, the start of the one error line after the path)
REFUSED = {
    "ipv6": ("networking: {ipFamily: ipv6}\n", "networking.ipFamily: ipv6 is not supported yet"),
    "dual": ("networking: {ipFamily: dual}\n", "networking.ipFamily: dual is not supported yet"),
    "dropCapabilities": (
        "dropCapabilities: [CAP_SYS_MODULE]\n",
        "dropCapabilities: not supported yet",
    ),
    "imageBuild": ("imageBuild: {kubernetesVersion: v1.37.2}\n", "imageBuild: not supported yet"),
}


@pytest.fixture(scope="module")
def kubeconfig_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kube") / "config"


@pytest.fixture(scope="module")
def cluster(
    podman: Provider, podman_node_image: NodeImage, kubeconfig_file: Path, workload: Path
) -> Iterator[nestkube.Cluster]:
    nestkube.delete_cluster(CLUSTER, provider="podman", kubeconfig_path=str(kubeconfig_file))
    made = nestkube.create_cluster(
        load_config("keys.yaml", text=CONFIG),
        provider="podman",
        kubeconfig_path=str(kubeconfig_file),
        status=nestkube.Status(verbosity=1),
    )
    import_into_nodes(podman, [NODE], workload)
    yield made
    nestkube.delete_cluster(CLUSTER, provider="podman", kubeconfig_path=str(kubeconfig_file))
    assert engine_leftovers("podman", CLUSTER) == {"containers": [], "volumes": [], "networks": []}


def limit(limits: str, name: str) -> tuple[str, str]:
    line = next(ln for ln in limits.splitlines() if ln.startswith(name))
    soft, hard = line[len(name) :].split()[:2]
    return soft, hard


def test_ulimits_are_the_node_limits(cluster: nestkube.Cluster, podman: Provider) -> None:
    # PID 1 is the node's systemd: everything in the node, the kubelet included, starts below it.
    limits = podman.exec(NODE, ["cat", "/proc/1/limits"]).stdout
    assert limit(limits, "Max open files") == (str(NOFILE), str(NOFILE))
    assert limit(limits, "Max processes") == (str(NPROC), str(NPROC))
    assert podman.exec(NODE, ["sh", "-c", "ulimit -n"]).stdout.strip() == str(NOFILE)


def test_dns_search_reaches_the_node_and_its_pods(
    cluster: nestkube.Cluster, podman: Provider, kit: KubernetesBinaries, kubeconfig_file: Path
) -> None:
    node_conf = podman.exec(NODE, ["cat", "/etc/resolv.conf"]).stdout
    search = [ln.split()[1:] for ln in node_conf.splitlines() if ln.startswith("search")]
    assert search == [list(DOMAINS)], node_conf
    kubectl = Kubectl(str(kit.path("kubectl")), kubeconfig_file, cluster.context)
    kubectl.apply(f"""
apiVersion: v1
kind: Pod
metadata: {{name: resolv, labels: {{app: resolv}}}}
spec:
  dnsPolicy: Default
  containers:
  - name: main
    image: {WORKLOAD_IMAGE}
    imagePullPolicy: Never
    command: ["sleep", "3600"]
""")
    kubectl.wait_pods_ready("app=resolv")
    pod_conf = kubectl("exec", "resolv", "--", "cat", "/etc/resolv.conf").stdout
    # dnsPolicy Default: the pod gets the node's resolver settings, search domains included.
    assert any(ln.split()[1:] == list(DOMAINS) for ln in pod_conf.splitlines()), pod_conf


def test_load_balancer_services_off_installs_nothing_and_leaves_services_pending(
    cluster: nestkube.Cluster, kit: KubernetesBinaries, kubeconfig_file: Path
) -> None:
    kubectl = Kubectl(str(kit.path("kubectl")), kubeconfig_file, cluster.context)
    # Nothing of MetalLB's: no namespace, no CRD, no pod anywhere.
    assert kubectl("get", "namespace", "metallb-system", check=False).returncode != 0
    crds = kubectl("get", "crd", "-o", "name").stdout
    assert "metallb.io" not in crds, crds
    pods = kubectl("get", "pods", "-A", "-o", "name").stdout.split()
    assert not [p for p in pods if p.startswith(("pod/speaker-", "pod/controller-"))], pods
    kubectl.apply("""
apiVersion: v1
kind: Service
metadata: {name: lb-off}
spec:
  type: LoadBalancer
  selector: {app: none}
  ports: [{port: 80}]
""")
    # With MetalLB an address comes within seconds; without it, never.
    time.sleep(5)
    status = kubectl.json("get", "service", "lb-off")["status"]
    assert not status.get("loadBalancer", {}).get("ingress"), status
    kubectl("delete", "service", "lb-off")


@pytest.mark.parametrize("key", sorted(REFUSED))
def test_unsupported_keys_are_refused_in_one_line(key: str, tmp_path: Path) -> None:
    body, message = REFUSED[key]
    path = tmp_path / "cluster.yaml"
    path.write_text(HEAD + body)
    for args in (["config", "validate", str(path)], ["create", "cluster", "--config", str(path)]):
        proc = subprocess.run(
            [nestkube_cli(), *args, "--kubeconfig", str(tmp_path / "kubeconfig")]
            if args[0] == "create"
            else [nestkube_cli(), *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={"NESTKUBE_PROVIDER": "podman", "PATH": "/usr/local/bin:/usr/bin:/bin"},
        )
        assert proc.returncode == 1, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"ERROR: {path}: {message}: "), lines
    assert engine_leftovers("podman", "e2e-h5-refused") == {
        "containers": [],
        "volumes": [],
        "networks": [],
    }
    assert not (tmp_path / "kubeconfig").exists()


CLAIM = claim_manifest("e2e-h5-claim")


def test_default_storage_class_keeps_a_file_from_one_pod_to_the_next(
    cluster: nestkube.Cluster, podman: Provider, kit: KubernetesBinaries, kubeconfig_file: Path
) -> None:
    # defaultStorageClass is unset in CONFIG: on by default, as kind's.
    kubectl = Kubectl(str(kit.path("kubectl")), kubeconfig_file, cluster.context)
    classes = kubectl.json("get", "storageclass")["items"]
    default = [
        c["metadata"]["name"]
        for c in classes
        if c["metadata"].get("annotations", {}).get("storageclass.kubernetes.io/is-default-class")
        == "true"
    ]
    assert default == ["standard"]
    kubectl.wait_pods_ready("app=local-path-provisioner", namespace="local-path-storage")
    kubectl.apply(CLAIM)  # no storageClassName: the default class provisions it
    kubectl.apply(claim_pod("writer", "e2e-h5-claim", write=True))
    kubectl.wait_pods_ready("role=writer", timeout=240)
    assert kubectl.json("get", "pvc", "e2e-h5-claim")["status"]["phase"] == "Bound"
    kubectl("delete", "pod", "writer", "--wait=true", "--timeout=120s", timeout=150)
    kubectl.apply(claim_pod("reader", "e2e-h5-claim"))
    kubectl.wait_pods_ready("role=reader", timeout=240)
    assert kubectl("exec", "reader", "--", "cat", "/data/proof").stdout.strip() == "writer"
    # The volume is a directory on the node, under the node's /var.
    volume = kubectl.json("get", "pvc", "e2e-h5-claim")["spec"]["volumeName"]
    listing = podman.exec(NODE, ["ls", "/var/local-path-provisioner"]).stdout
    assert any(volume in entry for entry in listing.split()), listing
