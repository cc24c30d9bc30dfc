"""The create pipeline's actions, run in order by :mod:`nestkube.create.pipeline`.

Each action is a small function of the context. Actions use the provider for everything on
nodes and run the node's own tools (kubeadm, kubectl, ip, iptables) through its exec.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from nestkube import doctor, kubeconfig
from nestkube.config.host_check import check_against_provider
from nestkube.create import crio, joins, loadbalancer
from nestkube.create import node_setup as node_setup_module
from nestkube.create.context import CreateContext
from nestkube.errors import ClusterError, CommandError, CommandTimeout, HostError
from nestkube.images.node_image import (
    LABEL_IMAGE_TAGS,
    LABEL_K8S_VERSION,
    LABEL_MISSING,
    LABEL_PRELOADED,
    parse_components_label,
)
from nestkube.kubeadm import agent_access, node_dns, pod_cidrs
from nestkube.kubeadm.cni import (
    AGENT_ENV,
    agent_inputs,
    masquerade_rules,
    render_bridge_cni,
    route_commands,
)
from nestkube.kubeadm.config import (
    CLUSTER_CA,
    KubeadmParams,
    render_discovery_kubeconfig,
    render_init_config,
    render_join_config,
    skip_phases_args,
)
from nestkube.kubeadm.containerd import render_containerd_config
from nestkube.kubeadm.patches import apply_patches
from nestkube.kubeadm.version import as_version
from nestkube.providers.base import LABEL_NODES, Node, NodeSpec, Provider
from nestkube.providers.engine import (
    CHANGE,
    LONG,
    bracket_ipv6,
    client_address,
    engine_timeout,
    free_port,
)

ADMIN_CONF = "/etc/kubernetes/admin.conf"
KUBECTL = ["kubectl", f"--kubeconfig={ADMIN_CONF}"]
KUBEADM_CONF = "/etc/nestkube/kubeadm.yaml"
KUBELET_CONF = "/etc/kubernetes/kubelet.conf"
CNI_CONF = "/etc/cni/net.d/10-nestkube.conflist"
CONTAINERD_CONF = "/etc/containerd/config.toml"
# kubeadm's kubelet-start phase (init and join) starts it.
KUBELET = ("kubelet",)
# How long a node's systemd may take to boot.
BOOT_WAIT = 60

T = TypeVar("T")


def quick() -> float:
    """The limit for a short command in a node (write a file, restart a service, kubectl)."""
    return engine_timeout(CHANGE)


def plan_nodes(ctx: CreateContext, default_image: str, *, chosen: bool = True) -> None:
    """Plan every node; ``chosen`` says the user named ``default_image`` (``--image``), so it
    serves every node that names none, CRI-O nodes too (their runtime is checked against its
    label); otherwise a CRI-O node gets the CRI-O default instead."""
    cfg = ctx.config
    ctx.network = f"nestkube-{cfg.name}"
    names = cfg.node_names()
    api_port = cfg.networking.api_server_port
    # Several control planes: the load balancer publishes the API port, they publish none.
    first_cp = not loadbalancer.needed(sum(n.role == "control-plane" for n in cfg.nodes))
    if not cfg.networking.disable_default_cni:
        planned = pod_cidrs.plan_pod_cidrs(cfg.networking.pod_subnet, len(names))
        ctx.pod_cidrs = dict(zip(names, planned, strict=True))
    for name, node in zip(names, cfg.nodes, strict=True):
        port = 0
        if node.role == "control-plane" and first_cp:
            port = api_port or free_port(cfg.networking.api_server_address)
            first_cp = False
        ctx.specs.append(
            NodeSpec(
                name=name,
                role=node.role,
                image=node.image
                or (default_image if chosen else crio.default_image(node.runtime, default_image)),
                cluster=cfg.name,
                network=ctx.network,
                mounts=tuple(m.to_mount() for m in node.extra_mounts),
                port_mappings=tuple(p.to_port_mapping() for p in node.extra_port_mappings),
                api_server_address=cfg.networking.api_server_address,
                api_server_port=port,
                labels={pod_cidrs.CONTAINER_LABEL: ctx.pod_cidrs[name]}
                if name in ctx.pod_cidrs
                else {},
                nofile=cfg.ulimits.nofile if cfg.ulimits else None,
                nproc=cfg.ulimits.nproc if cfg.ulimits else None,
                dns_search=None
                if cfg.networking.dns_search is None
                else tuple(cfg.networking.dns_search),
            )
        )
    if not first_cp and len(ctx.control_planes) > 1:
        port = api_port or free_port(cfg.networking.api_server_address)
        # Its image is built (or found) by the create itself: see ensure_load_balancer_image.
        ctx.load_balancer = loadbalancer.plan(cfg.name, ctx.network, "", ctx.specs[0], port)
    label_members(ctx)


def label_members(ctx: CreateContext) -> None:
    """Each container carries the names of all the cluster's containers (LABEL_NODES)."""
    members = ",".join(s.name for s in ctx.containers)

    def labelled(spec: NodeSpec) -> NodeSpec:
        return replace(spec, labels={**spec.labels, LABEL_NODES: members})

    ctx.specs = [labelled(s) for s in ctx.specs]
    if ctx.load_balancer is not None:
        ctx.load_balancer = labelled(ctx.load_balancer)


