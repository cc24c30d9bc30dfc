"""Stopping a cluster and starting it again, keeping every container, volume and kubeconfig entry.

A stopped node keeps its root filesystem and its /var volume, so Kubernetes' state (etcd,
certificates, kubelet config, CNI config) is all still there on start. What a container
restart loses is its network namespace: the routes to other nodes' pods and the masquerade
rule. The network agent in each node (nestkube-netd) writes them again at every boot; for
nodes of images without it, start writes them from the cluster's own state. Node addresses
must not change, since etcd, the API server's certificate, the kubelets and those routes name
them: create pins them (Podman and Docker), and start refuses, in one line, a node that came
back with another address rather than leave a cluster that half works.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Sequence
from datetime import datetime

import yaml

from nestkube.cluster_state import is_running, missing_nodes, node_network, removed_if_missing
from nestkube.errors import ClusterError
from nestkube.kubeadm import agent_access, pod_cidrs
from nestkube.nodeops import loadbalancer
from nestkube.nodeops.files import CNI_CONF, KUBECTL, quick
from nestkube.nodeops.network import forward_node_dns, routes_and_masquerade
from nestkube.providers.base import Node, Provider
from nestkube.status import SILENT, Status

KUBEADM_FLAGS = "/var/lib/kubelet/kubeadm-flags.env"
# How long start waits for the API server to answer after the containers are up.
API_TIMEOUT = 240.0
POLL = 2.0


def _nodes(provider: Provider, name: str) -> list[Node]:
    nodes = provider.list_nodes(name)
    if not nodes:
        raise ClusterError(f"no cluster named {name!r}")
    return nodes


def stop(provider: Provider, name: str, status: Status = SILENT) -> None:
    """Stop every node of ``name``: workers first, then the control planes, then the load
    balancer in front of them (if any), which they reach each other's API through."""
    nodes = _nodes(provider, name)
    with status.step(f"Stopping cluster {name!r}"):
        provider.stop_nodes([n for n in nodes if n.role == "worker"])
        provider.stop_nodes([n for n in nodes if n.role == "control-plane"])
        lb = loadbalancer.find(nodes)
        if lb is not None:
            provider.stop_nodes([lb])


def start(provider: Provider, name: str, *, wait: float = 300.0, status: Status = SILENT) -> None:
    """Start ``name``'s nodes (control planes first) and bring the cluster back.

    Waits for the API server, writes the pod routes again, then (``wait`` > 0) waits up to
    ``wait`` seconds for every node to be Ready with a kubelet that has reported since now.
    """
    containers = _nodes(provider, name)
    check_whole(name, containers, removed_if_missing(provider, name, containers))
    lb = loadbalancer.find(containers)
    nodes = loadbalancer.kubernetes_nodes(containers)
    bootstrap = next(n for n in nodes if n.role == "control-plane")
    network = node_network(bootstrap)
    since = time.time()
    with status.step(f"Starting the nodes of {name!r}"):
        # list_nodes sorts control planes first: etcd and the API server come up before
        # the kubelets that need them.
        for node in containers:
            if not is_running(node):
                provider.start_node(node)
        addresses = {n.name: provider.node_ip(n.name, network) for n in nodes}
        check_addresses(provider, addresses)
        if lb is not None:
            # The control planes' addresses as they are now.
            servers = {n.name: addresses[n.name] for n in nodes if n.role == "control-plane"}
            loadbalancer.configure(provider, lb.name, servers)
    with status.step("Waiting for the API server"):
        wait_api(provider, bootstrap.name, API_TIMEOUT)
    with status.step("Restoring pod routes"):
        restore_pod_network(provider, nodes, addresses)
        # A Docker node's embedded DNS comes back on new ports in a new network namespace.
        for name, address in addresses.items():
            forward_node_dns(provider, name, address)
    if wait > 0:
        with status.step("Waiting for nodes to be Ready"):
            wait_nodes_ready(provider, bootstrap.name, [n.name for n in nodes], since, wait)


def check_whole(name: str, containers: list[Node], removed: Sequence[str] = ()) -> None:
    """Every container the cluster was made with still exists (but those `delete node`
    removed); else a one-line refusal that names the missing ones, before anything starts."""
    gone = missing_nodes(containers, removed)
    if not gone:
        return
    which = f"node {gone[0]} is" if len(gone) == 1 else f"nodes {', '.join(gone)} are"
    raise ClusterError(
        f"cluster {name!r} cannot start: {which} gone (removed outside nestkube), so it cannot "
        f"run whole again; nothing was started. Delete the cluster and create it again: "
        f"nestkube delete cluster --name {name}"
    )


def check_addresses(provider: Provider, addresses: dict[str, str]) -> None:
    """Every node has the address its kubelet (and etcd, and the certificates) was set up on."""
    for node, current in addresses.items():
        text = provider.exec(
            node, ["cat", KUBEADM_FLAGS], check=False, what="reading kubelet flags", timeout=quick()
        ).stdout
        recorded = kubelet_node_ip(text)
        if recorded and recorded != current:
            raise ClusterError(
                f"node {node} came back with address {current}, but the cluster was set up "
                f"with {recorded}; this engine did not keep the node's address, so the cluster "
                "cannot work again: delete it and create it again"
            )


