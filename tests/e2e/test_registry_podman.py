"""Registries, mirrors and proxies on real rootful Podman, on one 1+2 cluster shared by the
module.

A registry made by `nestkube registry create`, an image built on the host and pushed to it,
a Deployment of that image Running on every node; a mirror for a registry name that does not
resolve, pulled through the registry (its log shows the request); bad input refused in one
line, leaving nothing; the cluster and the registry deleted separately leave nothing. The
cluster is made with an HTTPS proxy that does not exist (from the environment, in lower case)
and a real HTTP one (tiny_proxy, from the config): containerd and the kubelet carry both,
everything the cluster does works only because the computed NO_PROXY sends its own traffic
direct, and an image mirrored to an address off the cluster's network is pulled through the
HTTP proxy, which logs it. A CRI-O node of a second cluster pulls through the same registry
and mirror (a registries.conf drop-in where containerd has hosts files).
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from registry_support import spread
from support import WORKLOAD_IMAGE, Kubectl, engine_leftovers, nestkube_cli
from tiny_proxy import TinyProxy

import nestkube
from nestkube.config import ClusterConfig, NodeConfig, default_config
from nestkube.images.node_image import NodeImage
from nestkube.kit.kubernetes import KubernetesBinaries
from nestkube.kubeadm.proxy import Proxy
from nestkube.providers.base import Provider

CLUSTER = "nk25-reg-c"
CRIO_CLUSTER = "nk25-reg-crio"
REGISTRY = "nk25-reg"
PORT = 5025
HOST = f"localhost:{PORT}"
APP = f"{HOST}/nk25/app:1"
# Does not resolve anywhere: only the mirror can serve it.
MIRRORED = "registry.nk25.invalid"
NODES = [f"{CLUSTER}-control-plane", f"{CLUSTER}-worker", f"{CLUSTER}-worker2"]
# HTTPS through a proxy that does not exist: the API server and everything else of the
# cluster's own must be in NO_PROXY. Plain HTTP through a real one (tiny_proxy).
HTTPS_PROXY = "http://proxy2.nk25.invalid:3129"
# Mirrored to the registry's address on the engine's default network, which is not the
# cluster's: not in NO_PROXY, so pulled through the proxy.
PROXIED = "proxied.nk25.invalid"
USER_NO_PROXY = "corp.nk25.example"


def engine(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [nestkube_cli(), *args, "--provider", "podman"], capture_output=True, text=True
    )


def ours(*args: str) -> list[str]:
    """What a listing shows of this module's objects (other tests run beside it)."""
    return sorted(n for n in engine(*args).stdout.split() if n.startswith("nk25"))


def registry_leftovers() -> dict[str, list[str]]:
    return {
        "containers": engine("ps", "-a", "-q", "--filter", f"name=^{REGISTRY}$").stdout.split(),
        "volumes": engine("volume", "ls", "-q", "--filter", f"name={REGISTRY}-data").stdout.split(),
    }


@pytest.fixture(scope="module")
def kubeconfig_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kube") / "config"


@pytest.fixture(scope="module")
def registry(podman: Provider, workload: Path) -> Iterator[str]:
    nestkube.delete_registry(REGISTRY, provider=podman)
    made = nestkube.create_registry(REGISTRY, port=PORT, provider=podman)
    assert made.host == HOST
    # An image built on the host (the tests' busybox image) pushed as a user would.
    engine("load", "--input", str(workload))
    engine("tag", WORKLOAD_IMAGE, APP)
    engine("push", "--tls-verify=false", APP)
    yield REGISTRY
    engine("rmi", APP, check=False)  # the tag only: the image stays as it was loaded
    nestkube.delete_registry(REGISTRY, provider=podman)
    assert registry_leftovers() == {"containers": [], "volumes": []}


@pytest.fixture(scope="module")
def http_proxy(podman: Provider, registry: str) -> Iterator[TinyProxy]:
    """A proxy on the host's side of the engine's default network (where the registry runs)."""
    gateway = json.loads(engine("network", "inspect", "podman").stdout)[0]["subnets"][0]
    proxy = TinyProxy(gateway["gateway"])
    yield proxy
    proxy.close()


