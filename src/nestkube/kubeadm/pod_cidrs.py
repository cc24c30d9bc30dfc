"""Each node's pod CIDR, planned from the pod subnet before any node exists.

The controller manager would hand CIDRs out only once a node has registered, in the order
nodes register, so the CNI config (and the node's Ready) had to wait for it. nestkube plans
them instead: node ``i`` of the cluster, in config order, gets the ``i``-th block of the pod
subnet. The plan is recorded three ways, each where its reader looks: the node container's
label (the engine is nestkube's state store; `start` reads it), the Kubernetes node label
:data:`NODE_LABEL` the kubelet registers with (the network agent in every node reads peers'
CIDRs from it), and ``spec.podCIDR``, which the agent on a control plane sets from that
label, since the controller manager's allocator is switched off.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from nestkube.errors import ConfigError

# On the node container (engine state).
CONTAINER_LABEL = "io.nestkube.pod-cidr"
# On the Kubernetes Node object, set by the kubelet's --node-labels at registration.
NODE_LABEL = "nestkube.io/pod-cidr"
# Like the controller manager's default for IPv4, unless the subnet is too small for 16
# such blocks; then blocks shrink so at least 16 nodes fit.
DEFAULT_NODE_PREFIX = 24
MIN_NODES = 16
# A node block smaller than /28 leaves too few pod addresses to be useful.
MAX_NODE_PREFIX = 28


def node_prefix(pod_subnet: str) -> int:
    """The prefix length of each node's block within ``pod_subnet``."""
    net = _ipv4(pod_subnet)
    prefix = max(DEFAULT_NODE_PREFIX, net.prefixlen + (MIN_NODES - 1).bit_length())
    if prefix > MAX_NODE_PREFIX:
        raise ConfigError(
            f"networking.podSubnet {pod_subnet} is too small: it needs room for {MIN_NODES} "
            f"node blocks of /{MAX_NODE_PREFIX} (a /{MAX_NODE_PREFIX - 4} or larger)"
        )
    return prefix


def plan_pod_cidrs(pod_subnet: str, count: int, taken: Iterable[str] = ()) -> list[str]:
    """Pod CIDRs for ``count`` new nodes: the lowest blocks of ``pod_subnet`` not ``taken``.

    For a new cluster (nothing taken) node ``i`` gets block ``i``, so the plan depends only
    on the subnet and the node's position; a node added later gets the first free block.
    """
    net = _ipv4(pod_subnet)
    used = {str(ipaddress.ip_network(c, strict=False)) for c in taken}
    planned: list[str] = []
    for block in net.subnets(new_prefix=node_prefix(pod_subnet)):
        if len(planned) == count:
            break
        if str(block) not in used:
            planned.append(str(block))
    if len(planned) < count:
        raise ConfigError(
            f"networking.podSubnet {pod_subnet} has no room for {count} more nodes "
            f"(blocks of /{node_prefix(pod_subnet)})"
        )
    return planned


def label_value(cidr: str) -> str:
    """``10.244.1.0/24`` as a label value (no ``/`` allowed there): ``10.244.1.0-24``."""
    net = ipaddress.ip_network(cidr)
    return f"{net.network_address}-{net.prefixlen}"


def from_label_value(value: str) -> str:
    """The inverse of :func:`label_value`."""
    address, _, prefix = value.rpartition("-")
    return str(ipaddress.ip_network(f"{address}/{prefix}"))


def _ipv4(pod_subnet: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(pod_subnet)
    except ValueError:
        raise ConfigError(f"networking.podSubnet {pod_subnet!r} is not a CIDR") from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise ConfigError(f"networking.podSubnet {pod_subnet}: only IPv4 pod networks work yet")
    return net
