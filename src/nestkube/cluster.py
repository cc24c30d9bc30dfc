"""The public facade: what the CLI does, as a typed Python API.

import nestkube
cluster = nestkube.create_cluster(nestkube.default_config("dev", workers=2))
print(cluster.context)        # nestkube-dev
nestkube.delete_cluster("dev")
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from nestkube.cluster_state import (
    cluster_state,
    is_running,
    missing_nodes,
    node_network,
    removed_if_missing,
)
from nestkube.defaults import DEFAULT_KUBERNETES_VERSION
from nestkube.errors import ClusterError, CommandError, CommandTimeout
from nestkube.names import cluster_name, network_name
from nestkube.providers import get_provider
from nestkube.providers.base import LABEL_ROOTLESS, Node, Provider
from nestkube.status import SILENT, Status

# The create pipeline, the config models (pydantic), kubeconfig (yaml) and the image builder
# are imported by the functions that use them: listing clusters needs none of them, and the
# CLI's `get clusters` should start in a fraction of the time they take to import.
if TYPE_CHECKING:
    from nestkube.config import ClusterConfig
    from nestkube.create.context import CreateContext
    from nestkube.registry import Registry

    DEFAULT_IMAGE: str


_T = TypeVar("_T")


def _default_image() -> str:
    from nestkube.images.node_image import default_node_image

    return default_node_image(DEFAULT_KUBERNETES_VERSION)


def __getattr__(name: str) -> object:
    # DEFAULT_IMAGE is computed on first use: the image builder is heavy to import (PEP 562).
    if name == "DEFAULT_IMAGE":
        return _default_image()
    raise AttributeError(f"module 'nestkube.cluster' has no attribute {name!r}")


@dataclass(frozen=True)
class Cluster:
    """A cluster that exists: its name, engine and nodes."""

    name: str
    provider: str
    nodes: tuple[Node, ...] = field(default=())
    kubeconfig_path: Path | None = None
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def context(self) -> str:
        from nestkube import kubeconfig

        return kubeconfig.context_name(self.name)


def parse_duration(text: str) -> float:
    """'0', '90s', '5m', '1h30m' -> seconds (Go-style, as kind's --wait takes)."""
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s)", text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise ClusterError(f"invalid duration {text!r}: use e.g. 90s, 5m or 1h")
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(a) * scale[b] for a, b in parts)


# Which engine a facade function uses: a handle the caller already has (resolved and probed
# once, then passed down), or an engine's name, or None for the first engine that answers.
EngineChoice = Provider | str | None


def resolve_engine(choice: EngineChoice, configured: str | None = None) -> Provider:
    """The handle ``choice`` names; a name (or none) is resolved, ``configured`` (a config's
    ``provider``) standing in when the caller named no engine."""
    if choice is None or isinstance(choice, str):
        return get_provider(choice or configured)
    return choice


def create_cluster(
    config: ClusterConfig,
    *,
    provider: EngineChoice = None,
    image: str | None = None,
    kubeconfig_path: str | None = None,
    wait: float = 300.0,
    retain: bool = False,
    status: Status = SILENT,
) -> Cluster:
    """Create the cluster ``config`` describes; on failure nothing is left unless ``retain``."""
    from nestkube import kubeconfig
    from nestkube.create import pipeline, plan
    from nestkube.create.context import CreateContext

    cluster_name(config.name)
    prov = resolve_engine(provider, config.provider)
    ctx = CreateContext(
        config=config,
        provider=prov,
        status=status,
        kubeconfig=kubeconfig_path,
        wait_seconds=wait,
        retain=retain,
    )
    plan.plan_nodes(ctx, image or _default_image(), chosen=image is not None)
    pipeline.run(ctx)
    return Cluster(
        name=config.name,
        provider=prov.info.name,
        nodes=tuple(prov.list_nodes(config.name)),
        kubeconfig_path=kubeconfig.write_target(kubeconfig_path),
        timings=dict(status.timings),
    )


