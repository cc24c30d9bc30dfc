"""A cluster's state from its node containers' states; light to import, for `get clusters`."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from nestkube.names import network_name
from nestkube.providers.base import LABEL_NETWORK, LABEL_NODES, Node, Provider

RUNNING, STOPPED, PARTIAL = "running", "stopped", "partial"
# A node container of the cluster is gone (removed outside nestkube): it cannot run whole.
DEGRADED = "degraded"


def node_network(node: Node) -> str:
    """The engine network the node runs on (nodes made before the label: nestkube-<cluster>)."""
    return node.labels.get(LABEL_NETWORK, network_name(node.cluster))


def removed_if_missing(provider: Provider, cluster: str, nodes: Sequence[Node]) -> list[str]:
    """The nodes `delete node` removed from ``cluster``, asked of the engine only when the
    labels alone say a node is missing (a listing needs one engine call otherwise)."""
    return provider.removed_nodes(cluster) if missing_nodes(nodes) else []


def is_running(node: Node) -> bool:
    # Podman and Docker say "running"; some engine versions say "Up ...".
    state = node.state.lower()
    return state == "running" or state.startswith("up")


def missing_nodes(nodes: Sequence[Node], removed: Collection[str] = ()) -> list[str]:
    """The names of the cluster's containers that no longer exist, sorted.

    Every container names all of them (LABEL_NODES) as they were when it was made, but those
    `delete node` removed (``removed``, see Provider.record_removed_node); for clusters made
    before that label, only a missing control plane is known (every cluster has one).
    """
    expected = {name for n in nodes for name in n.labels.get(LABEL_NODES, "").split(",") if name}
    expected -= set(removed)
    present = {n.name for n in nodes}
    gone = sorted(expected - present)
    if nodes and not expected and not any(n.role == "control-plane" for n in nodes):
        gone = [f"{nodes[0].cluster}-control-plane"]
    return gone


def cluster_state(
    nodes: Sequence[Node], *, creating: bool = False, removed: Collection[str] = ()
) -> str:
    """running (every node runs), stopped (none does), partial (some do), or degraded (a
    node's container is gone, whatever the others do). While a create runs (``creating``)
    its workers are made after the control plane: none of them counts as missing then."""
    if not creating and missing_nodes(nodes, removed):
        return DEGRADED
    up = sum(1 for n in nodes if is_running(n))
    if nodes and up == len(nodes):
        return RUNNING
    return STOPPED if up == 0 else PARTIAL