def preflight(ctx: CreateContext) -> None:
    """The doctor's checks for this engine and mode, and what the config asks of the host.

    They read files and already-probed facts only, so a host that cannot work fails here, in
    the doctor's words, before any container exists.
    """
    host_ports = [p.host_port for s in ctx.specs for p in s.port_mappings if p.host_port]
    doctor.raise_on_failures(
        doctor.preflight(ctx.provider.info, nodes=len(ctx.specs), host_ports=host_ports)
    )
    check_against_provider(ctx.config, ctx.provider.info)


def check_not_exists(ctx: CreateContext) -> None:
    """No node or volume of this cluster exists (run under the name's claim).

    Everything cleanup may remove is named by this create's plan, so the names must be free
    now: then whatever carries them later was made by this run.
    """
    if ctx.provider.list_nodes(ctx.name):
        # Under the claim no other create runs: these nodes are a cluster, or what a create
        # that was killed (SIGKILL, a lost host) left behind.
        raise ClusterError(already_exists(ctx.name))
    leftovers = ctx.provider.cluster_volumes(ctx.name)
    if leftovers:
        raise ClusterError(
            f"cluster {ctx.name!r} already exists: volumes {', '.join(sorted(leftovers))} are "
            f"left from it (remove them with `nestkube delete cluster --name {ctx.name}`)"
        )


def already_exists(name: str) -> str:
    return (
        f"cluster {name!r} already exists (or a create of it was killed before it finished); "
        f"delete it first: nestkube delete cluster --name {name}"
    )


def check_mounts(ctx: CreateContext) -> None:
    for spec in ctx.specs:
        for mount in spec.mounts:
            if not Path(mount.host_path).exists():
                raise ClusterError(
                    f"node {spec.name}: extraMounts hostPath {mount.host_path} does not exist"
                )


def read_image_facts(ctx: CreateContext) -> None:
    """Kubernetes version and missing images from the node image's labels."""
    images = {s.image for s in ctx.specs}
    for image in images:
        if not ctx.provider.image_exists(image):
            raise ClusterError(
                f"node image {image} not found in {ctx.provider.info.name}; "
                "build it with `nestkube build node-image`"
            )
    by_image = {image: ctx.provider.image_labels(image) for image in images}
    for spec, node in zip(ctx.specs, ctx.config.nodes, strict=False):
        ctx.node_runtimes[spec.name] = crio.check_runtime(
            spec.name, spec.image, node.runtime, by_image[spec.image]
        )
    labels = by_image[ctx.specs[0].image]
    ctx.kubernetes_version = labels.get(LABEL_K8S_VERSION, "")
    if not ctx.kubernetes_version:
        raise ClusterError(f"{ctx.specs[0].image} is not a nestkube node image (no version label)")
    ctx.missing_images = tuple(x for x in labels.get(LABEL_MISSING, "").split(",") if x)
    ctx.preloaded_images = tuple(x for x in labels.get(LABEL_PRELOADED, "").split(",") if x)
    ctx.image_tags = parse_components_label(labels.get(LABEL_IMAGE_TAGS, ""))