def plan_cluster(
    config: ClusterConfig, *, provider: EngineChoice = None, image: str | None = None
) -> CreateContext:
    """What create would do, without touching the engine beyond probing it (for --dry-run)."""
    from nestkube.create import plan
    from nestkube.create.context import CreateContext

    prov = resolve_engine(provider, config.provider)
    ctx = CreateContext(config=config, provider=prov, status=SILENT)
    plan.plan_nodes(ctx, image or _default_image(), chosen=image is not None)
    return ctx


def delete_cluster(
    name: str,
    *,
    provider: EngineChoice = None,
    kubeconfig_path: str | None = None,
    status: Status = SILENT,
) -> bool:
    """Delete a cluster's nodes, volumes, network and kubeconfig entries.

    Deleting a cluster that does not exist succeeds (returns False), as in kind.
    """
    from nestkube import kubeconfig

    cluster_name(name)
    prov, nodes = _lazily(provider, lambda p: p.list_nodes(name))
    networks = {node_network(n) for n in nodes}
    networks.add(network_name(name))

    def remove() -> None:
        from nestkube.service_ports import forwarders

        # The Services' forwarders first: they hold the network too.
        for forwarder in forwarders(prov, name):
            prov.remove_service(forwarder, [])
        prov.delete_nodes(nodes)
        for volume in prov.cluster_volumes(name):
            prov.remove_volume(volume)
        for network in networks:
            prov.delete_network_if_unused(network)
        kubeconfig.remove_cluster(name, kubeconfig_path)

    if not nodes:
        # No cluster: what a killed create may have left is still cleared, without a
        # progress line (and its tick) for a deletion that did not happen.
        remove()
        return False
    with status.step(f"Deleting cluster {name!r}"):
        remove()
    return True


def publish_services(
    name: str,
    *,
    address: str = "127.0.0.1",
    provider: EngineChoice = None,
    status: Status = SILENT,
) -> list[dict[str, object]]:
    """Publish every LoadBalancer Service of ``name`` that has an address on host ports of
    ``address`` (see :mod:`nestkube.service_ports`); each port and where the host reaches it."""
    from nestkube import service_ports

    cluster_name(name)
    prov = resolve_engine(provider)
    published = service_ports.publish_services(prov, name, address=address, status=status)
    return [p.as_dict() for p in published]


def create_registry(
    name: str,
    *,
    port: int = 5001,
    address: str = "127.0.0.1",
    proxy_remote_url: str | None = None,
    provider: EngineChoice = None,
    status: Status = SILENT,
) -> Registry:
    """Run a local registry published on ``address:port`` (see :mod:`nestkube.registry`)."""
    from nestkube import registry

    return registry.create_registry(
        resolve_engine(provider),
        name,
        port=port,
        address=address,
        proxy_remote_url=proxy_remote_url,
        status=status,
    )


def delete_registry(
    name: str,
    *,
    provider: EngineChoice = None,
    status: Status = SILENT,
) -> bool:
    """Remove a registry and its storage; False when there was none."""
    from nestkube import registry

    return registry.delete_registry(resolve_engine(provider), name, status=status)


def list_registries(*, provider: EngineChoice = None) -> list[Registry]:
    from nestkube import registry

    return registry.list_registries(resolve_engine(provider))


def registry_logs(name: str, *, provider: EngineChoice = None) -> str:
    from nestkube import registry

    return registry.registry_logs(resolve_engine(provider), name)


def list_clusters(*, provider: EngineChoice = None) -> list[str]:
    return list(cluster_nodes(provider=provider))


def cluster_nodes(*, provider: EngineChoice = None) -> dict[str, list[Node]]:
    """Every cluster's nodes by name, from one engine call: listing needs no engine facts."""
    return _lazily(provider, lambda p: p.cluster_nodes())[1]


