"""Reaching a cluster's API from the host: a control plane's admin kubeconfig."""

from __future__ import annotations

from nestkube.nodeops import loadbalancer
from nestkube.nodeops.files import ADMIN_CONF, quick
from nestkube.providers.base import Node, Provider
from nestkube.providers.engine import bracket_ipv6


def admin_kubeconfig(provider: Provider, node: Node) -> tuple[str, str]:
    """A control plane's admin.conf and the URL the cluster's API answers on from the host:
    the load balancer's published port when the cluster has one, else the node's."""
    admin = provider.exec(
        node.name, ["cat", ADMIN_CONF], what="reading admin.conf", timeout=quick()
    ).stdout
    published = loadbalancer.find(provider.list_nodes(node.cluster)) or node
    host, port = provider.api_server_endpoint(published)
    return admin, f"https://{bracket_ipv6(host)}:{port}"
