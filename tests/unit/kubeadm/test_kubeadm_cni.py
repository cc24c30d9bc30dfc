from __future__ import annotations

import json
from typing import Any

import pytest

from nestkube.errors import ConfigError
from nestkube.kubeadm.cni import masquerade_rules, render_bridge_cni, route_commands


def conflist(pod_cidr: str = "10.244.1.0/24", **kwargs: Any) -> dict[str, Any]:
    text = render_bridge_cni(pod_cidr, **kwargs)
    assert text.endswith("\n")
    data: dict[str, Any] = json.loads(text)
    return data


def test_bridge_conflist_contents() -> None:
    data = conflist()
    assert data["cniVersion"] == "0.3.1"
    assert data["name"] == "nestkube"
    bridge, portmap = data["plugins"]
    assert bridge == {
        "type": "bridge",
        "bridge": "nkbr0",
        "isGateway": True,
        "ipMasq": False,
        "hairpinMode": True,
        "ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": "10.244.1.0/24"}]],
            "routes": [{"dst": "0.0.0.0/0"}],
        },
    }
    assert portmap == {"type": "portmap", "capabilities": {"portMappings": True}}
    assert all(p["type"] != "loopback" for p in data["plugins"])


def test_mtu() -> None:
    assert conflist(mtu=1400)["plugins"][0]["mtu"] == 1400
    assert "mtu" not in conflist()["plugins"][0]


@pytest.mark.parametrize("mtu", [0, 67, 70000, True])
def test_bad_mtu(mtu: int) -> None:
    with pytest.raises(ConfigError, match="is not between 68 and 65535"):
        render_bridge_cni("10.244.1.0/24", mtu=mtu)


def test_ipv6_default_route() -> None:
    ipam = conflist("fd00:10:244:1::/64")["plugins"][0]["ipam"]
    assert ipam["ranges"] == [[{"subnet": "fd00:10:244:1::/64"}]]
    assert ipam["routes"] == [{"dst": "::/0"}]


@pytest.mark.parametrize("bad", ["10.244.1.1/24", "nope", ""])
def test_bad_pod_cidr(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"node pod CIDR .* is not a CIDR"):
        render_bridge_cni(bad)


def test_masquerade_rules_check_then_add() -> None:
    check, add = masquerade_rules("10.244.0.0/16", "10.244.1.0/24")
    tail = [
        "POSTROUTING",
        "-s",
        "10.244.1.0/24",
        "!",
        "-d",
        "10.244.0.0/16",
        "-m",
        "comment",
        "--comment",
        "nestkube: masquerade pod traffic leaving the cluster pod network",
        "-j",
        "MASQUERADE",
    ]
    assert check == ["iptables", "-w", "-t", "nat", "-C", *tail]
    assert add == ["iptables", "-w", "-t", "nat", "-A", *tail]


def test_masquerade_rules_ipv6() -> None:
    check, add = masquerade_rules("fd00:10:244::/56", "fd00:10:244:1::/64")
    assert check[0] == add[0] == "ip6tables"


@pytest.mark.parametrize(
    "subnet,node,message",
    [
        ("10.244.0.0/16", "10.245.1.0/24", "is not inside the pod subnet"),
        ("10.244.0.0/16", "fd00::/64", "is not inside the pod subnet"),
        ("10.244.0.0/33", "10.244.1.0/24", "pod subnet '10.244.0.0/33' is not a CIDR"),
        ("10.244.0.0/16", "x", "node pod CIDR 'x' is not a CIDR"),
    ],
)
def test_masquerade_rules_reject(subnet: str, node: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        masquerade_rules(subnet, node)


def test_route_commands() -> None:
    assert route_commands("10.244.2.0/24", "10.89.0.3") == [
        "ip route replace 10.244.2.0/24 via 10.89.0.3"
    ]
    assert route_commands("fd00:10:244:2::/64", "fd00::3") == [
        "ip route replace fd00:10:244:2::/64 via fd00::3"
    ]


@pytest.mark.parametrize(
    "cidr,ip,message",
    [
        ("10.244.2.0/24", "node2", "peer node address 'node2' is not an IP address"),
        ("10.244.2.1/24", "10.89.0.3", "peer pod CIDR '10.244.2.1/24' is not a CIDR"),
        ("10.244.2.0/24", "fd00::3", "cannot route pod CIDR"),
    ],
)
def test_route_commands_reject(cidr: str, ip: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        route_commands(cidr, ip)
