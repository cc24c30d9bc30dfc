"""`nestkube publish services`: each LoadBalancer Service's ports on host ports.

MetalLB gives a LoadBalancer Service an address on the cluster's engine network, which a rootful
host reaches directly. A rootless engine's network lives in its user's network namespace, and a
Docker Desktop-like engine's in a VM: the host cannot reach it. Engines publish ports only when
a container is made, so each Service gets a forwarder container of its own on the cluster's
network: HAProxy (the HA load balancer's image) listening on the Service's TCP ports, published
on the host (127.0.0.1 by default), forwarding to the Service's address. The engine's own port
forwarding (rootlessport, pasta, slirp4netns, Docker's proxy) carries the host side.

`publish services` makes the forwarders the Services need now and removes those of Services
that are gone or changed; a forwarder keeps its host ports while its Service keeps its address
and ports. Forwarders carry the cluster's name in LABEL_PUBLISHED (not LABEL_CLUSTER: they are
no nodes) and `delete cluster` removes them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from nestkube.errors import ClusterError
from nestkube.names import network_name
from nestkube.nodeops import loadbalancer
from nestkube.nodeops.files import KUBECTL, quick
from nestkube.providers.base import PortMapping, Provider, Service, ServiceSpec
from nestkube.providers.engine import free_port
from nestkube.status import SILENT, Status

LABEL_PUBLISHED = "io.nestkube.published-for"
# "<address>:<port>,<port>": what the forwarder forwards to; a change makes a new forwarder.
LABEL_TARGET = "io.nestkube.published-target"
# "<port>=<host port>,...": where the host reaches each port.
LABEL_HOST_PORTS = "io.nestkube.published-ports"
LABEL_HOST_ADDRESS = "io.nestkube.published-address"
LABEL_NAMESPACE = "io.nestkube.published-namespace"
LABEL_SERVICE = "io.nestkube.published-service"


@dataclass(frozen=True)
class PublishedPort:
    """One port of a LoadBalancer Service and where the host reaches it."""

    namespace: str
    service: str
    address: str  # the Service's load balancer address
    port: int
    host: str
    host_port: int

    def as_dict(self) -> dict[str, object]:
        return {
            "namespace": self.namespace,
            "service": self.service,
            "address": self.address,
            "port": self.port,
            "host": self.host,
            "hostPort": self.host_port,
        }


def forwarder_name(cluster: str, namespace: str, service: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", f"{cluster}-lb-{namespace}-{service}")


def wanted_services(services_json: str) -> dict[tuple[str, str], tuple[str, list[int]]]:
    """From ``kubectl get services -A -o json``: (namespace, name) -> (address, TCP ports) of
    every LoadBalancer Service that has an address."""
    wanted = {}
    for item in json.loads(services_json).get("items", []):
        spec, meta = item.get("spec", {}), item.get("metadata", {})
        if spec.get("type") != "LoadBalancer":
            continue
        ingress = item.get("status", {}).get("loadBalancer", {}).get("ingress") or []
        address = next((i["ip"] for i in ingress if i.get("ip")), None)
        ports = sorted(
            int(p["port"]) for p in spec.get("ports", []) if p.get("protocol", "TCP") == "TCP"
        )
        if address and ports:
            wanted[(meta["namespace"], meta["name"])] = (address, ports)
    return wanted


def _target(address: str, ports: list[int]) -> str:
    return f"{address}:{','.join(map(str, ports))}"


def publish_services(
    provider: Provider, cluster: str, *, address: str = "127.0.0.1", status: Status = SILENT
) -> list[PublishedPort]:
    """Forwarders for every LoadBalancer Service of ``cluster`` that has an address; the
    ports they publish."""
    nodes = provider.list_nodes(cluster)
    control = next((n for n in nodes if n.role == "control-plane"), None)
    if control is None:
        raise ClusterError(f"no cluster named {cluster!r}")
    listed = provider.exec(
        control.name,
        [*KUBECTL, "get", "services", "-A", "-o", "json"],
        check=False,
        what="listing Services",
        timeout=quick(),
    )
    if not listed.ok:
        raise ClusterError(f"cannot list the Services of {cluster!r}: is it running?")
    wanted = wanted_services(listed.stdout)
    existing = {s.name: s for s in forwarders(provider, cluster)}
    keep: dict[str, Service] = {}
    for name, found in existing.items():
        key = (found.labels.get(LABEL_NAMESPACE, ""), found.labels.get(LABEL_SERVICE, ""))
        target = wanted.get(key)
        same = target is not None and found.labels.get(LABEL_TARGET) == _target(*target)
        if same and found.labels.get(LABEL_HOST_ADDRESS) == address:
            keep[name] = found
        else:
            provider.remove_service(found, [])
    published: list[PublishedPort] = []
    image = None
    for (namespace, svc), (lb_address, ports) in sorted(wanted.items()):
        name = forwarder_name(cluster, namespace, svc)
        service = keep.get(name)
        if service is None:
            if image is None:
                from nestkube.images.lb_image import ensure_lb_image

                image = ensure_lb_image(provider, status).image
            host_ports = {port: free_port(address) for port in ports}
            with status.step(f"Publishing {namespace}/{svc} ({lb_address})"):
                _run_forwarder(provider, cluster, name, image, (namespace, svc), lb_address,
                               host_ports, address)  # fmt: skip
        else:
            host_ports = _host_ports(service)
        published += [
            PublishedPort(namespace, svc, lb_address, port, address, host_ports[port])
            for port in ports
        ]
    return published


def _run_forwarder(
    provider: Provider,
    cluster: str,
    name: str,
    image: str,
    service: tuple[str, str],
    lb_address: str,
    host_ports: dict[int, int],
    address: str,
) -> None:
    ports = sorted(host_ports)
    labels = {
        LABEL_PUBLISHED: cluster,
        LABEL_TARGET: _target(lb_address, ports),
        LABEL_HOST_PORTS: ",".join(f"{p}={h}" for p, h in sorted(host_ports.items())),
        LABEL_HOST_ADDRESS: address,
        LABEL_NAMESPACE: service[0],
        LABEL_SERVICE: service[1],
    }
    mappings = tuple(PortMapping(p, h, address) for p, h in sorted(host_ports.items()))
    provider.run_service(
        ServiceSpec(name, image, labels, network_name(cluster), port_mappings=mappings)
    )
    try:
        config = loadbalancer.render_forward_config(dict.fromkeys(ports, lb_address))
        loadbalancer.replace_config(provider, name, config)
        # HAProxy reloads in the background: the ports are the host's once it listens.
        provider.exec(
            name,
            ["sh", "-c", _listening_script(ports)],
            what=f"waiting for {name} to listen on {', '.join(map(str, ports))}",
            timeout=quick(),
        )
    except BaseException:
        provider.remove_service(Service(name), [])
        raise


def _listening_script(ports: list[int], tries: int = 100) -> str:
    """Exit 0 once every port has a listening TCP socket (/proc/net/tcp*, state 0A), trying
    every 0.1 s; 1 after ``tries``."""
    checks = " && ".join(
        f"grep -qE ':{port:04X} [0-9A-F]+:0000 0A' /proc/net/tcp /proc/net/tcp6" for port in ports
    )
    return f"for i in $(seq {tries}); do {checks} && exit 0; sleep 0.1; done; exit 1"


def _host_ports(service: Service) -> dict[int, int]:
    pairs = (item.split("=", 1) for item in service.labels.get(LABEL_HOST_PORTS, "").split(","))
    return {int(p): int(h) for p, h in (pair for pair in pairs if len(pair) == 2)}


def forwarders(provider: Provider, cluster: str) -> list[Service]:
    """The forwarder containers of ``cluster``."""
    return [s for s in provider.services(LABEL_PUBLISHED) if s.labels[LABEL_PUBLISHED] == cluster]