def create_network(ctx: CreateContext) -> None:
    if not ctx.provider.network_exists(ctx.network):
        # Marked first: an interrupt while the engine creates it must still remove it.
        ctx.network_created = True
        ctx.provider.ensure_network(ctx.network, ctx.name)
    # Pinned addresses survive `stop`/`start`: etcd, certificates and routes name them (and
    # the load balancer's is the API server's endpoint).
    addresses = ctx.provider.fixed_addresses(ctx.network, len(ctx.containers))
    if addresses:
        ctx.specs = [replace(s, ip=ip) for s, ip in zip(ctx.specs, addresses, strict=False)]
        if ctx.load_balancer is not None:
            ctx.load_balancer = replace(ctx.load_balancer, ip=addresses[-1])


def provision_nodes(ctx: CreateContext) -> None:
    """The control planes' containers (and the load balancer's); the workers are made later,
    beside `kubeadm init` (:func:`start_preparing_workers`)."""
    ctx.provisioning_started = True
    create_containers(ctx, [s for s in ctx.containers if s.role != "worker"])


def start_preparing_workers(ctx: CreateContext) -> None:
    """Make and set up the workers in a thread (:func:`prepare_workers`) while the control
    plane's init runs: no worker is needed before its join, and init leaves CPU idle while
    it waits for the kubelet and the API server, where the workers' boot costs the control
    plane's own boot time on a two-core host."""
    if not ctx.workers or ctx.workers_prepared is not None:
        return
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nestkube-workers")
    ctx.workers_prepared = pool.submit(prepare_workers, ctx)
    pool.shutdown(wait=False)  # the thread ends with the workers' setup


def create_containers(ctx: CreateContext, specs: Sequence[NodeSpec]) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(ctx.provider.create_node, specs))
    for spec in specs:
        # A pinned address is the node's: no inspect needed.
        ctx.node_ips[spec.name] = spec.ip or ctx.provider.node_ip(spec.name, ctx.network)


def prepare_workers(ctx: CreateContext) -> dict[str, str]:
    """Each worker's container made, booted and set up (each on its own, in parallel), then
    the control planes' routes to the workers' pods; returns each worker's resolv.conf.

    Runs in a thread beside the main steps, which wait for it before they need a worker
    (:func:`prepared_workers`). A failure is one ClusterError naming the worker; a failed or
    interrupted create sets ``ctx.cancelled`` and waits for this to stop before cleaning up,
    so no container is made after the cleanup looked.
    """
    started = time.monotonic()

    def step(spec: NodeSpec, what: str, action: Callable[[], T]) -> T:
        if ctx.cancelled.is_set():
            raise ClusterError(f"preparing worker {spec.name} stopped: the create failed")
        try:
            return action()
        except CommandError as exc:
            detail = "" if isinstance(exc, CommandTimeout) else exc.output_tail(20)
            raise ClusterError(f"{what} {spec.name} failed: {exc}", detail=detail) from exc

    def one(spec: NodeSpec) -> str:
        step(spec, "creating worker", lambda: create_containers(ctx, [spec]))
        return step(spec, "setting up", lambda: set_up(ctx, spec, *node_setup(ctx, spec)))

    with ThreadPoolExecutor(max_workers=4) as pool:
        found = dict(zip([s.name for s in ctx.workers], pool.map(one, ctx.workers), strict=True))
    if ctx.pod_cidrs:
        workers = {s.name: ctx.pod_cidrs[s.name] for s in ctx.workers}

        def routes(spec: NodeSpec) -> None:
            setup = node_setup_module.NodeSetup(
                {}, routes=peer_routes(spec.name, workers, ctx.node_ips), report_resolver=False
            )
            step(spec, "routing worker pods on", lambda: set_up(ctx, spec, setup, quick()))

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(routes, ctx.control_planes))
    ctx.workers_prepared_seconds = time.monotonic() - started
    return found


