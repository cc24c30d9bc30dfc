"""The cluster lifecycle on real rootful Podman with the default Kubernetes release (v1.37.2),
built from Go modules: containerd 2 on every node and CoreDNS answering Service names."""

from __future__ import annotations

import functools
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support import (
    WORKLOAD_IMAGE,
    Kubectl,
    assert_cluster_dns,
    assert_current_cluster,
    engine_leftovers,
    eventually,
    import_into_nodes,
    nestkube_cli,
    web_manifest,
)

import nestkube
from nestkube import kubeconfig
from nestkube.config import default_config, load_config
from nestkube.images.node_image import NodeImage
from nestkube.kit.kubernetes import KubernetesBinaries
from nestkube.kit.releases import DEFAULT_KUBERNETES_VERSION
from nestkube.kubeadm.version import KUBEADM_V1BETA4, kubeadm_api_version
from nestkube.providers.base import Provider
from nestkube.testing import temporary_cluster

SINGLE = "e2e-single"
MULTI = "e2e-multi"

SERVER = web_manifest(replicas=2)


def pinned_pod(name: str, node: str, command: str) -> str:
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
    command: ["sh", "-c", "{command}"]
    readinessProbe: {{exec: {{command: ["true"]}}, periodSeconds: 1}}
"""


def make_cluster(
    name: str,
    workers: int,
    kubeconfig_path: Path,
    podman: Provider,
    workload: Path,
) -> nestkube.Cluster:
    cluster = nestkube.create_cluster(
        default_config(name, workers=workers),
        provider="podman",
        kubeconfig_path=str(kubeconfig_path),
        status=nestkube.Status(verbosity=1),
    )
    import_into_nodes(podman, [n.name for n in cluster.nodes], workload)
    return cluster


@pytest.fixture(scope="module")
def kubeconfig_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kube") / "config"


@pytest.fixture(scope="module")
def single(
    podman: Provider, podman_node_image: NodeImage, kubeconfig_file: Path, workload: Path
) -> Iterator[nestkube.Cluster]:
    # Built on the public pytest helper users get, so that helper is exercised for real.
    with temporary_cluster(
        default_config(SINGLE), provider="podman", kubeconfig_path=kubeconfig_file
    ) as cluster:
        import_into_nodes(podman, [n.name for n in cluster.nodes], workload)
        yield cluster
    assert engine_leftovers("podman", SINGLE) == {"containers": [], "volumes": [], "networks": []}


@pytest.fixture(scope="module")
def multi(
    podman: Provider, podman_node_image: NodeImage, kubeconfig_file: Path, workload: Path
) -> Iterator[nestkube.Cluster]:
    nestkube.delete_cluster(MULTI, provider="podman", kubeconfig_path=str(kubeconfig_file))
    cluster = make_cluster(MULTI, 2, kubeconfig_file, podman, workload)
    yield cluster
    nestkube.delete_cluster(MULTI, provider="podman", kubeconfig_path=str(kubeconfig_file))


def kubectl_for(cluster: nestkube.Cluster, kit: KubernetesBinaries, path: Path) -> Kubectl:
    return Kubectl(str(kit.path("kubectl")), path, cluster.context)


def test_single_node_serves_a_deployment_by_dns_name(
    single: nestkube.Cluster, kit: KubernetesBinaries, kubeconfig_file: Path, podman: Provider
) -> None:
    kubectl = kubectl_for(single, kit, kubeconfig_file)
    node = f"{SINGLE}-control-plane"
    nodes = kubectl.json("get", "nodes")["items"]
    assert [n["metadata"]["name"] for n in nodes] == [node]
    ready = {c["type"]: c["status"] for c in nodes[0]["status"]["conditions"]}
    assert ready["Ready"] == "True"
    assert_current_cluster(kubectl, DEFAULT_KUBERNETES_VERSION)
    # The default release is initialised by its own kubeadm through the v1beta4 config band.
    rendered = podman.exec(node, ["cat", "/etc/nestkube/kubeadm.yaml"]).stdout
    api_versions = {d["apiVersion"] for d in yaml.safe_load_all(rendered) if d}
    assert kubeadm_api_version(DEFAULT_KUBERNETES_VERSION) == KUBEADM_V1BETA4
    assert KUBEADM_V1BETA4 in api_versions, api_versions

    kubectl.apply(SERVER)
    kubectl.wait_pods_ready("app=web")
    kubectl.apply(pinned_pod("client", node, "sleep 3600"))
    kubectl.wait_pods_ready("role=client")
    svc_ip = kubectl.json("get", "service", "web")["spec"]["clusterIP"]
    backends = {
        kubectl("exec", "client", "--", "wget", "-q", "-O-", f"http://{svc_ip}").stdout.strip()
        for _ in range(12)
    }
    pods = {p["metadata"]["name"] for p in kubectl.json("get", "pods", "-l", "app=web")["items"]}
    assert backends <= pods and backends, f"service answered from {backends}, pods {pods}"
    assert_cluster_dns(kubectl, podman, {"client": node}, "web", pods)


def test_multi_node_pod_network_and_service(
    multi: nestkube.Cluster, kit: KubernetesBinaries, kubeconfig_file: Path, podman: Provider
) -> None:
    kubectl = kubectl_for(multi, kit, kubeconfig_file)
    names = sorted(n["metadata"]["name"] for n in kubectl.json("get", "nodes")["items"])
    assert names == [f"{MULTI}-control-plane", f"{MULTI}-worker", f"{MULTI}-worker2"]
    cidrs = {n["spec"]["podCIDR"] for n in kubectl.json("get", "nodes")["items"]}
    assert len(cidrs) == 3, cidrs

    serve = "hostname > /www/index.html && exec httpd -f -p 8080 -h /www"
    kubectl.apply(pinned_pod("server-a", f"{MULTI}-worker", serve))
    kubectl.apply(pinned_pod("server-b", f"{MULTI}-worker2", serve))
    kubectl.wait_pods_ready("role in (server-a,server-b)")
    pods = {p["metadata"]["name"]: p for p in kubectl.json("get", "pods")["items"]}
    ip_a = pods["server-a"]["status"]["podIP"]
    ip_b = pods["server-b"]["status"]["podIP"]
    assert pods["server-a"]["spec"]["nodeName"] != pods["server-b"]["spec"]["nodeName"]
    # Pod to pod across nodes, both directions, by pod IP.
    got_b = kubectl("exec", "server-a", "--", "wget", "-q", "-O-", f"http://{ip_b}:8080").stdout
    got_a = kubectl("exec", "server-b", "--", "wget", "-q", "-O-", f"http://{ip_a}:8080").stdout
    assert got_b.strip() == "server-b"
    assert got_a.strip() == "server-a"

    kubectl.apply(SERVER)
    kubectl.wait_pods_ready("app=web")
    svc_ip = kubectl.json("get", "service", "web")["spec"]["clusterIP"]
    web_pods = {
        p["metadata"]["name"] for p in kubectl.json("get", "pods", "-l", "app=web")["items"]
    }
    # The Service answers from every node (kube-proxy's rules in each node's namespace). Polled:
    # a node's kube-proxy programs a just-made Service a moment after its pods are Ready, and
    # until then the address leaves the node and this sandbox's egress proxy answers.
    request = f"exec 3<>/dev/tcp/{svc_ip}/80 && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3"

    def body_from(node: str) -> str:
        answer = podman.exec(node, ["timeout", "10", "bash", "-c", request], check=False)
        return answer.stdout.strip().splitlines()[-1] if answer.stdout.strip() else ""

    for node in names:
        eventually(
            functools.partial(body_from, node),
            lambda body: body in web_pods,
            timeout=120,
            what=f"service {svc_ip} answered by a web pod from {node}",
        )
    # And from a pod on every node, by ClusterIP and by DNS name.
    clients = {}
    for node in names:
        client = f"client-{node.rsplit('-', 1)[-1]}"
        kubectl.apply(pinned_pod(client, node, "sleep 3600"))
        kubectl.wait_pods_ready(f"role={client}")
        reply = kubectl("exec", client, "--", "wget", "-q", "-O-", f"http://{svc_ip}").stdout
        reply = reply.strip()
        assert reply in web_pods
        clients[client] = node
    assert_current_cluster(kubectl, DEFAULT_KUBERNETES_VERSION)
    assert_cluster_dns(kubectl, podman, clients, "web", web_pods)


def test_two_clusters_listed_as_json(single: nestkube.Cluster, multi: nestkube.Cluster) -> None:
    out = subprocess.run(
        [nestkube_cli(), "get", "clusters", "-o", "json", "--provider", "podman"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    clusters = {c["name"]: c for c in json.loads(out)}
    assert {SINGLE, MULTI} <= clusters.keys()
    assert len(clusters[MULTI]["nodes"]) == 3
    assert clusters[SINGLE]["context"] == f"nestkube-{SINGLE}"
    assert clusters[SINGLE]["kubernetesVersion"] == DEFAULT_KUBERNETES_VERSION
    yaml_out = subprocess.run(
        [nestkube_cli(), "get", "clusters", "-o", "yaml", "--provider", "podman"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert {c["name"] for c in yaml.safe_load(yaml_out)} >= {SINGLE, MULTI}


def test_delete_leaves_nothing(
    podman: Provider, podman_node_image: NodeImage, tmp_path: Path, workload: Path
) -> None:
    name = "e2e-delete"
    path = tmp_path / "config"
    make_cluster(name, 0, path, podman, workload)
    assert kubeconfig.has_entries(name, str(path))
    assert engine_leftovers("podman", name)["containers"]
    result = subprocess.run(
        [nestkube_cli(), "delete", "cluster", "--name", name, "--kubeconfig", str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert engine_leftovers("podman", name) == {"containers": [], "volumes": [], "networks": []}
    assert not kubeconfig.has_entries(name, str(path))
    # Deleting a cluster that does not exist succeeds.
    again = subprocess.run(
        [nestkube_cli(), "delete", "cluster", "--name", name, "--kubeconfig", str(path)],
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0


BAD_PATCH = """\
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
name: {name}
kubeadmConfigPatches:
- |
  kind: ClusterConfiguration
  networking:
    serviceSubnet: not-a-subnet
