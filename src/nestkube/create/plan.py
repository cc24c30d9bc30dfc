"""The plan of a create: every node's container, and the kubeadm parameters of each node.

Pure functions of the context (no engine call but a free port); the facade's dry run uses
them as create does.
"""

from __future__ import annotations

from dataclasses import replace

from nestkube.create import crio
from nestkube.create.context import CreateContext, CreatePlan
from nestkube.kubeadm import pod_cidrs
from nestkube.kubeadm.config import KubeadmParams
from nestkube.kubeadm.patches import apply_patches
from nestkube.names import network_name
from nestkube.nodeops import loadbalancer
from nestkube.providers.base import LABEL_NODES, NodeSpec
from nestkube.providers.engine import bracket_ipv6, client_address, free_port


def plan_nodes(ctx: CreateContext, default_image: str, *, chosen: bool = True) -> None:
    """Plan every node; ``chosen`` says the user named ``default_image`` (``--image``), so it
    serves every node that names none, CRI-O nodes too (their runtime is checked against its
    label); otherwise a CRI-O node gets the CRI-O default instead."""
    cfg = ctx.config
    network = network_name(cfg.name)
    names = cfg.node_names()
    api_port = cfg.networking.api_server_port
    # Several control planes: the load balancer publishes the API port, they publish none.
    first_cp = not loadbalancer.needed(sum(n.role == "control-plane" for n in cfg.nodes))
    cidrs: dict[str, str] = {}
    if not cfg.networking.disable_default_cni:
        planned = pod_cidrs.plan_pod_cidrs(cfg.networking.pod_subnet, len(names))
        cidrs = dict(zip(names, planned, strict=True))
    specs: list[NodeSpec] = []
    for name, node in zip(names, cfg.nodes, strict=True):
        port = 0
        if node.role == "control-plane" and first_cp:
            port = api_port or free_port(cfg.networking.api_server_address)
            first_cp = False
        specs.append(
            NodeSpec(
                name=name,
                role=node.role,
                image=node.image
                or (default_image if chosen else crio.default_image(node.runtime, default_image)),
                cluster=cfg.name,
                network=network,
                mounts=tuple(m.to_mount() for m in node.extra_mounts),
                port_mappings=tuple(p.to_port_mapping() for p in node.extra_port_mappings),
                api_server_address=cfg.networking.api_server_address,
                api_server_port=port,
                labels={pod_cidrs.CONTAINER_LABEL: cidrs[name]} if name in cidrs else {},
                nofile=cfg.ulimits.nofile if cfg.ulimits else None,
                nproc=cfg.ulimits.nproc if cfg.ulimits else None,
                dns_search=None
                if cfg.networking.dns_search is None
                else tuple(cfg.networking.dns_search),
            )
        )
    load_balancer = None
    if not first_cp and sum(s.role == "control-plane" for s in specs) > 1:
        port = api_port or free_port(cfg.networking.api_server_address)
        # Its image is built (or found) by the create itself: see ensure_load_balancer_image.
        load_balancer = loadbalancer.plan(cfg.name, network, "", specs[0], port)
    ctx.plan = CreatePlan(network, tuple(specs), cidrs, load_balancer)
    label_members(ctx)


def label_members(ctx: CreateContext) -> None:
    """Each container carries the names of all the cluster's containers (LABEL_NODES)."""
    members = ",".join(s.name for s in ctx.containers)

    def labelled(spec: NodeSpec) -> NodeSpec:
        return replace(spec, labels={**spec.labels, LABEL_NODES: members})

    lb = ctx.load_balancer
    ctx.plan = replace(
        ctx.plan,
        specs=tuple(labelled(s) for s in ctx.specs),
        load_balancer=None if lb is None else labelled(lb),
    )