def prepared_workers(ctx: CreateContext) -> dict[str, str]:
    """Wait for :func:`prepare_workers` (started now if it has not been); each worker's
    resolv.conf (none without workers)."""
    start_preparing_workers(ctx)
    return {} if ctx.workers_prepared is None else ctx.workers_prepared.result()


def raise_if_workers_failed(ctx: CreateContext) -> None:
    """Fail the create as soon as the workers' preparation has, not at the joins."""
    future = ctx.workers_prepared
    if future is not None and future.done() and future.exception() is not None:
        future.result()


def stop_preparing_workers(ctx: CreateContext) -> None:
    """Before a cleanup: let the workers' preparation stop at its next step and wait for it
    (each of its engine calls has a timeout), so it makes nothing the cleanup does not see."""
    ctx.cancelled.set()
    if ctx.workers_prepared is not None:
        wait([ctx.workers_prepared])


def ensure_load_balancer_image(ctx: CreateContext) -> None:
    """HAProxy's image, built on first use and found by its content key afterwards."""
    from nestkube.images.lb_image import ensure_lb_image

    assert ctx.load_balancer is not None
    built = ensure_lb_image(ctx.provider, ctx.status)
    ctx.load_balancer = replace(ctx.load_balancer, image=built.image)


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


def _restrict_oom(ctx: CreateContext) -> bool:
    wanted = ctx.config.restrict_oom_score_adj
    if wanted is not None:
        return wanted
    return ctx.provider.info.rootless or not ctx.provider.info.host.can_lower_oom_score_adj


