"""The cluster lifecycle on real rootful Podman with the default Kubernetes release (v1.37.2),
built from Go modules: containerd 2 on every node and CoreDNS answering Service names.

What only Podman's clusters are checked for: pod traffic and a Service across three nodes,
`get clusters` as JSON and YAML, failed creates (with and without --retain), a second create
of a cluster that exists. Podman's clusters are the shared ones (support.SharedClusters,
variant "podman"; the single node is made with nestkube.testing.temporary_cluster); the
scenarios every engine runs (a Service by DNS name, a loaded image, delete leaving nothing)
are in their own modules."""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path

import pytest
import yaml
from support import (
    VARIANTS,
    Kubectl,
    SharedClusters,
    assert_cluster_dns,
    assert_current_cluster,
    engine_leftovers,
    eventually,
    nestkube_cli,
    pinned_pod,
    scenario_kubectl,
    uses,
    web_manifest,
)

import nestkube
from nestkube import kubeconfig
from nestkube.config import load_config
from nestkube.images.node_image import NodeImage
from nestkube.kit.releases import DEFAULT_KUBERNETES_VERSION
from nestkube.providers.base import Provider

PODMAN = VARIANTS["podman"]
SINGLE = PODMAN.single
MULTI = PODMAN.multi

SERVER = web_manifest(replicas=2)


def kubectl_for(
    request: pytest.FixtureRequest, shared: SharedClusters, shape: str
) -> tuple[nestkube.Cluster, Kubectl]:
    cluster = shared.get(request, PODMAN, shape)
    return cluster, scenario_kubectl(request, PODMAN, cluster, shared.kubeconfig)


@uses("podman-multi")
def test_multi_node_pod_network_and_service(
    request: pytest.FixtureRequest, shared_clusters: SharedClusters, podman: Provider
) -> None:
    _, kubectl = kubectl_for(request, shared_clusters, "multi")
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
    kubectl.wait_pods_ready("app=web", count=2)
    svc_ip = kubectl.json("get", "service", "web")["spec"]["clusterIP"]
    web_pods = {
        p["metadata"]["name"] for p in kubectl.json("get", "pods", "-l", "app=web")["items"]
    }
    # The Service answers from every node (kube-proxy's rules in each node's namespace). Polled:
    # a node's kube-proxy programs a just-made Service a moment after its pods are Ready, and
    # until then the address leaves the node and this sandbox's egress proxy answers.
    http_get = f"exec 3<>/dev/tcp/{svc_ip}/80 && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3"

    def body_from(node: str) -> str:
        answer = podman.exec(node, ["timeout", "10", "bash", "-c", http_get], check=False)
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


@uses("podman-single", "podman-multi")
def test_two_clusters_listed_as_json(
    request: pytest.FixtureRequest, shared_clusters: SharedClusters
) -> None:
    kubectl_for(request, shared_clusters, "single")
    kubectl_for(request, shared_clusters, "multi")
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


@uses("podman-single")
def test_existing_cluster_is_not_touched_by_a_second_create(
    request: pytest.FixtureRequest, shared_clusters: SharedClusters
) -> None:
    kubectl_for(request, shared_clusters, "single")
    kubeconfig_file = shared_clusters.kubeconfig
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
