"""Registries and mirrors at create: the registries the config names joined to the cluster's
network, and every node's containerd told where to pull from (``config_path`` and one
``hosts.toml`` per registry name, :mod:`nestkube.kubeadm.registries`), or CRI-O (a
registries.conf drop-in).

The hosts files live in the node's own filesystem, so a node's restart keeps them.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from nestkube.create.context import CreateContext
from nestkube.errors import ClusterError
from nestkube.kubeadm.registries import (
    CONFIG_PATH_PATCH,
    CRIO_REGISTRIES,
    REGISTRY_PORT,
    crio_registries_conf,
    hosts_files,
    local_registry_hosting,
)
from nestkube.providers.base import (
    LABEL_REGISTRY,
    LABEL_REGISTRY_ADDRESS,
    LABEL_REGISTRY_PORT,
    Service,
)


def wanted(ctx: CreateContext) -> bool:
    return bool(ctx.config.registries)


def find_registries(ctx: CreateContext) -> list[Service]:
    """The registries the config names, in its order; a one-line error naming the first that
    does not exist. Create asks before it makes anything."""
    if not ctx.config.registries:
        return []
    found = {s.labels.get(LABEL_REGISTRY, s.name): s for s in ctx.provider.services(LABEL_REGISTRY)}
    for name in ctx.config.registries:
        if name not in found:
            raise ClusterError(
                f"no registry named {name!r} (make one with `nestkube registry create {name}`)"
            )
    return [found[name] for name in ctx.config.registries]


def attach_registries(ctx: CreateContext) -> None:
    """Each registry the config names, joined to the cluster's network at an address of its
    own (pinned below the nodes' where the engine pins addresses, so a restart keeps it: the
    nodes' resolver does not know containers' names); that address recorded for the nodes'
    hosts files."""
    for i, service in enumerate(find_registries(ctx)):
        name = ctx.config.registries[i]
        address = service.labels.get(LABEL_REGISTRY_ADDRESS, "127.0.0.1")
        host = "localhost" if address in ("127.0.0.1", "0.0.0.0", "") else address
        port = service.labels.get(LABEL_REGISTRY_PORT, "")
        if ctx.network not in service.networks:
            # The nodes take the top addresses (create.provision); the registries those below.
            wanted = len(ctx.containers) + i + 1
            pinned = ctx.provider.fixed_addresses(ctx.network, wanted)
            ip = pinned[-1] if len(pinned) == wanted else None
            ctx.provider.connect_network(ctx.network, service.name, ip)
        ip = ctx.provider.node_ip(service.name, ctx.network)
        ctx.registry_addresses[name] = ip
        ctx.registry_hosts[f"{host}:{port}"] = f"http://{ip}:{REGISTRY_PORT}"


def registry_hosts(ctx: CreateContext) -> dict[str, str]:
    """Registry name -> endpoint for every node: attached registries, then mirrors (a mirror
    URL naming an attached registry by its name gets its address)."""
    mirrors = {}
    for upstream, url in ctx.config.registry_mirrors.items():
        parts = urlsplit(url)
        ip = ctx.registry_addresses.get(parts.hostname or "")
        if ip is not None:
            url = parts._replace(netloc=f"{ip}:{parts.port or REGISTRY_PORT}").geturl()
        mirrors[upstream] = url
    return {**ctx.registry_hosts, **mirrors}


def containerd_patches(ctx: CreateContext) -> list[str]:
    """The patch that gives containerd its hosts directory, before the user's patches."""
    return [CONFIG_PATH_PATCH] if registry_hosts(ctx) else []


def node_files(ctx: CreateContext) -> dict[str, str]:
    """containerd's hosts files: one per registry name."""
    return hosts_files(registry_hosts(ctx))


def crio_node_files(ctx: CreateContext) -> dict[str, str]:
    """The same registries for CRI-O, in one registries.conf drop-in."""
    hosts = registry_hosts(ctx)
    return {CRIO_REGISTRIES: crio_registries_conf(hosts)} if hosts else {}


def manifest(ctx: CreateContext) -> list[str]:
    """The ``local-registry-hosting`` ConfigMap for the first attached registry."""
    if not ctx.registry_hosts:
        return []
    host, endpoint = next(iter(ctx.registry_hosts.items()))
    return [local_registry_hosting(host, endpoint.removeprefix("http://"))]