def node_setup(ctx: CreateContext, spec: NodeSpec) -> tuple[node_setup_module.NodeSetup, float]:
    """What ``spec``'s node needs before its kubelet starts (see
    :mod:`nestkube.create.node_setup`), and the time limit for it past systemd's boot: its
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
    else:
        files[CONTAINERD_CONF] = render_containerd_config(
            restrict_oom_score_adj=_restrict_oom(ctx),
            cgroup_driver=ctx.provider.info.cgroup_driver,
            sandbox_image=sandbox,
            patches=ctx.config.containerd_config_patches,
            json6902=ctx.config.containerd_config_patches_json6902,
        )
        unit, limit = "containerd", quick()
    cidr = ctx.pod_cidrs.get(spec.name)
    if cidr is None:
        return node_setup_module.NodeSetup(files, BOOT_WAIT, stop=KUBELET, restart=unit), limit
    subnet = ctx.config.networking.pod_subnet
    agent = agent_inputs(spec.name, cidr, subnet)
    env = agent.pop(AGENT_ENV)
    files |= {CNI_CONF: render_bridge_cni(cidr), **agent}
    setup = node_setup_module.NodeSetup(
        files,
        BOOT_WAIT,
        stop=KUBELET,
        restart=unit,
        routes=peer_routes(spec.name, ctx.pod_cidrs, ctx.node_ips),
        rules=_pairs(masquerade_rules(subnet, cidr)),
        last_file=(AGENT_ENV, env),
    )
    return setup, limit


def set_up(
    ctx: CreateContext, spec: NodeSpec, setup: node_setup_module.NodeSetup, limit: float
) -> str:
    return node_setup_module.run_setup(ctx.provider, spec.name, setup, timeout=limit)


def peer_routes(node: str, pod_cidrs: dict[str, str], node_ips: dict[str, str]) -> list[list[str]]:
    """`ip route replace` argv lists on ``node`` to each peer's pod CIDR, for the peers
    whose address is known."""
    return [
        cmd.split()
        for peer, peer_cidr in pod_cidrs.items()
        if peer != node and peer in node_ips
        for cmd in route_commands(peer_cidr, node_ips[peer])
    ]


def configure_nodes(ctx: CreateContext) -> None:
    """The control planes' runtime config, pod network and resolvers, one exec each; the
    workers get theirs beside (:func:`prepare_workers`)."""

    def one(spec: NodeSpec) -> str:
        return set_up(ctx, spec, *node_setup(ctx, spec))

    with ThreadPoolExecutor(max_workers=4) as pool:
        resolvers = pool.map(one, ctx.control_planes)
        found = dict(zip([s.name for s in ctx.control_planes], resolvers, strict=True))
    route_node_dns(ctx, found, decide=True)
    start_preparing_workers(ctx)


def forward_node_dns(
    provider: Provider, node: str, node_ip: str, resolv: str | None = None
) -> tuple[str, str | None]:
    """Where ``node``'s resolver is on its loopback (Docker's embedded DNS), forward port 53
    on the node's address to it; returns the node's resolv.conf (read unless given) and, if
    so, the one its pods need (see :mod:`nestkube.kubeadm.node_dns`). The rules live in the
    node's network namespace, so a restarted node needs them again (the engine's ports
    change too)."""
    if resolv is None:
        resolv = provider.exec(
            node, ["cat", "/etc/resolv.conf"], what="reading resolv.conf", timeout=quick()
        ).stdout
    loopback = node_dns.loopback_nameservers(resolv)
    if not loopback:
        return resolv, None
    for save in ("iptables-save", "iptables-legacy-save"):
        rules = provider.exec(node, [save, "-t", "nat"], check=False, timeout=quick()).stdout
        forwards = [f for ns in loopback for f in node_dns.engine_forwards(rules, ns)]
        if forwards:
            break
    else:
        raise ClusterError(
            f"node {node} resolves through {loopback[0]} on its loopback, and no engine "
            "rule forwards that address: pods could not resolve outside names"
        )
    iptables = save.removesuffix("-save")
    for forward in forwards:
        rule = node_dns.forward_rule(node_ip, forward)
        present = provider.exec(
            node, [iptables, "-t", "nat", "-C", *rule], check=False, timeout=quick()
        )
        if not present.ok:
            provider.exec(
                node,
                [iptables, "-t", "nat", "-A", *rule],
                what="forwarding DNS to the node's resolver",
                timeout=quick(),
            )
    provider.exec(
        node,
        ["sh", "-c", "echo 1 > /proc/sys/net/ipv4/conf/all/route_localnet"],
        what="route_localnet",
        timeout=quick(),
    )
    return resolv, node_dns.pod_resolv_conf(resolv, node_ip)


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


def kubeadm_init(ctx: CreateContext) -> None:
    spec = ctx.control_planes[0]
    text = patched_config(ctx, spec, render_init_config(node_params(ctx, spec)))
    write_file(ctx, spec.name, KUBEADM_CONF, text)
    if ctx.config.dns_addon and not dns_addon(ctx):
        ctx.status.warn(
            "CoreDNS is not in the node image (no offline source): the DNS addon is skipped "
            "and pods resolve no names"
        )
    args = ["kubeadm", "init", f"--config={KUBEADM_CONF}", "--skip-token-print", "--v=2"]
    if ctx.load_balancer is not None:
        # The other control planes fetch the shared certificates, encrypted with the
        # config's certificateKey, from the kubeadm-certs Secret.
        args.append("--upload-certs")
    args += skip_phases_args(ctx.kubernetes_version, init_skip_phases(ctx))
    started = 0.0
    joining = len(ctx.specs) > 1
    # With nodes to join, init's output is copied where the joins' waiter reads it.
    command = joins.recorded(args) if joining else args
    with ThreadPoolExecutor(max_workers=1) as pool:
        init = pool.submit(ctx.provider.exec, spec.name, command, what="kubeadm init", timeout=600)
        if joining:
            ctx.joining, started = joins.start_when_ready(
                init,
                lambda: read_join_material(ctx, 600),
                lambda material: join_all(ctx, material),
            )
        init.result()
    if ctx.joining is not None:
        ctx.status.detail(
            f"nodes began joining {time.monotonic() - started:.1f}s before kubeadm init finished"
        )


def join_nodes(ctx: CreateContext) -> None:
    """Wait for the joins kubeadm_init started (or run them, when it started none)."""
    if ctx.joining is None:
        join_all(ctx)
    else:
        ctx.joining.result()


def kubelet_signing(ctx: CreateContext) -> dict[str, list[str]]:
    """Per worker, the command that prints its kubelet.conf with a client certificate the
    cluster CA signs there and then (`kubeadm kubeconfig user`, v1.21 on), as init does for
    its own node.

    With it the worker's kubelet skips the TLS bootstrap: without it, the kubelet starts as
    system:anonymous until the controller manager approves and signs its CSR, and its node
    registration backs off meanwhile (up to 7 s between tries), which cost up to 20 s here.
    `kubeadm join` finds the file and does not wait for a bootstrap."""
    if not as_version(ctx.kubernetes_version).at_least(1, 21):
        return {}
    return {
        spec.name: ["kubeadm", "kubeconfig", "user", f"--client-name=system:node:{spec.name}",
                    "--org=system:nodes", f"--config={KUBEADM_CONF}"]
        for spec in ctx.workers
    }  # fmt: skip


def read_join_material(ctx: CreateContext, limit: float) -> joins.JoinMaterial | None:
    """The CA and the workers' kubelet kubeconfigs from the first control plane, as soon as
    init has made its certificates (see :func:`joins.join_material`)."""
    return joins.join_material(
        ctx.provider,
        ctx.bootstrap_node,
        ca_path=CLUSTER_CA,
        sign=kubelet_signing(ctx),
        limit=limit,
    )


def discovery_kubeconfig(ctx: CreateContext, ca: str) -> str:
    """What joining nodes discover the cluster from: the endpoint every node uses (the load
    balancer's when there is one) and the cluster CA."""
    endpoint = node_params(ctx, ctx.control_planes[0]).control_plane_endpoint
    return render_discovery_kubeconfig(endpoint, ca)


def join_all(ctx: CreateContext, material: joins.JoinMaterial | None = None) -> None:
    """Further control planes one at a time (etcd grows by one member at a time), and all
    workers at once beside them. ``material`` is what the waiter beside init read; without
    it (init is over by now) it is read here."""
    if not ctx.workers and len(ctx.control_planes) == 1:
        return
    start_applying_cluster_objects(ctx)
    if material is None:
        material = read_join_material(ctx, quick())
        if material is None:
            raise ClusterError("kubeadm init ended before it made the cluster's certificates")
    discovery = discovery_kubeconfig(ctx, material.ca)
    if ctx.workers_prepared is not None:
        route_node_dns(ctx, prepared_workers(ctx), decide=False)
        ctx.status.detail(
            f"workers were made and set up beside the control plane in "
            f"{ctx.workers_prepared_seconds:.1f}s"
        )

    def join(spec: NodeSpec) -> None:
        params = node_params(ctx, spec)
        text = patched_config(ctx, spec, render_join_config(params))
        files = {params.discovery_file: discovery, KUBEADM_CONF: text}
        if spec.name in material.kubelet_confs:
            files[KUBELET_CONF] = material.kubelet_confs[spec.name]
        join = ["kubeadm", "join", f"--config={KUBEADM_CONF}", "--skip-phases=preflight", "--v=2"]
        # The files and the join in one exec.
        ctx.provider.exec(
            spec.name,
            ["sh", "-c", 'tar -x -C / -f - && exec "$@"', "sh", *join],
            input=node_setup_module.tar_archive(files, private=[KUBELET_CONF]),
            what=f"kubeadm join {spec.name}",
            timeout=600,
        )

    def control_planes() -> None:
        for spec in ctx.control_planes[1:]:
            join(spec)

    with ThreadPoolExecutor(max_workers=4) as pool:
        running = [pool.submit(control_planes), *[pool.submit(join, s) for s in ctx.workers]]
        for future in running:
            future.result()


# Made by the controller manager only once all its controllers run (seconds after the nodes
# are Ready on a busy host); create applies the same empty object so a pod applied right
# after create is admitted, and one the controller made first is left as it is.
DEFAULT_SERVICE_ACCOUNT = """\
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: default}
"""


def agent_authorized(ctx: CreateContext) -> bool:
    """Whether the nodes' network agents get credentials: nestkube's pod network, and
    kubectl's `create token` (1.24 on); older clusters get their routes back from `nestkube
    start` instead."""
    return bool(ctx.pod_cidrs) and as_version(ctx.kubernetes_version).at_least(1, 24)


def cluster_manifest(ctx: CreateContext) -> str:
    """What create applies through the API: the agents' access, the default StorageClass
    (local-path provisioner) unless the config turns it off, the default ServiceAccount."""
    from nestkube import storage

    docs = [agent_access.RBAC] if agent_authorized(ctx) else []
    if ctx.config.default_storage_class:
        if storage.IMAGE in ctx.preloaded_images:
            docs.append(storage.manifests())
        else:
            # Debian's v1.20.2 images and images built before the provisioner was preloaded.
            ctx.status.warn(
                f"node image {ctx.specs[0].image} has no {storage.IMAGE}: no default "
                "StorageClass (rebuild the image with `nestkube build node-image`)"
            )
    docs.append(DEFAULT_SERVICE_ACCOUNT)
    return "---\n".join(doc if doc.endswith("\n") else doc + "\n" for doc in docs)


def apply_cluster_objects(ctx: CreateContext) -> str:
    """Apply :func:`cluster_manifest` in one exec on the first control plane (each costs
    seconds on a busy host) and return the agents' kubeconfig ("" when they get none): a
    token for their ServiceAccount, admin.conf's API server address and CA."""
    apply = shlex.join([*KUBECTL, "apply", "-f", "-"]) + " >/dev/null"
    authorized = agent_authorized(ctx)
    # kubectl prints the token without a newline.
    token = [shlex.join([*KUBECTL, *agent_access.token_args()]), "echo", f"cat {ADMIN_CONF}"]
    out = ctx.provider.exec(
        ctx.bootstrap_node,
        ["sh", "-c", " && ".join([apply, *(token if authorized else [])])],
        input=cluster_manifest(ctx),
        what="applying the cluster's objects",
        timeout=quick(),
    ).stdout
    if not authorized:
        return ""
    token_text, _, admin = out.partition("\n")
    return agent_access.agent_kubeconfig(admin, token_text.strip())


def start_applying_cluster_objects(ctx: CreateContext) -> None:
    """:func:`apply_cluster_objects` in a thread, once per create (the joins start it, to
    give each joining node the agents' kubeconfig, or the step after init does)."""
    with ctx.lock:
        if ctx.cluster_objects is None:
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nestkube-objects")
            ctx.cluster_objects = pool.submit(apply_cluster_objects, ctx)
            pool.shutdown(wait=False)


def cluster_objects_applied(ctx: CreateContext) -> str:
    """Wait for the cluster's objects (applying them now if nothing has); the agents'
    kubeconfig."""
    start_applying_cluster_objects(ctx)
    assert ctx.cluster_objects is not None
    return ctx.cluster_objects.result()


def install_cluster_objects(ctx: CreateContext) -> None:
    """The cluster's objects applied, and every node's network agent given its kubeconfig
    (a worker's beside its join, which does not wait for it). Before this the agents keep
    only local state; create has written everything else already."""
    text = cluster_objects_applied(ctx)
    if not text:
        return
    nodes = [spec.name for spec in ctx.control_planes]
    if ctx.workers:
        prepared_workers(ctx)
        nodes += [spec.name for spec in ctx.workers]
    files = {agent_access.KUBECONFIG: text}

    def one(node: str) -> None:
        write_files(ctx, node, files, private=[agent_access.KUBECONFIG])

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, nodes))


