"""Scenario, on every engine: a `type: LoadBalancer` Service gets an address from the cluster's
pool (MetalLB, on by default) and answers from the host at that address and, through `nestkube
publish services`, on a host port; deleting the Service frees the address for the next one.
On the shared single-node clusters of Podman, Docker and CRI-O nodes on Podman: on each, the
host reaches the engine's network."""

from __future__ import annotations

import ipaddress
import json
import time
import urllib.request
from pathlib import Path

import pytest
from support import (
    Kubectl,
    SharedClusters,
    Variant,
    ensure_workload,
    eventually,
    nk,
    scenario_kubectl,
    variants,
    web_manifest,
)

from nestkube import metallb
from nestkube.names import network_name
from nestkube.providers.base import Provider

pytestmark = pytest.mark.e2e

# What the issue asks: an address within 30 s of the Service's creation.
ADDRESS_WITHIN = 30.0
APP = "lb-web"


def service(name: str) -> str:
    return f"""
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  type: LoadBalancer
  selector: {{app: {APP}}}
  ports: [{{port: 80, targetPort: 8080}}]
"""


def address_of(kubectl: Kubectl, name: str) -> tuple[str, float]:
    """The Service's load balancer address once it has one, and how long that took."""
    started = time.monotonic()
    ingress = eventually(
        lambda: kubectl.json("get", "service", name)["status"].get("loadBalancer", {}),
        lambda status: bool(status.get("ingress")),
        timeout=120,
        what=f"an address for Service {name}",
    )
    return str(ingress["ingress"][0]["ip"]), time.monotonic() - started


def from_host(url: str) -> str:
    """``url``'s body, fetched straight from the host (never through an egress proxy)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as answer:
            return str(answer.read().decode().strip())
    except OSError as exc:
        return f"<{exc}>"


# nerdctl's nodes run the same MetalLB on the same kind of bridge; left out for the suite's
# time on a fresh machine (docs/load-balancers.md).
@pytest.mark.parametrize("variant", variants("single", only=("podman", "docker", "crio")))
def test_a_load_balancer_service_answers_from_the_host(
    variant: Variant,
    request: pytest.FixtureRequest,
    shared_clusters: SharedClusters,
    workload: Path,
) -> None:
    cluster = shared_clusters.get(request, variant, "single")
    provider: Provider = request.getfixturevalue(variant.engine_fixture)
    kubectl = scenario_kubectl(request, variant, cluster, shared_clusters.kubeconfig)
    node = f"{variant.single}-control-plane"
    ensure_workload(variant, provider, cluster, [node], workload)
    kubectl.apply(web_manifest(replicas=1, service=False, name=APP))
    kubectl.wait_pods_ready(f"app={APP}")
    pod = kubectl.json("get", "pods", "-l", f"app={APP}")["items"][0]["metadata"]["name"]

    kubectl.apply(service("lb-first"))
    address, took = address_of(kubectl, "lb-first")
    print(f"{variant.id}: LoadBalancer address {address} in {took:.1f}s")
    assert took <= ADDRESS_WITHIN, f"the address took {took:.1f}s"
    # From the pool create made: the second quarter of the cluster network's subnet.
    pool = kubectl.json("get", "ipaddresspool", metallb.POOL, "-n", metallb.NAMESPACE)
    first, last = pool["spec"]["addresses"][0].split("-")
    v4 = ipaddress.IPv4Address
    assert v4(first) <= v4(address) <= v4(last)
    subnet = metallb.pool_range(provider.network_subnets(network_name(cluster.name)))
    assert pool["spec"]["addresses"] == [subnet]
    # The host reaches it: the speaker answers ARP for it on the engine's bridge.
    body = eventually(
        lambda: from_host(f"http://{address}/"),
        lambda text: text == pod,
        timeout=60,
        what=f"{address} answered from the host",
    )
    assert body == pod

    # Published on a host port (what a rootless engine's host needs): a forwarder container.
    port = published(variant, cluster.name)[("lb-first", 80)]
    assert from_host(f"http://127.0.0.1:{port}/") == pod

    # Deleted, its address goes back to the pool: the next Service is given it.
    kubectl("delete", "service", "lb-first", "--wait=true")
    kubectl.apply(service("lb-second"))
    again, _ = address_of(kubectl, "lb-second")
    assert again == address
    eventually(
        lambda: from_host(f"http://{again}/"),
        lambda text: text == pod,
        timeout=60,
        what=f"{again} answered again from the host",
    )
    # Publishing again follows: the first Service's forwarder goes, the second gets one.
    ports = published(variant, cluster.name)
    assert set(ports) == {("lb-second", 80)}, ports
    assert from_host(f"http://127.0.0.1:{ports[('lb-second', 80)]}/") == pod
    kubectl("delete", "service/lb-second", f"deployment/{APP}", "--wait=true")
    assert published(variant, cluster.name) == {}


def published(variant: Variant, cluster: str) -> dict[tuple[str, int], int]:
    """`nestkube publish services`: (Service, port) -> host port on 127.0.0.1."""
    out = nk("publish", "services", "--name", cluster, "--provider", variant.engine, "-o", "json")
    return {(p["service"], p["port"]): p["hostPort"] for p in json.loads(out.stdout)}
