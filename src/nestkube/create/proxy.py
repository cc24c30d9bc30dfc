"""The nodes' HTTP proxy at create: the config's or the environment's
(:mod:`nestkube.kubeadm.proxy`), with the cluster's own addresses added to ``NO_PROXY``, set
for the runtime and the kubelet by systemd drop-ins written before either starts."""

from __future__ import annotations

from nestkube.create.context import CreateContext
from nestkube.kubeadm import proxy as proxy_config


def node_proxy(ctx: CreateContext) -> proxy_config.Proxy:
    """The proxy every node uses, ``NO_PROXY`` completed; empty without one."""
    found = proxy_config.resolve(ctx.config.proxy)
    if not found:
        return found
    net = ctx.config.networking
    names = [spec.name for spec in ctx.containers]
    addresses = [spec.ip for spec in ctx.containers if spec.ip] + list(ctx.node_ips.values())
    # The registries attached to the cluster's network are reached directly; other mirrors
    # go through the proxy unless the user's NO_PROXY names them.
    hosts = list(ctx.registry_addresses.values())
    extra = [net.pod_subnet, net.service_subnet, *names, *addresses, *hosts]
    return proxy_config.Proxy(found.http, found.https, proxy_config.no_proxy(found.no_proxy, extra))


def node_files(ctx: CreateContext, runtime_unit: str) -> dict[str, str]:
    """The drop-ins for the runtime's unit and the kubelet's; {} without a proxy."""
    return proxy_config.drop_ins(node_proxy(ctx), [runtime_unit, "kubelet"])