def routes_and_masquerade(
    provider: Provider,
    pod_cidrs: dict[str, str],
    node_ips: dict[str, str],
    pod_subnet: str,
    *,
    skip: Sequence[str] = (),
) -> None:
    """On each node (but those in ``skip``): routes to every other node's pod CIDR, and the
    one masquerade rule.

    Both live in the node's network namespace, which a restart of the container replaces;
    the node's agent writes them again, and `start cluster` does for nodes without one.
    Routes are replaced and the rule is checked first, so running it twice changes nothing.
    """

    def one(node: str) -> None:
        setup = node_setup_module.NodeSetup(
            {},
            routes=peer_routes(node, pod_cidrs, node_ips),
            rules=_pairs(masquerade_rules(pod_subnet, pod_cidrs[node])),
            report_resolver=False,
        )
        node_setup_module.run_setup(provider, node, setup, timeout=quick())

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, [node for node in pod_cidrs if node not in skip]))


def _pairs(rules: list[list[str]]) -> list[tuple[Sequence[str], Sequence[str]]]:
    return [(rules[i], rules[i + 1]) for i in range(0, len(rules), 2)]


def admin_kubeconfig(provider: Provider, node: Node) -> tuple[str, str]:
    """A control plane's admin.conf and the URL the cluster's API answers on from the host:
    the load balancer's published port when the cluster has one, else the node's."""
    admin = provider.exec(
        node.name, ["cat", ADMIN_CONF], what="reading admin.conf", timeout=quick()
    ).stdout
    published = loadbalancer.find(provider.list_nodes(node.cluster)) or node
    host, port = provider.api_server_endpoint(published)
    return admin, f"https://{bracket_ipv6(host)}:{port}"