def cluster_states(*, provider: EngineChoice = None) -> dict[str, str]:
    """Every cluster's state by name (see :func:`nestkube.cluster_state.cluster_state`): one
    engine call, and one more per cluster a node of which is missing by its labels."""
    from nestkube.create.claim import in_progress

    prov, listed = _lazily(provider, lambda p: p.cluster_nodes())
    states = {}
    for name, nodes in listed.items():
        creating = in_progress(name)
        removed = [] if creating else removed_if_missing(prov, name, nodes)
        states[name] = cluster_state(nodes, creating=creating, removed=removed)
    return states


def _lazily(choice: EngineChoice, ask: Callable[[Provider], _T]) -> tuple[Provider, _T]:
    """The engine and what ``ask`` gets from it, asking the first engine found unprobed:
    listing and reading nodes needs no engine facts, so they are probed only when used.

    Should that engine fail ``ask``, the engines are probed in turn as for any other
    command (so another one that answers is used, and the error is the same); a hung engine
    is not asked twice.
    """
    if choice is not None and not isinstance(choice, str):
        return choice, ask(choice)
    prov = get_provider(choice, probe=False)
    try:
        return prov, ask(prov)
    except CommandTimeout:
        raise
    except CommandError:
        prov = get_provider(choice)
        return prov, ask(prov)


def list_nodes(name: str, *, provider: EngineChoice = None) -> list[Node]:
    cluster_name(name)
    nodes = _lazily(provider, lambda p: p.list_nodes(name))[1]
    if not nodes:
        raise ClusterError(f"no cluster named {name!r}")
    return nodes


def cluster_info(name: str, *, provider: EngineChoice = None) -> dict[str, object]:
    """A summary of one cluster for `get clusters -o json`."""
    cluster_name(name)
    prov, nodes = _lazily(provider, lambda p: p.list_nodes(name))
    return _summary(prov, name, nodes)


def clusters_info(*, provider: EngineChoice = None) -> list[dict[str, object]]:
    """:func:`cluster_info` of every cluster, from one listing of the engine's containers."""
    prov, listed = _lazily(provider, lambda p: p.cluster_nodes())
    return [_summary(prov, name, nodes) for name, nodes in listed.items()]


def _summary(prov: Provider, name: str, nodes: list[Node]) -> dict[str, object]:
    from nestkube import kubeconfig
    from nestkube.create.claim import in_progress
    from nestkube.images.node_image import LABEL_K8S_VERSION

    creating = in_progress(name)
    removed = [] if creating else removed_if_missing(prov, name, nodes)
    # Containers carry their image's labels, so the node image's version shows up here too.
    version = nodes[0].labels.get(LABEL_K8S_VERSION, "") if nodes else ""
    return {
        "name": name,
        "provider": prov.name,
        "rootless": _rootless(prov, nodes),
        "kubernetesVersion": version,
        "context": kubeconfig.context_name(name),
        "state": cluster_state(nodes, creating=creating, removed=removed),
        "nodes": [{"name": n.name, "role": n.role, "state": n.state} for n in nodes],
        # Containers the cluster was made with that no longer exist (state "degraded").
        "missingNodes": [] if creating else missing_nodes(nodes, removed),
    }


def _rootless(prov: Provider, nodes: list[Node]) -> bool:
    """The mode the nodes were made in, as they are labelled; the engine's facts only for
    nodes made before that label (probed once per engine)."""
    recorded = nodes[0].labels.get(LABEL_ROOTLESS) if nodes else None
    if recorded in ("true", "false"):
        return recorded == "true"
    return prov.info.rootless


def get_kubeconfig(
    name: str,
    *,
    internal: bool = False,
    provider: EngineChoice = None,
) -> str:
    """The cluster's kubeconfig text; ``internal`` addresses the API server inside the network."""
    from nestkube import kubeconfig

    cluster_name(name)
    prov, node = _lazily(provider, lambda p: _control_plane(p, name))
    admin, server = _admin_and_server(prov, node, internal)
    return kubeconfig.build_kubeconfig(admin, name, server)