"""


def test_failed_create_leaves_nothing(podman_node_image: NodeImage, tmp_path: Path) -> None:
    name = "e2e-fail"
    cfg_file = tmp_path / "bad.yaml"
    cfg_file.write_text(BAD_PATCH.format(name=name))
    path = tmp_path / "config"
    result = subprocess.run(
        [nestkube_cli(), "create", "cluster", "--config", str(cfg_file), "--kubeconfig", str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "kubeadm init" in result.stderr, result.stderr
    assert engine_leftovers("podman", name) == {"containers": [], "volumes": [], "networks": []}
    assert not kubeconfig.has_entries(name, str(path))


def test_failed_create_with_retain_keeps_nodes(
    podman_node_image: NodeImage, tmp_path: Path
) -> None:
    name = "e2e-retain"
    cfg_file = tmp_path / "bad.yaml"
    cfg_file.write_text(BAD_PATCH.format(name=name))
    path = tmp_path / "config"
    try:
        result = subprocess.run(
            [
                nestkube_cli(),
                "create",
                "cluster",
                "--config",
                str(cfg_file),
                "--retain",
                "--kubeconfig",
                str(path),
            ],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 1
        assert "--retain" in result.stderr
        assert engine_leftovers("podman", name)["containers"]
    finally:
        nestkube.delete_cluster(name, provider="podman", kubeconfig_path=str(path))
    assert engine_leftovers("podman", name) == {"containers": [], "volumes": [], "networks": []}


def test_existing_cluster_is_not_touched_by_a_second_create(
    single: nestkube.Cluster, kubeconfig_file: Path
) -> None:
    result = subprocess.run(
        [
            nestkube_cli(),
            "create",
            "cluster",
            "--name",
            SINGLE,
            "--kubeconfig",
            str(kubeconfig_file),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    # Issue #27: the one line says to delete it first.
    assert result.stderr.strip().splitlines()[-1] == (
        f"ERROR: cluster {SINGLE!r} already exists (or a create of it was killed before it "
        f"finished); delete it first: nestkube delete cluster --name {SINGLE}"
    )
    assert engine_leftovers("podman", SINGLE)["containers"]


def test_config_file_must_exist(tmp_path: Path) -> None:
    result = subprocess.run(
        [nestkube_cli(), "create", "cluster", "--config", str(tmp_path / "nope.yaml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "nope.yaml" in result.stderr
    _ = load_config  # the same loader the CLI uses