def node_params(ctx: CreateContext, spec: NodeSpec) -> KubeadmParams:
    cfg = ctx.config
    bootstrap = ctx.control_planes[0]
    cp_ip = ctx.node_ips[bootstrap.name]
    lb = ctx.load_balancer
    # Everyone reaches the API servers through the load balancer when there is one.
    endpoint_ip = ctx.node_ips[lb.name] if lb is not None else cp_ip
    sans = (
        "localhost",
        "127.0.0.1",
        bootstrap.name,
        cp_ip,
        client_address(bootstrap.api_server_address),
        *((lb.name, endpoint_ip) if lb is not None else ()),
    )
    return KubeadmParams(
        kubernetes_version=ctx.kubernetes_version,
        cluster_name=cfg.name,
        node_name=spec.name,
        node_ip=ctx.node_ips[spec.name],
        control_plane_endpoint=f"{bracket_ipv6(endpoint_ip)}:6443",
        api_server_cert_sans=tuple(dict.fromkeys(s for s in sans if s)),
        pod_subnet=cfg.networking.pod_subnet,
        service_subnet=cfg.networking.service_subnet,
        cgroup_driver=ctx.provider.info.cgroup_driver,
        rootless=ctx.provider.info.rootless,
        kube_proxy_mode=cfg.networking.kube_proxy_mode,
        feature_gates=dict(cfg.feature_gates),
        runtime_config=dict(cfg.runtime_config),
        node_labels=node_labels(ctx, spec),
        # nestkube plans the pod CIDRs (see kubeadm.pod_cidrs); a CNI of the user's own may
        # want the controller manager's.
        allocate_node_cidrs=spec.name not in ctx.pod_cidrs,
        leader_election=len(ctx.control_planes) > 1,
        token=ctx.token,
        control_plane=spec.role == "control-plane",
        untainted=not ctx.workers,
        certificate_key=ctx.certificate_key
        if lb is not None and spec.role == "control-plane"
        else None,
        # Carried in the init config from v1beta3 on (see kubeadm_init for older versions).
        skip_phases=init_skip_phases(ctx) if spec.name == ctx.bootstrap_node else (),
        cluster_dns=None if dns_addon(ctx) else NO_DNS_NAMESERVERS,
        etcd_image_tag=ctx.image_tags.get("etcd"),
        resolv_conf=ctx.pod_resolv_conf,
        host_cgroup_v1=not ctx.provider.info.cgroup_v2,
        cri_socket=crio.cri_socket(ctx.node_runtimes.get(spec.name, "containerd")),
        kubelet_serving_certificates=cfg.metrics_server,
    )


def node_labels(ctx: CreateContext, spec: NodeSpec) -> dict[str, str]:
    """The config's labels, and the planned pod CIDR the node's peers route by."""
    labels = dict(ctx.config.nodes[ctx.specs.index(spec)].labels)
    if spec.name in ctx.pod_cidrs:
        labels[pod_cidrs.NODE_LABEL] = pod_cidrs.label_value(ctx.pod_cidrs[spec.name])
    return labels


# The nameserver ClusterFirst pods get when no DNS addon runs: the pod's own loopback, where
# nothing listens, so a lookup fails at once and never leaves the pod. kubeadm's default, the
# DNS Service address, has nothing behind it then, and queries to it went wherever the node
# routes them: out of the cluster, to whatever answers there.
NO_DNS_NAMESERVERS = ("127.0.0.1",)


def dns_addon(ctx: CreateContext) -> bool:
    """CoreDNS runs when the config wants it and the node image has it."""
    return ctx.config.dns_addon and not any("/coredns" in ref for ref in ctx.missing_images)


def init_skip_phases(ctx: CreateContext) -> tuple[str, ...]:
    phases = ["preflight"]
    if not dns_addon(ctx):
        phases.append("addon/coredns")
    if ctx.config.networking.kube_proxy_mode == "none":
        phases.append("addon/kube-proxy")
    return tuple(phases)


def patched_config(ctx: CreateContext, spec: NodeSpec, rendered: str) -> str:
    node_cfg = ctx.config.nodes[ctx.specs.index(spec)]
    strategic = [*ctx.config.kubeadm_config_patches, *node_cfg.kubeadm_config_patches]
    json6902 = [
        *ctx.config.kubeadm_config_patches_json6902,
        *node_cfg.kubeadm_config_patches_json6902,
    ]
    return apply_patches(rendered, strategic, json6902)