def export_kubeconfig(
    name: str,
    *,
    kubeconfig_path: str | None = None,
    internal: bool = False,
    provider: EngineChoice = None,
) -> Path:
    """Merge the cluster's entries into the kubeconfig; ``internal`` as for get_kubeconfig."""
    from nestkube import kubeconfig

    cluster_name(name)
    prov, node = _lazily(provider, lambda p: _control_plane(p, name))
    admin, server = _admin_and_server(prov, node, internal)
    return kubeconfig.merge_cluster(admin, name, server, kubeconfig_path)


def _admin_and_server(prov: Provider, node: Node, internal: bool) -> tuple[str, str]:
    """The node's admin kubeconfig and the API server address a client should use.

    Internal: the control-plane node's address on the cluster's engine network and the API
    server's own port, which is how a container on that network reaches it (the host port is
    published on the host only). kind uses the node's name; a name resolves only on networks
    that run a DNS server, which Podman's CNI networks do not, while the address is pinned
    across restarts and is in the API server's certificate.
    """
    from nestkube.nodeops import loadbalancer
    from nestkube.nodeops.access import admin_kubeconfig

    admin, server = admin_kubeconfig(prov, node)
    if internal:
        # Several control planes: their load balancer, pinned and in the certificate too.
        target = loadbalancer.find(prov.list_nodes(node.cluster)) or node
        server = f"https://{prov.node_ip(target.name, node_network(node))}:6443"
    return admin, server


def _control_plane(prov: Provider, name: str) -> Node:
    """The first control-plane node of cluster ``name`` (list_nodes sorts them first)."""
    cluster_name(name)
    nodes = [n for n in prov.list_nodes(name) if n.role == "control-plane"]
    if not nodes:
        raise ClusterError(f"no cluster named {name!r}")
    return nodes[0]


def dry_run_plan(
    config: ClusterConfig, *, provider: EngineChoice = None, image: str | None = None
) -> dict[str, object]:
    """The resolved plan as data: config, each node's engine argv, the kubeadm configs.

    Node addresses are not known before the engine assigns them, so the kubeadm configs show
    placeholders where the addresses go. When create would refuse the plan (a node image it
    cannot use, a missing mount), ``refusal`` says why, first.
    """
    from nestkube.config import to_document
    from nestkube.create import checks
    from nestkube.create import plan as create_plan
    from nestkube.kubeadm.config import render_init_config, render_join_config

    ctx = plan_cluster(config, provider=provider, image=image)
    prov = ctx.provider
    # The checks create makes of the plan before it makes anything: a plan create would
    # refuse says so (``refusal``), and shows no Kubernetes version it would not run.
    refusal = ""
    try:
        checks.check_mounts(ctx)
        checks.read_image_facts(ctx)
    except ClusterError as exc:
        refusal = str(exc)
    version = ctx.kubernetes_version if not refusal else ""
    # The kubeadm configs need some version to render; a refused plan shows the default's.
    ctx.kubernetes_version = version or DEFAULT_KUBERNETES_VERSION
    for i, spec in enumerate(ctx.containers):
        ctx.node_ips[spec.name] = f"<{spec.name}-address>" if i else "<control-plane-address>"
    nodes = []
    for spec in ctx.specs:
        params = create_plan.node_params(ctx, spec)
        rendered = (
            render_init_config(params)
            if spec.name == ctx.bootstrap_node
            else render_join_config(params)
        )
        nodes.append(
            {
                "name": spec.name,
                "role": spec.role,
                "image": spec.image,
                "run": [prov.info.binary, *prov.node_run_args(spec)],
                "kubeadmConfig": create_plan.patched_config(ctx, spec, rendered),
            }
        )
    if ctx.load_balancer is not None:
        from dataclasses import replace

        from nestkube.images.lb_image import REPOSITORY

        # Its image is built (or found) by the create itself, tagged by content.
        lb = replace(ctx.load_balancer, image=f"{REPOSITORY}:<content key>")
        nodes.append(
            {
                "name": lb.name,
                "role": lb.role,
                "image": lb.image,
                "run": [prov.info.binary, *prov.node_run_args(lb)],
            }
        )
    plan: dict[str, object] = {"refusal": refusal} if refusal else {}
    return plan | {
        "provider": prov.info.name,
        "rootless": prov.info.rootless,
        "kubernetesVersion": version or None,
        "network": ctx.network,
        "config": to_document(config),
        "nodes": nodes,
    }


