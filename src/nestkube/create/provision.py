"""The network and the containers: the control planes' and the load balancer's (the workers'
are made beside, by :mod:`nestkube.create.workers`), and the checks that need a node."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from nestkube.create.context import CreateContext
from nestkube.errors import HostError
from nestkube.nodeops import loadbalancer
from nestkube.nodeops.files import quick
from nestkube.providers.base import NodeSpec


def create_network(ctx: CreateContext) -> None:
    if not ctx.provider.network_exists(ctx.network):
        # Marked first: an interrupt while the engine creates it must still remove it.
        ctx.made.network = True
        ctx.provider.ensure_network(ctx.network, ctx.name)
    # Pinned addresses survive `stop`/`start`: etcd, certificates and routes name them (and
    # the load balancer's is the API server's endpoint).
    addresses = ctx.provider.fixed_addresses(ctx.network, len(ctx.containers))
    if addresses:
        specs = tuple(replace(s, ip=ip) for s, ip in zip(ctx.specs, addresses, strict=False))
        lb = ctx.load_balancer
        ctx.plan = replace(
            ctx.plan,
            specs=specs,
            load_balancer=None if lb is None else replace(lb, ip=addresses[-1]),
        )


def provision_nodes(ctx: CreateContext) -> None:
    """The control planes' containers (and the load balancer's); the workers are made later,
    beside `kubeadm init` (:func:`nestkube.create.workers.start_preparing_workers`)."""
    ctx.made.nodes = True
    create_containers(ctx, [s for s in ctx.containers if s.role != "worker"])


def create_containers(ctx: CreateContext, specs: Sequence[NodeSpec]) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(ctx.provider.create_node, specs))
    for spec in specs:
        # A pinned address is the node's: no inspect needed.
        ctx.node_ips[spec.name] = spec.ip or ctx.provider.node_ip(spec.name, ctx.network)


def ensure_load_balancer_image(ctx: CreateContext) -> None:
    """HAProxy's image, built on first use and found by its content key afterwards."""
    from nestkube.images.lb_image import ensure_lb_image

    assert ctx.load_balancer is not None
    built = ensure_lb_image(ctx.provider, ctx.status)
    ctx.plan = replace(ctx.plan, load_balancer=replace(ctx.load_balancer, image=built.image))


def configure_load_balancer(ctx: CreateContext) -> None:
    """Every control plane behind the load balancer from the start: its health check sends
    traffic to each one only once that one's API server is ready."""
    assert ctx.load_balancer is not None
    servers = {s.name: ctx.node_ips[s.name] for s in ctx.control_planes}
    loadbalancer.configure(ctx.provider, ctx.load_balancer.name, servers)


def check_kubelet_can_run(ctx: CreateContext) -> None:
    """A rootless kubelet needs cgroup v2 with delegation; say so instead of timing out later."""
    info = ctx.provider.info
    if not info.rootless:
        return
    node = ctx.bootstrap_node
    probe = ctx.provider.exec(
        node, ["stat", "-fc", "%T", "/sys/fs/cgroup"], check=False, timeout=quick()
    )
    fs_type = probe.stdout.strip()
    controllers = ""
    if fs_type == "cgroup2fs":
        controllers = ctx.provider.exec(
            node, ["cat", "/sys/fs/cgroup/cgroup.controllers"], check=False, timeout=quick()
        ).stdout
    needed = {"cpu", "memory", "pids"}
    have = set(controllers.split())
    if fs_type != "cgroup2fs" or not needed <= have:
        why = (
            f"the host uses cgroup {info.host.cgroup_mode}"
            if fs_type != "cgroup2fs"
            else f"controllers {', '.join(sorted(needed - have))} are not delegated"
        )
        raise HostError(
            f"a rootless kubelet cannot run on this host: {why}. Use cgroup v2 "
            "(boot with systemd.unified_cgroup_hierarchy=1) with Delegate=yes for "
            "user@.service (see `nestkube doctor --rootless`), or create the cluster rootful"
        )