@pytest.fixture(scope="module")
def cluster(
    podman: Provider,
    podman_node_image: NodeImage,
    kubeconfig_file: Path,
    registry: str,
    http_proxy: TinyProxy,
) -> Iterator[nestkube.Cluster]:
    nestkube.delete_cluster(CLUSTER, provider="podman", kubeconfig_path=str(kubeconfig_file))
    config = default_config(CLUSTER, workers=2).with_overrides(
        registries=[registry],
        registry_mirrors={
            MIRRORED: f"http://{registry}:5000",
            PROXIED: f"http://{podman.node_ip(registry, 'podman')}:5000",
        },
    )
    config = dataclasses.replace(config, proxy=Proxy(http=http_proxy.address))
    # The rest of the proxy from the environment, in the lower case some tools set.
    saved = {k: os.environ.pop(k, None) for k in ("HTTPS_PROXY", "NO_PROXY")}
    os.environ |= {"https_proxy": HTTPS_PROXY, "no_proxy": USER_NO_PROXY}
    try:
        made = nestkube.create_cluster(
            config,
            provider="podman",
            kubeconfig_path=str(kubeconfig_file),
            status=nestkube.Status(verbosity=1),
        )
    finally:
        del os.environ["https_proxy"], os.environ["no_proxy"]
        os.environ |= {k: v for k, v in saved.items() if v is not None}
    yield made
    nestkube.delete_cluster(CLUSTER, provider="podman", kubeconfig_path=str(kubeconfig_file))
    assert engine_leftovers("podman", CLUSTER) == {"containers": [], "volumes": [], "networks": []}
    # The registry outlives the cluster, back on its own network only.
    (entry,) = [r for r in nestkube.list_registries(provider=podman) if r.name == registry]
    assert entry.clusters == ()


@pytest.fixture(scope="module")
def kubectl(cluster: nestkube.Cluster, kit: KubernetesBinaries, kubeconfig_file: Path) -> Kubectl:
    return Kubectl(str(kit.path("kubectl")), kubeconfig_file, cluster.context)


def test_an_image_pushed_on_the_host_runs_on_every_node(kubectl: Kubectl) -> None:
    kubectl.apply(spread("app", APP, len(NODES)))
    kubectl.wait_pods_ready("app=app", count=len(NODES))
    pods = kubectl.json("get", "pods", "-l", "app=app")["items"]
    assert sorted(p["spec"]["nodeName"] for p in pods) == NODES
    assert {p["status"]["phase"] for p in pods} == {"Running"}
    hosting = kubectl.json("-n", "kube-public", "get", "configmap", "local-registry-hosting")
    assert f'host: "{HOST}"' in hosting["data"]["localRegistryHosting.v1"]
    (entry,) = [r for r in nestkube.list_registries(provider="podman") if r.name == REGISTRY]
    assert entry.clusters == (CLUSTER,)


def test_a_mirror_serves_a_registry_name_that_does_not_resolve(kubectl: Kubectl) -> None:
    image = f"{MIRRORED}/nk25/app:1"
    kubectl.apply(spread("mirrored", image, 1, policy="Always"))
    kubectl.wait_pods_ready("app=mirrored")
    log = nestkube.registry_logs(REGISTRY, provider="podman")
    assert f"ns={MIRRORED}" in log, log[-2000:]


def test_bad_input_is_one_line_and_makes_nothing(registry: str) -> None:
    before, volumes = ours("ps", "-a", "--format", "{{.Names}}"), ours("volume", "ls", "-q")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        cases = {
            "port in use": (["registry", "create", "nk25-other", "--port", str(busy)], "in use"),
            "name exists": (["registry", "create", registry, "--port", "5026"], "exists already"),
            "bad mirror": (
                ["create", "cluster", "--name", "nk25-bad", "--registry-mirror", "docker.io=nope"],
                "is not a URL",
            ),
            "no such registry": (
                ["create", "cluster", "--name", "nk25-bad", "--registry", "nk25-none"],
                "no registry named",
            ),
        }
        for case, (args, words) in cases.items():
            start = time.monotonic()
            proc = cli(*args)
            assert proc.returncode == 1, (case, proc.stderr)
            lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR")]
            assert len(lines) == 1 and words in lines[0], (case, proc.stderr)
            assert time.monotonic() - start < 30, case
    assert ours("ps", "-a", "--format", "{{.Names}}") == before
    assert ours("volume", "ls", "-q") == volumes
    assert "nestkube-nk25-bad" not in engine("network", "ls", "--format", "{{.Name}}").stdout