def kubelet_node_ip(flags_env: str) -> str:
    """The ``--node-ip`` in kubeadm's kubelet flags file, or "" when there is none."""
    for line in flags_env.splitlines():
        _, _, value = line.partition("=")
        # KUBELET_KUBEADM_ARGS="--a=b --node-ip=X ...": unquote, then split into flags.
        for word in " ".join(shlex.split(value)).split():
            if word.startswith("--node-ip="):
                return word.split("=", 1)[1]
    return ""


def wait_api(provider: Provider, node: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        res = provider.exec(
            node, [*KUBECTL, "get", "--raw", "/readyz"], check=False, timeout=quick()
        )
        if res.ok:
            return
        if time.monotonic() > deadline:
            last = (res.stderr or res.stdout).strip().splitlines()
            why = f": {last[-1]}" if last else ""
            raise ClusterError(
                f"the API server in {node} did not answer within {int(timeout)}s{why}"
            )
        time.sleep(POLL)


def restore_pod_network(provider: Provider, nodes: list[Node], addresses: dict[str, str]) -> None:
    """Routes and masquerading on the nodes that have no agent to do it, from the cluster's
    state: each node's pod CIDR (planned, on its container), its current address (the
    engine) and the pod subnet (kubeadm's ClusterConfiguration)."""
    bootstrap = next(n for n in nodes if n.role == "control-plane").name
    if not provider.exec(bootstrap, ["test", "-f", CNI_CONF], check=False, timeout=quick()).ok:
        return  # disableDefaultCNI: the user's CNI owns the pod network
    by_agent = [n.name for n in nodes if has_agent(provider, n.name)]
    if len(by_agent) == len(nodes):
        return
    cidrs = planned_pod_cidrs(nodes) or api_pod_cidrs(provider, bootstrap)
    cidrs = {name: cidr for name, cidr in cidrs.items() if name in addresses}
    routes_and_masquerade(
        provider, cidrs, addresses, pod_subnet(provider, bootstrap), skip=by_agent
    )


def has_agent(provider: Provider, node: str) -> bool:
    """Whether ``node`` runs nestkube-netd with its credentials (node images since the agent
    exists, clusters of Kubernetes 1.24 and later)."""
    return provider.exec(
        node, ["test", "-f", agent_access.KUBECONFIG], check=False, timeout=quick()
    ).ok


def planned_pod_cidrs(nodes: list[Node]) -> dict[str, str]:
    """Each node's pod CIDR as create planned it (empty for clusters made before planning)."""
    return {
        n.name: n.labels[pod_cidrs.CONTAINER_LABEL]
        for n in nodes
        if pod_cidrs.CONTAINER_LABEL in n.labels
    }


def api_pod_cidrs(provider: Provider, bootstrap: str) -> dict[str, str]:
    """Each node's pod CIDR as the controller manager assigned it (clusters made before
    create planned them)."""
    listed = json.loads(
        provider.exec(
            bootstrap,
            [*KUBECTL, "get", "nodes", "-o", "json"],
            what="listing nodes",
            timeout=quick(),
        ).stdout
    )
    return {
        item["metadata"]["name"]: item["spec"]["podCIDR"]
        for item in listed.get("items", [])
        if item.get("spec", {}).get("podCIDR")
    }


def pod_subnet(provider: Provider, bootstrap: str) -> str:
    text = provider.exec(
        bootstrap,
        [
            *KUBECTL,
            "get",
            "configmap",
            "-n",
            "kube-system",
            "kubeadm-config",
            "-o",
            "jsonpath={.data.ClusterConfiguration}",
        ],
        what="reading kubeadm's ClusterConfiguration",
        timeout=quick(),
    ).stdout
    subnet = (yaml.safe_load(text) or {}).get("networking", {}).get("podSubnet", "")
    if not subnet:
        raise ClusterError("kubeadm's ClusterConfiguration names no pod subnet")
    return str(subnet)


def wait_nodes_ready(
    provider: Provider, bootstrap: str, names: list[str], since: float, timeout: float
) -> None:
    """Every node Ready, and its kubelet's lease renewed after ``since`` (a node object
    still says Ready from before the stop until the controller notices it went away)."""
    deadline = time.monotonic() + timeout
    waiting = sorted(names)
    while True:
        waiting = sorted(set(names) - _ready_since(provider, bootstrap, since))
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise ClusterError(
                f"nodes not Ready within {int(timeout)}s after start: {', '.join(waiting)}"
            )
        time.sleep(POLL)


def _ready_since(provider: Provider, bootstrap: str, since: float) -> set[str]:
    nodes = provider.exec(
        bootstrap, [*KUBECTL, "get", "nodes", "-o", "json"], check=False, timeout=quick()
    )
    leases = provider.exec(
        bootstrap,
        [*KUBECTL, "get", "leases", "-n", "kube-node-lease", "-o", "json"],
        check=False,
        timeout=quick(),
    )
    if not (nodes.ok and leases.ok):
        return set()
    ready = {
        item["metadata"]["name"]
        for item in json.loads(nodes.stdout).get("items", [])
        if any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in item.get("status", {}).get("conditions", [])
        )
    }
    renewed = {
        item["metadata"]["name"]
        for item in json.loads(leases.stdout).get("items", [])
        if _timestamp(item.get("spec", {}).get("renewTime", "")) >= since
    }
    return ready & renewed


def _timestamp(text: object) -> float:
    """An RFC 3339 time (Kubernetes' MicroTime) as seconds since the epoch; 0 if unreadable."""
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