def export_kubeconfig(ctx: CreateContext) -> None:
    node = next(n for n in ctx.provider.list_nodes(ctx.name) if n.name == ctx.bootstrap_node)
    admin, server = admin_kubeconfig(ctx.provider, node)
    ctx.kubeconfig_written = True
    kubeconfig.merge_cluster(admin, ctx.name, server, ctx.kubeconfig)


def wait_ready(ctx: CreateContext) -> None:
    """Every planned node registered and Ready. `kubectl wait --all` alone would see only the
    nodes registered so far: a join ends when the kubelet has its certificate, a moment
    before the kubelet registers the Node."""
    if ctx.wait_seconds <= 0:
        return
    names = [spec.name for spec in ctx.specs]
    tries = max(1, int(ctx.wait_seconds * 2))
    registered = shlex.join([*KUBECTL, "get", "nodes", *names, "-o", "name"])
    ready = shlex.join(
        [
            *KUBECTL,
            "wait",
            "--for=condition=Ready",
            *(f"node/{name}" for name in names),
            f"--timeout={int(ctx.wait_seconds)}s",
        ]
    )
    # Polled inside the node: one exec instead of one per try.
    script = (
        f"for i in $(seq {tries}); do {registered} >/dev/null 2>&1 && break; sleep 0.5; done; "
        f"{ready}"
    )
    res = ctx.provider.exec(
        ctx.bootstrap_node, ["sh", "-c", script], check=False, timeout=ctx.wait_seconds + 30
    )
    if not res.ok:
        nodes = ctx.provider.exec(
            ctx.bootstrap_node, [*KUBECTL, "get", "nodes"], check=False, timeout=quick()
        )
        raise ClusterError(
            f"nodes not Ready within {int(ctx.wait_seconds)}s:\n{nodes.stdout.strip()}"
        )