def environ(podman: Provider, node: str, unit: str) -> dict[str, str]:
    script = f"tr '\\0' '\\n' < /proc/$(systemctl show -p MainPID --value {unit})/environ"
    out = podman.exec(node, ["sh", "-c", script]).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def test_the_proxy_reaches_containerd_and_the_kubelet_of_every_node(
    cluster: nestkube.Cluster, podman: Provider, http_proxy: TinyProxy, kubectl: Kubectl
) -> None:
    addresses = {n: podman.node_ip(n, f"nestkube-{CLUSTER}") for n in NODES}
    for node in NODES:
        for unit in ("containerd", "kubelet"):
            env = environ(podman, node, unit)
            assert env["HTTP_PROXY"] == env["http_proxy"] == http_proxy.address, (node, unit)
            assert env["HTTPS_PROXY"] == env["https_proxy"] == HTTPS_PROXY, (node, unit)
            assert env["NO_PROXY"] == env["no_proxy"], (node, unit)
            direct = env["NO_PROXY"].split(",")
            assert direct[0] == USER_NO_PROXY
            for wanted in ["10.244.0.0/16", "10.96.0.0/16", *NODES, *addresses.values()]:
                assert wanted in direct, (node, unit, wanted, direct)
    # A pull the proxy must carry: the registry's address off the cluster's network.
    kubectl.apply(spread("proxied", f"{PROXIED}/nk25/app:1", 1, policy="Always"))
    kubectl.wait_pods_ready("app=proxied")
    registry_ip = podman.node_ip(REGISTRY, "podman")
    carried = [r for r in http_proxy.requests if f"{registry_ip}:5000/v2/nk25/app/" in r]
    assert carried, http_proxy.requests
    # Nothing of the cluster's own went through it.
    assert all(f"http://{registry_ip}:5000/" in r for r in http_proxy.requests), http_proxy.requests


def test_a_restarted_node_still_pulls_through_the_mirror(
    cluster: nestkube.Cluster, podman: Provider
) -> None:
    node = NODES[-1]
    engine("restart", "--time", "5", node)
    wait = "until systemctl is-active -q containerd; do sleep 0.5; done"
    podman.exec(node, ["timeout", "120", "sh", "-c", wait])
    image = f"{MIRRORED}/nk25/app:1"
    # Not there yet on this node: the Deployment's one mirrored pod ran on another or here,
    # so remove it first and pull it again through the mirror, as the kubelet would.
    podman.exec(node, ["crictl", "rmi", image], check=False)
    before = nestkube.registry_logs(REGISTRY, provider="podman").count(f"ns={MIRRORED}")
    podman.exec(node, ["timeout", "60", "crictl", "pull", image])
    after = nestkube.registry_logs(REGISTRY, provider="podman").count(f"ns={MIRRORED}")
    assert after > before


@pytest.fixture(scope="module")
def crio_kubectl(
    podman: Provider,
    crio_image: NodeImage,
    crio_kit: KubernetesBinaries,
    kubeconfig_file: Path,
    registry: str,
    cluster: nestkube.Cluster,  # deleted after this one, which shares its registry
) -> Iterator[Kubectl]:
    nestkube.delete_cluster(CRIO_CLUSTER, provider=podman, kubeconfig_path=str(kubeconfig_file))
    config = ClusterConfig(name=CRIO_CLUSTER, nodes=[NodeConfig(runtime="cri-o")]).with_overrides(
        registries=[registry], registry_mirrors={MIRRORED: f"http://{registry}:5000"}
    )
    made = nestkube.create_cluster(
        config, provider=podman, kubeconfig_path=str(kubeconfig_file), status=nestkube.Status()
    )
    yield Kubectl(str(crio_kit.path("kubectl")), kubeconfig_file, made.context)
    nestkube.delete_cluster(CRIO_CLUSTER, provider=podman, kubeconfig_path=str(kubeconfig_file))
    assert engine_leftovers("podman", CRIO_CLUSTER) == {
        "containers": [],
        "volumes": [],
        "networks": [],
    }


def test_crio_nodes_pull_through_the_registry_and_its_mirror(crio_kubectl: Kubectl) -> None:
    """The same registry and mirror for a CRI-O node (a registries.conf drop-in, not
    containerd's hosts files): the pushed image by its host name, the mirrored name with
    `Always`; both requests reach the registry."""
    pulls = nestkube.registry_logs(REGISTRY, provider="podman").count("/v2/nk25/app/manifests/1")
    crio_kubectl.apply(spread("crio-app", APP, 1))
    crio_kubectl.apply(spread("crio-mirrored", f"{MIRRORED}/nk25/app:1", 1, policy="Always"))
    crio_kubectl.wait_pods_ready("app=crio-app")
    crio_kubectl.wait_pods_ready("app=crio-mirrored")
    node = crio_kubectl.json("get", "nodes")["items"][0]
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("cri-o://")
    log = nestkube.registry_logs(REGISTRY, provider="podman")
    assert log.count("/v2/nk25/app/manifests/1") >= pulls + 2, log[-2000:]
    (entry,) = [r for r in nestkube.list_registries(provider="podman") if r.name == REGISTRY]
    assert sorted(entry.clusters) == sorted((CLUSTER, CRIO_CLUSTER))
