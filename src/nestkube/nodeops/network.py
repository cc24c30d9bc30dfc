"""A node's network namespace: routes to its peers' pod CIDRs, the masquerade rule, and DNS
forwarding where the node's resolver is on its loopback.

All of it lives in the node's network namespace, which a restart of the container replaces:
create sets it up, and `start cluster` sets it up again (see :mod:`nestkube.lifecycle`).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from nestkube.errors import ClusterError
from nestkube.kubeadm import node_dns
from nestkube.kubeadm.cni import masquerade_rules, route_commands
from nestkube.nodeops import node_setup
from nestkube.nodeops.files import quick
from nestkube.providers.base import Provider


def peer_routes(node: str, pod_cidrs: dict[str, str], node_ips: dict[str, str]) -> list[list[str]]:
    """`ip route replace` argv lists on ``node`` to each peer's pod CIDR, for the peers
    whose address is known."""
    return [
        cmd.split()
        for peer, peer_cidr in pod_cidrs.items()
        if peer != node and peer in node_ips
        for cmd in route_commands(peer_cidr, node_ips[peer])
    ]


def forward_node_dns(
    provider: Provider, node: str, node_ip: str, resolv: str | None = None
) -> tuple[str, str | None]:
    """Where ``node``'s resolver is on its loopback (Docker's embedded DNS), forward port 53
    on the node's address to it; returns the node's resolv.conf (read unless given) and, if
    so, the one its pods need (see :mod:`nestkube.kubeadm.node_dns`). The rules live in the
    node's network namespace, so a restarted node needs them again (the engine's ports
    change too)."""
    if resolv is None:
        resolv = provider.exec(
            node, ["cat", "/etc/resolv.conf"], what="reading resolv.conf", timeout=quick()
        ).stdout
    loopback = node_dns.loopback_nameservers(resolv)
    if not loopback:
        return resolv, None
    for save in ("iptables-save", "iptables-legacy-save"):
        rules = provider.exec(node, [save, "-t", "nat"], check=False, timeout=quick()).stdout
        forwards = [f for ns in loopback for f in node_dns.engine_forwards(rules, ns)]
        if forwards:
            break
    else:
        raise ClusterError(
            f"node {node} resolves through {loopback[0]} on its loopback, and no engine "
            "rule forwards that address: pods could not resolve outside names"
        )
    iptables = save.removesuffix("-save")
    for forward in forwards:
        rule = node_dns.forward_rule(node_ip, forward)
        present = provider.exec(
            node, [iptables, "-t", "nat", "-C", *rule], check=False, timeout=quick()
        )
        if not present.ok:
            provider.exec(
                node,
                [iptables, "-t", "nat", "-A", *rule],
                what="forwarding DNS to the node's resolver",
                timeout=quick(),
            )
    provider.exec(
        node,
        ["sh", "-c", "echo 1 > /proc/sys/net/ipv4/conf/all/route_localnet"],
        what="route_localnet",
        timeout=quick(),
    )
    return resolv, node_dns.pod_resolv_conf(resolv, node_ip)


def routes_and_masquerade(
    provider: Provider,
    pod_cidrs: dict[str, str],
    node_ips: dict[str, str],
    pod_subnet: str,
    *,
    skip: Sequence[str] = (),
) -> None:
    """On each node (but those in ``skip``): routes to every other node's pod CIDR, and the
    one masquerade rule.

    Both live in the node's network namespace, which a restart of the container replaces;
    the node's agent writes them again, and `start cluster` does for nodes without one.
    Routes are replaced and the rule is checked first, so running it twice changes nothing.
    """

    def one(node: str) -> None:
        setup = node_setup.NodeSetup(
            {},
            routes=peer_routes(node, pod_cidrs, node_ips),
            rules=pairs(masquerade_rules(pod_subnet, pod_cidrs[node])),
            report_resolver=False,
        )
        node_setup.run_setup(provider, node, setup, timeout=quick())

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, [node for node in pod_cidrs if node not in skip]))


def pairs(rules: list[list[str]]) -> list[tuple[Sequence[str], Sequence[str]]]:
    return [(rules[i], rules[i + 1]) for i in range(0, len(rules), 2)]
