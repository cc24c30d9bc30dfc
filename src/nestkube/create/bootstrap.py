"""`kubeadm init` on the first control plane, and the joins it starts as soon as it can
(:mod:`nestkube.create.joins`), a background task that "Joining nodes" waits for."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import yaml

from nestkube.create import joins
from nestkube.create.configure import route_node_dns, write_files
from nestkube.create.context import CreateContext
from nestkube.create.objects import start_applying_cluster_objects
from nestkube.create.plan import dns_addon, init_skip_phases, node_params, patched_config
from nestkube.create.workers import prepared_workers
from nestkube.errors import ClusterError
from nestkube.kubeadm.config import (
    CLUSTER_CA,
    render_discovery_kubeconfig,
    render_init_config,
    render_join_config,
    skip_phases_args,
)
from nestkube.kubeadm.version import as_version
from nestkube.nodeops import node_setup as node_setup_module
from nestkube.nodeops.files import CLUSTER_RECORD, KUBEADM_CONF, KUBELET_CONF, quick
from nestkube.providers.base import NodeSpec

# Past kubeadm's own waits (the control plane's, 8 minutes, see KubeadmParams), so kubeadm
# reports what it waited for before nestkube gives up on the command.
KUBEADM_EXEC_LIMIT = 900


def kubeadm_init(ctx: CreateContext) -> None:
    spec = ctx.control_planes[0]
    text = patched_config(ctx, spec, render_init_config(node_params(ctx, spec)))
    write_files(ctx, spec.name, {KUBEADM_CONF: text, CLUSTER_RECORD: cluster_record(ctx)})
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
        init = pool.submit(
            ctx.provider.exec, spec.name, command, what="kubeadm init", timeout=KUBEADM_EXEC_LIMIT
        )
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


def cluster_record(ctx: CreateContext) -> str:
    """The config as created, each node's image filled in: what `create node` plans from, so
    a node it adds gets the name, pod CIDR and settings the create would have given it."""
    from nestkube.config import to_document

    cfg = ctx.config
    nodes = [replace(n, image=s.image) for n, s in zip(cfg.nodes, ctx.specs, strict=True)]
    return yaml.safe_dump(to_document(replace(cfg, nodes=nodes)), sort_keys=False)


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


def join_node(ctx: CreateContext, spec: NodeSpec, discovery: str, kubelet_conf: str | None) -> None:
    """`kubeadm join` of ``spec`` with its config, the discovery file and (a worker's) signed
    kubelet kubeconfig written first, in the same exec."""
    params = node_params(ctx, spec)
    text = patched_config(ctx, spec, render_join_config(params))
    files = {params.discovery_file: discovery, KUBEADM_CONF: text}
    if kubelet_conf is not None:
        files[KUBELET_CONF] = kubelet_conf
    join = ["kubeadm", "join", f"--config={KUBEADM_CONF}", "--skip-phases=preflight", "--v=2"]
    ctx.provider.exec(
        spec.name,
        ["sh", "-c", 'tar -x -C / -f - && exec "$@"', "sh", *join],
        input=node_setup_module.tar_archive(files, private=[KUBELET_CONF]),
        what=f"kubeadm join {spec.name}",
        timeout=KUBEADM_EXEC_LIMIT,
    )


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
        join_node(ctx, spec, discovery, material.kubelet_confs.get(spec.name))

    def control_planes() -> None:
        for spec in ctx.control_planes[1:]:
            join(spec)

    with ThreadPoolExecutor(max_workers=4) as pool:
        running = [pool.submit(control_planes), *[pool.submit(join, s) for s in ctx.workers]]
        for future in running:
            future.result()
