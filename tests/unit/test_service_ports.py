"""nestkube.service_ports: which Services get forwarders, and which forwarders go."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from fakes_engine import UnusedEngine

from nestkube import service_ports
from nestkube._exec import Result
from nestkube.nodeops.loadbalancer import render_forward_config
from nestkube.providers.base import Node, Service, ServiceSpec


def svc(
    ns: str, name: str, kind: str, ip: str | None, ports: list[tuple[int, str]]
) -> dict[str, Any]:
    return {
        "metadata": {"namespace": ns, "name": name},
        "spec": {"type": kind, "ports": [{"port": p, "protocol": proto} for p, proto in ports]},
        "status": {"loadBalancer": {"ingress": [{"ip": ip}] if ip else []}},
    }


SERVICES = json.dumps(
    {
        "items": [
            svc("default", "web", "LoadBalancer", "10.89.0.64", [(443, "TCP"), (80, "TCP")]),
            svc("default", "pending", "LoadBalancer", None, [(80, "TCP")]),
            svc("default", "plain", "ClusterIP", None, [(80, "TCP")]),
            svc("kube-system", "dns", "LoadBalancer", "10.89.0.65", [(53, "UDP")]),
        ]
    }
)


def test_only_load_balancer_services_with_an_address_and_tcp_ports_are_wanted() -> None:
    assert service_ports.wanted_services(SERVICES) == {
        ("default", "web"): ("10.89.0.64", [80, 443])
    }


def test_the_forwarder_forwards_each_port_to_the_address() -> None:
    config = render_forward_config({80: "10.89.0.64", 443: "10.89.0.64"})
    assert "  bind *:80\n  server target 10.89.0.64:80" in config
    assert "  bind *:443\n  server target 10.89.0.64:443" in config


class Engine(UnusedEngine):
    def __init__(self, existing: list[Service]) -> None:
        super().__init__()
        self.existing = existing
        self.removed: list[str] = []
        self.ran: list[ServiceSpec] = []
        self.configured: list[tuple[str, str]] = []
        self.waited: list[tuple[str, str]] = []

    def list_nodes(self, cluster: str) -> list[Node]:
        return [Node("dev-control-plane", "control-plane", "dev", "running")]

    def exec(self, node: str, args: Sequence[str], **kw: Any) -> Result:
        if "services" in args:
            return Result(list(args), 0, SERVICES, "")
        if kw.get("input") is not None:
            self.configured.append((node, str(kw["input"])))
        else:
            self.waited.append((node, args[-1]))
        return Result(list(args), 0, "", "")

    def services(self, label: str) -> list[Service]:
        return list(self.existing)

    def remove_service(self, service: Service, volumes: Sequence[str]) -> None:
        self.removed.append(service.name)

    def run_service(self, spec: ServiceSpec) -> None:
        self.ran.append(spec)


def forwarder(name: str, target: str, ports: str, ns: str = "default") -> Service:
    return Service(
        name,
        "running",
        {
            service_ports.LABEL_PUBLISHED: "dev",
            service_ports.LABEL_TARGET: target,
            service_ports.LABEL_HOST_PORTS: ports,
            service_ports.LABEL_HOST_ADDRESS: "127.0.0.1",
            service_ports.LABEL_NAMESPACE: ns,
            service_ports.LABEL_SERVICE: name.rsplit("-", 1)[-1],
        },
    )


def test_an_unchanged_forwarder_is_kept_with_its_ports_and_a_stale_one_removed() -> None:
    keep = forwarder("dev-lb-default-web", "10.89.0.64:80,443", "80=40001,443=40002")
    gone = forwarder("dev-lb-default-old", "10.89.0.66:80", "80=40003")
    other = Service("x-lb-default-web", "running", {service_ports.LABEL_PUBLISHED: "x"})
    engine = Engine([keep, gone, other])
    published = service_ports.publish_services(engine, "dev")
    assert engine.removed == ["dev-lb-default-old"] and engine.ran == []
    assert [(p.service, p.port, p.host_port) for p in published] == [
        ("web", 80, 40001),
        ("web", 443, 40002),
    ]


def test_a_changed_service_gets_a_new_forwarder(monkeypatch: pytest.MonkeyPatch) -> None:
    moved = forwarder("dev-lb-default-web", "10.89.0.70:80,443", "80=40001,443=40002")
    engine = Engine([moved])
    monkeypatch.setattr(service_ports, "free_port", lambda address: 45000)
    monkeypatch.setattr(
        "nestkube.images.lb_image.ensure_lb_image",
        lambda provider, status: type("Built", (), {"image": "lb:1"})(),
    )
    published = service_ports.publish_services(engine, "dev")
    assert engine.removed == ["dev-lb-default-web"]
    [spec] = engine.ran
    assert spec.name == "dev-lb-default-web" and spec.image == "lb:1"
    assert spec.network == "nestkube-dev"
    assert {(m.container_port, m.listen_address) for m in spec.port_mappings} == {
        (80, "127.0.0.1"),
        (443, "127.0.0.1"),
    }
    assert spec.labels[service_ports.LABEL_TARGET] == "10.89.0.64:80,443"
    [(node, config)] = engine.configured
    assert node == "dev-lb-default-web" and "server target 10.89.0.64:443" in config
    # Then it waits for HAProxy to listen on both ports (0x50, 0x1BB) before reporting them.
    [(node, script)] = engine.waited
    assert node == "dev-lb-default-web" and ":0050 " in script and ":01BB " in script
    assert {p.host_port for p in published} == {45000}
