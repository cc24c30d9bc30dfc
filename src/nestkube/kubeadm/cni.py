"""The node's pod network: a bridge CNI config, one masquerade rule, routes to peer nodes.

Each node bridges its own pods on the pod CIDR the controller manager gave it; nodes reach
each other's pods by plain routes over the engine network, so pod traffic between nodes
keeps its pod source address and only traffic leaving the cluster's pod network is
masqueraded.
"""

from __future__ import annotations

import ipaddress
import json

from nestkube.errors import ConfigError

NETWORK_NAME = "nestkube"
BRIDGE = "nkbr0"
# Understood by containerd 1.6's libcni and by every containernetworking-plugins release
# from 0.8 on (Debian 12 ships 1.1.1); nothing here needs a newer spec.
CNI_VERSION = "0.3.1"
MASQUERADE_COMMENT = "nestkube: masquerade pod traffic leaving the cluster pod network"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def render_bridge_cni(pod_cidr: str, *, mtu: int | None = None) -> str:
    """A CNI conflist for ``/etc/cni/net.d`` giving pods addresses from ``pod_cidr``."""
    network = _network(pod_cidr, "node pod CIDR")
    bridge: dict[str, object] = {
        "type": "bridge",
        "bridge": BRIDGE,
        "isGateway": True,
        # The bridge plugin's own masquerade would also hide pod addresses on traffic to
        # other nodes' pods; masquerade_rules() excludes the whole pod subnet instead.
        "ipMasq": False,
        # Lets a pod reach itself through a Service that load-balances back to it.
        "hairpinMode": True,
        "ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": str(network)}]],
            "routes": [{"dst": "0.0.0.0/0" if network.version == 4 else "::/0"}],
        },
    }
    if mtu is not None:
        if isinstance(mtu, bool) or not isinstance(mtu, int) or not 68 <= mtu <= 65535:
            raise ConfigError(f"MTU {mtu!r} is not between 68 and 65535")
        bridge["mtu"] = mtu
    conflist = {
        "cniVersion": CNI_VERSION,
        "name": NETWORK_NAME,
        "plugins": [bridge, {"type": "portmap", "capabilities": {"portMappings": True}}],
    }
    return json.dumps(conflist, indent=2) + "\n"


def masquerade_rules(pod_subnet: str, node_pod_cidr: str) -> list[list[str]]:
    """``[check, add]`` iptables argv lists for the one masquerade rule a node needs.

    Run the first (``-C``); only if it fails, run the second (``-A``), so repeated setup
    never stacks duplicate rules. The rule masquerades traffic from this node's pods to
    anything outside the cluster's whole pod subnet.
    """
    cluster = _network(pod_subnet, "pod subnet")
    node = _network(node_pod_cidr, "node pod CIDR")
    if not _inside(node, cluster):
        raise ConfigError(f"node pod CIDR {node} is not inside the pod subnet {cluster}")
    binary = "iptables" if cluster.version == 4 else "ip6tables"
    rule = [
        "POSTROUTING",
        "-s",
        str(node),
        "!",
        "-d",
        str(cluster),
        "-m",
        "comment",
        "--comment",
        MASQUERADE_COMMENT,
        "-j",
        "MASQUERADE",
    ]
    # -w waits for the xtables lock instead of failing while kube-proxy holds it.
    return [[binary, "-w", "-t", "nat", action, *rule] for action in ("-C", "-A")]


def route_commands(peer_pod_cidr: str, peer_node_ip: str) -> list[str]:
    """Commands that send a peer node's pod CIDR via that node's address.

    Each is one command line (``ip route replace CIDR via IP``); its words are validated
    addresses, so ``str.split()`` gives the argv.
    """
    network = _network(peer_pod_cidr, "peer pod CIDR")
    try:
        gateway = ipaddress.ip_address(peer_node_ip)
    except ValueError:
        raise ConfigError(f"peer node address {peer_node_ip!r} is not an IP address") from None
    if gateway.version != network.version:
        raise ConfigError(f"peer node address {gateway} cannot route pod CIDR {network}")
    # replace, not add: rerunning setup, or a peer that came back with a new address,
    # must not fail on the existing route.
    return [f"ip route replace {network} via {gateway}"]


# The node's network agent (images/node/nestkube-netd) reads these; nestkube renders them so
# the agent re-derives nothing. The env file's appearance starts the agent.
AGENT_ENV = "/etc/nestkube/pod-network.env"
AGENT_CNI = "/etc/nestkube/cni.conflist"
AGENT_MASQUERADE = "/etc/nestkube/masquerade.args"


def agent_inputs(node: str, pod_cidr: str, pod_subnet: str) -> dict[str, str]:
    """Path -> content of the agent's inputs for ``node``, the env file last (write them in
    this order, so the agent never starts without the others)."""
    _, add = masquerade_rules(pod_subnet, pod_cidr)
    return {
        AGENT_CNI: render_bridge_cni(pod_cidr),
        AGENT_MASQUERADE: "".join(f"{word}\n" for word in add),
        AGENT_ENV: f"NODE_NAME={node}\nPOD_CIDR={pod_cidr}\nPOD_SUBNET={pod_subnet}\n",
    }


def _inside(inner: Network, outer: Network) -> bool:
    if isinstance(inner, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return inner.subnet_of(outer)
    if isinstance(inner, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return inner.subnet_of(outer)
    return False


def _network(cidr: str, what: str) -> Network:
    try:
        return ipaddress.ip_network(cidr)
    except ValueError:
        raise ConfigError(f"{what} {cidr!r} is not a CIDR") from None
