"""A cluster's state from its node containers' states; light to import, for `get clusters`."""

from __future__ import annotations

from collections.abc import Sequence

from nestkube.providers.base import LABEL_NETWORK, Node

RUNNING, STOPPED, PARTIAL = "running", "stopped", "partial"


def node_network(node: Node) -> str:
    """The engine network the node runs on (nodes made before the label: nestkube-<cluster>)."""
    return node.labels.get(LABEL_NETWORK, f"nestkube-{node.cluster}")


def is_running(node: Node) -> bool:
    # Podman and Docker say "running"; some engine versions say "Up ...".
    state = node.state.lower()
    return state == "running" or state.startswith("up")


def cluster_state(nodes: Sequence[Node]) -> str:
    """running (every node runs), stopped (none does) or partial (some do)."""
    up = sum(1 for n in nodes if is_running(n))
    if nodes and up == len(nodes):
        return RUNNING
    return STOPPED if up == 0 else PARTIAL