def stop_cluster(
    name: str,
    *,
    provider: EngineChoice = None,
    status: Status = SILENT,
) -> None:
    """Stop a cluster's nodes; containers, volumes and kubeconfig entries all stay."""
    from nestkube import lifecycle

    cluster_name(name)
    lifecycle.stop(resolve_engine(provider), name, status)


def add_node(
    name: str,
    *,
    role: str = "worker",
    provider: EngineChoice = None,
    wait: float = 300.0,
    status: Status = SILENT,
) -> str:
    """Add a node to the running cluster ``name`` and wait for it to be Ready (``wait`` > 0);
    its name. Only workers can be added."""
    from nestkube.create import claim, resize

    cluster_name(name)
    if role != "worker":
        raise ClusterError(
            f"cannot add a {role!r} node: only workers can be added to a running cluster "
            "(etcd's membership and the HA load balancer would have to change with a control "
            "plane)"
        )
    prov = resolve_engine(provider)
    with claim.claimed(prov.info, name):
        containers = prov.list_nodes(name)
        _check_running_whole(prov, name, containers)
        return resize.add_worker(prov, name, containers, wait=wait, status=status)


def _check_running_whole(prov: Provider, name: str, containers: list[Node]) -> None:
    if not containers:
        raise ClusterError(f"no cluster named {name!r}")
    stopped = [c.name for c in containers if not is_running(c)]
    if stopped:
        raise ClusterError(
            f"cluster {name!r} is not running ({', '.join(stopped)} stopped): "
            f"start it first (nestkube start cluster --name {name})"
        )
    gone = missing_nodes(containers, prov.removed_nodes(name))
    if gone:
        raise ClusterError(f"cluster {name!r} is degraded ({', '.join(gone)} gone): nothing added")


def delete_node(
    name: str,
    node: str,
    *,
    provider: EngineChoice = None,
    status: Status = SILENT,
) -> None:
    """Drain a worker of ``name``, delete it from Kubernetes, remove its container and volume."""
    from nestkube.create import claim, resize
    from nestkube.nodeops import loadbalancer

    cluster_name(name)
    if not node or not node.strip():
        raise ClusterError("invalid node name '': give the node's name (nestkube get nodes)")
    prov = resolve_engine(provider)
    with claim.claimed(prov.info, name):
        containers = prov.list_nodes(name)
        if not containers:
            raise ClusterError(f"no cluster named {name!r}")
        found = next((c for c in containers if c.name == node), None)
        if found is None:
            names = ", ".join(c.name for c in loadbalancer.kubernetes_nodes(containers))
            raise ClusterError(f"cluster {name!r} has no node {node!r} (its nodes: {names})")
        if found.role != "worker":
            raise ClusterError(
                f"node {node} is a {found.role}: only workers can be removed (a cluster keeps "
                "the control planes its etcd was made with)"
            )
        control = next(c for c in containers if c.role == "control-plane")
        if not is_running(control):
            raise ClusterError(
                f"cluster {name!r} is not running: start it first (nestkube start cluster "
                f"--name {name})"
            )
        resize.remove_worker(
            prov, name, found, control.name, drain=is_running(found), status=status
        )


def start_cluster(
    name: str,
    *,
    provider: EngineChoice = None,
    wait: float = 300.0,
    status: Status = SILENT,
) -> None:
    """Start a stopped cluster again and wait for its API (and, ``wait`` > 0, Ready nodes)."""
    from nestkube import lifecycle

    cluster_name(name)
    lifecycle.start(resolve_engine(provider), name, wait=wait, status=status)
