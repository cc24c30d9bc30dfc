"""Pods' upstream DNS when the node's resolver listens on the node's loopback.

Docker (and nerdctl) give containers on a user-defined network an embedded DNS server at
127.0.0.11, reached through NAT rules in the container's own network namespace. The node
resolves with it, but a pod cannot: 127.0.0.11 in a pod's namespace is the pod's own loopback.
CoreDNS forwards outside names to the resolv.conf the kubelet gives it, so on such nodes it
would forward into nothing.

The fix keeps the node's resolver as the upstream: pods get a resolv.conf naming the node's own
address instead of the loopback one, and the node forwards port 53 on its address to where the
engine's own rules send 127.0.0.11:53 (``route_localnet`` lets the kernel deliver NATed
traffic to a loopback address). Nodes whose resolver is not on loopback (Podman copies the
host's resolv.conf) are left as they are.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

POD_RESOLV_CONF = "/etc/nestkube/pod-resolv.conf"
_NAMESERVER_RE = re.compile(r"^\s*nameserver\s+(\S+)\s*$", re.M)
# An engine's NAT rule for its embedded DNS, as iptables-save prints it.
_DNAT_RE = re.compile(
    r"-d (?P<ip>127(?:\.\d{1,3}){3})/32 -p (?P<proto>udp|tcp)\b.*?--dport 53\b.*?"
    r"-j DNAT --to-destination (?P<dest>\S+)"
)


@dataclass(frozen=True)
class Forward:
    proto: str  # "udp" or "tcp"
    destination: str  # "127.0.0.11:34234"


def loopback_nameservers(resolv_conf: str) -> list[str]:
    found = []
    for server in _NAMESERVER_RE.findall(resolv_conf):
        try:
            if ipaddress.ip_address(server).is_loopback:
                found.append(server)
        except ValueError:
            continue
    return found


def engine_forwards(nat_rules: str, nameserver: str) -> list[Forward]:
    """The DNAT targets the engine set up for ``nameserver``:53 (one per protocol)."""
    seen: dict[str, Forward] = {}
    for match in _DNAT_RE.finditer(nat_rules):
        if match["ip"] == nameserver and match["proto"] not in seen:
            seen[match["proto"]] = Forward(match["proto"], match["dest"])
    return [seen[p] for p in ("udp", "tcp") if p in seen]


def pod_resolv_conf(resolv_conf: str, node_ip: str) -> str:
    """``resolv_conf`` with every loopback nameserver replaced by the node's address."""
    lines: list[str] = []
    for line in resolv_conf.splitlines():
        if loopback_nameservers(line):
            line = f"nameserver {node_ip}"
            if line in lines:
                continue
        lines.append(line)
    return "\n".join(lines) + "\n"


def forward_rule(node_ip: str, forward: Forward) -> list[str]:
    """The iptables arguments (after the command and ``-t nat``) of one forwarding rule."""
    return [
        "PREROUTING",
        "-d",
        f"{node_ip}/32",
        "-p",
        forward.proto,
        "--dport",
        "53",
        "-j",
        "DNAT",
        "--to-destination",
        forward.destination,
    ]
