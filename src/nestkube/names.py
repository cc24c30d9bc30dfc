"""The one check every command that takes a cluster name makes first.

An empty name is never a cluster: engines treat an empty label value in a filter as "any
value", so letting one through would make `delete cluster --name ""` delete every cluster.
"""

from __future__ import annotations

from nestkube.errors import ClusterError

# The cluster a command means when it is given no name (kind's is "kind").
DEFAULT_NAME = "nestkube"


def cluster_name(name: str) -> str:
    """``name`` itself, or a one-line error when it is empty or only whitespace."""
    if not name or not name.strip():
        raise ClusterError(f"invalid cluster name {name!r}: a cluster name cannot be empty")
    if name != name.strip():
        raise ClusterError(
            f"invalid cluster name {name!r}: leading or trailing whitespace is not allowed"
        )
    return name


def network_name(cluster: str) -> str:
    """The engine network a cluster's nodes share (kind's are all on one, "kind")."""
    return f"nestkube-{cluster}"
