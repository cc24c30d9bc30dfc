"""Booting and configuring the nodes: each node's runtime config, pod network and resolver in
one exec (:mod:`nestkube.nodeops.node_setup`), and DNS forwarding where it is needed."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from nestkube.create import crio, proxy, registries
from nestkube.create.context import CreateContext
from nestkube.errors import ClusterError
from nestkube.kubeadm import node_dns
from nestkube.kubeadm.cni import AGENT_ENV, agent_inputs, masquerade_rules, render_bridge_cni
from nestkube.kubeadm.containerd import render_containerd_config
from nestkube.nodeops import node_setup as node_setup_module
from nestkube.nodeops.files import CNI_CONF, CONTAINERD_CONF, quick
from nestkube.nodeops.network import forward_node_dns, pairs, peer_routes
from nestkube.providers.base import NodeSpec
from nestkube.providers.engine import LONG, engine_timeout

# kubeadm's kubelet-start phase (init and join) starts it.
KUBELET = ("kubelet",)


# How long a node's systemd may take to boot.
BOOT_WAIT = 60


def _restrict_oom(ctx: CreateContext) -> bool:
    wanted = ctx.config.restrict_oom_score_adj
    if wanted is not None:
        return wanted
    return ctx.provider.info.rootless or not ctx.provider.info.host.can_lower_oom_score_adj


def node_setup(ctx: CreateContext, spec: NodeSpec) -> tuple[node_setup_module.NodeSetup, float]:
    """What ``spec``'s node needs before its kubelet starts (see
    :mod:`nestkube.nodeops.node_setup`), and the time limit for it past systemd's boot: its
    runtime's config, and with nestkube's pod network the CNI config, routes to the peers
    whose address is known, the masquerade rule and the agent's inputs; the env file that
    starts the agent last."""
    sandbox = next((i for i in ctx.preloaded_images if "/pause:" in i), "k8s.gcr.io/pause:3.2")
    files: dict[str, str] = {}
    if ctx.node_runtimes.get(spec.name) == crio.CRIO:
        files[crio.DROP_IN] = crio.crio_config(
            pause_image=sandbox,
            cgroup_driver=ctx.provider.info.cgroup_driver,
            restrict_oom_score_adj=_restrict_oom(ctx),
        )
        # CRI-O's first start waits for its images to be copied into its store.
        unit, limit = "crio", engine_timeout(LONG)
        files |= registries.crio_node_files(ctx)
    else:
        files[CONTAINERD_CONF] = render_containerd_config(
            restrict_oom_score_adj=_restrict_oom(ctx),
            cgroup_driver=ctx.provider.info.cgroup_driver,
            sandbox_image=sandbox,
            patches=[*registries.containerd_patches(ctx), *ctx.config.containerd_config_patches],
            json6902=ctx.config.containerd_config_patches_json6902,
        )
        unit, limit = "containerd", quick()
        files |= registries.node_files(ctx)
    drop_ins = proxy.node_files(ctx, unit)
    files |= drop_ins
    reload = bool(drop_ins)
    cidr = ctx.pod_cidrs.get(spec.name)
    if cidr is None:
        setup = node_setup_module.NodeSetup(
            files, BOOT_WAIT, stop=KUBELET, restart=unit, reload_units=reload
        )
        return setup, limit
    subnet = ctx.config.networking.pod_subnet
    agent = agent_inputs(spec.name, cidr, subnet)
    env = agent.pop(AGENT_ENV)
    files |= {CNI_CONF: render_bridge_cni(cidr), **agent}
    setup = node_setup_module.NodeSetup(
        files,
        BOOT_WAIT,
        stop=KUBELET,
        restart=unit,
        reload_units=reload,
        routes=peer_routes(spec.name, ctx.pod_cidrs, ctx.node_ips),
        rules=pairs(masquerade_rules(subnet, cidr)),
        last_file=(AGENT_ENV, env),
    )
    return setup, limit


def set_up(
    ctx: CreateContext, spec: NodeSpec, setup: node_setup_module.NodeSetup, limit: float
) -> str:
    return node_setup_module.run_setup(ctx.provider, spec.name, setup, timeout=limit)


def configure_nodes(ctx: CreateContext) -> None:
    """The control planes' runtime config, pod network and resolvers, one exec each; the
    workers get theirs beside (:func:`nestkube.create.workers.prepare_workers`, which the
    pipeline starts next)."""

    def one(spec: NodeSpec) -> str:
        return set_up(ctx, spec, *node_setup(ctx, spec))

    with ThreadPoolExecutor(max_workers=4) as pool:
        resolvers = pool.map(one, ctx.control_planes)
        found = dict(zip([s.name for s in ctx.control_planes], resolvers, strict=True))
    route_node_dns(ctx, found, decide=True)


def route_node_dns(ctx: CreateContext, found: dict[str, str], *, decide: bool) -> None:
    """Give pods a resolver they can reach where a node's is on its loopback; ``found`` is
    each node's resolv.conf. The kubelet's resolvConf is the cluster's, set in init's
    config: the control planes ``decide`` it, and the workers, set up later, follow."""
    checked = {
        node: forward_node_dns(ctx.provider, node, ctx.node_ips[node], resolv)
        for node, resolv in found.items()
    }
    if decide:
        if all(rewritten is None for _, rewritten in checked.values()):
            return
        ctx.pod_resolv_conf = node_dns.POD_RESOLV_CONF
    elif ctx.pod_resolv_conf is None:
        odd = [node for node, (_, rewritten) in checked.items() if rewritten is not None]
        if odd:
            raise ClusterError(
                f"node {odd[0]} resolves through its loopback and the control plane does not: "
                "its pods would get a resolver they cannot reach"
            )
        return
    for node, (resolv, rewritten) in checked.items():
        write_file(ctx, node, node_dns.POD_RESOLV_CONF, rewritten or resolv)


def write_file(ctx: CreateContext, node: str, path: str, content: str) -> None:
    ctx.provider.exec(
        node,
        ["sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1"', "sh", path],
        input=content,
        what=f"writing {path} in {node}",
        timeout=quick(),
    )


def write_files(
    ctx: CreateContext, node: str, files: dict[str, str], *, private: Sequence[str] = ()
) -> None:
    """Several files in one exec (a tar on stdin), written in ``files``' order; those in
    ``private`` (credentials) readable by root only."""
    ctx.provider.exec(
        node,
        ["tar", "-x", "-C", "/", "-f", "-"],
        input=node_setup_module.tar_archive(files, private=private),
        what=f"writing {', '.join(files)} in {node}",
        timeout=quick(),
    )
