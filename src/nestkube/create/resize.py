"""Workers added to and removed from a running cluster (`nestkube create node`, `delete node`).

A worker is added the way create adds its workers, from the config create recorded in the
first control plane (CLUSTER_RECORD, each node's image filled in): the record plus one worker
gives the new node its name, pod CIDR, runtime config, registries and proxy exactly as a
create of that shape would. Its address is the next free one from the top of the network
(where create pins nodes, registries below them); it joins with a bootstrap token made for it
and a kubelet certificate signed for it, like create's workers. The peers' routes to its pods
come from their network agents, which watch the Node objects; MetalLB's speaker and
kube-proxy come as DaemonSets.

A worker is removed with `kubectl drain` and `kubectl delete node`, then its container and
/var volume; the removal is recorded (Provider.record_removed_node) because the other
containers' labels still name it. Control planes are neither added nor removed: etcd's
membership and the HA load balancer would have to change with them.

The caller (nestkube.cluster) holds the cluster's name claim (create.claim) around the checks
and the change, so they never run beside a create, a delete node or another create node of
the same cluster; a failed add removes only the node it made.
"""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Sequence
from dataclasses import replace

from nestkube.config import ClusterConfig, NodeConfig, load_config
from nestkube.create import (
    bootstrap,
    checks,
    finish,
    interrupts,
    kubelet_certs,
    plan,
    registries,
)
from nestkube.create.configure import node_setup, route_node_dns, set_up, write_files
from nestkube.create.context import CreateContext
from nestkube.create.provision import create_containers
from nestkube.errors import ClusterError, Interrupted, NestkubeError
from nestkube.kubeadm import agent_access, node_dns
from nestkube.kubeadm.config import CLUSTER_CA
from nestkube.nodeops.files import CLUSTER_RECORD, KUBEADM_CONF, KUBECTL, quick
from nestkube.providers.base import LABEL_NETWORK, LABEL_NODES, Node, NodeSpec, Provider
from nestkube.status import SILENT, Status

# How long a drain may take before `delete node` gives up (pods with long grace periods).
DRAIN_TIMEOUT = 180


def add_worker(
    provider: Provider,
    name: str,
    containers: Sequence[Node],
    *,
    wait: float = 300.0,
    status: Status = SILENT,
) -> str:
    """Add a worker to the cluster ``name``, whose ``containers`` all run (the caller holds
    the name's claim and has checked); the new node's name."""
    bootstrap_node = next(n for n in containers if n.role == "control-plane")
    cfg = _recorded_config(provider, name, bootstrap_node.name)
    template = cfg.nodes[-1] if cfg.nodes[-1].role == "worker" else cfg.nodes[0]
    worker = NodeConfig(role="worker", image=template.image, runtime=template.runtime)
    cfg = replace(cfg, nodes=[*cfg.nodes, worker])
    ctx = CreateContext(config=cfg, provider=provider, status=status, wait_seconds=wait)
    plan.plan_nodes(ctx, cfg.nodes[0].image or "", chosen=True)
    spec = ctx.specs[-1]
    if spec.name in {c.name for c in containers}:
        raise ClusterError(f"node {spec.name} exists already; nothing was changed")
    checks.read_image_facts(ctx)
    _known_addresses(ctx, containers)
    if registries.wanted(ctx):
        registries.attach_registries(ctx)
    members = [c.name for c in containers] + [spec.name]
    spec = replace(
        spec,
        ip=_free_address(ctx, len(members)),
        labels={**spec.labels, LABEL_NODES: ",".join(members)},
    )
    ctx.plan = replace(ctx.plan, specs=(*ctx.specs[:-1], spec))
    status.info(f"Adding worker {spec.name} to cluster {name!r}")
    with interrupts.raising() as previous:
        try:
            _make_and_join(ctx, spec)
        except BaseException as exc:
            with interrupts.deferred():
                _remove_node_made(ctx, spec)
            if isinstance(exc, Interrupted):
                interrupts.pass_on(previous, exc.signum)
                raise ClusterError(
                    f"adding a node to {name!r} interrupted (signal {exc.signum}); "
                    f"removed {spec.name}",
                    exit_code=128 + exc.signum,
                ) from None
            raise
    return spec.name


def _recorded_config(provider: Provider, name: str, node: str) -> ClusterConfig:
    res = provider.exec(node, ["cat", CLUSTER_RECORD], check=False, timeout=quick())
    if not res.ok:
        raise ClusterError(
            f"cluster {name!r} has no record of its config ({CLUSTER_RECORD} in {node}): it was "
            "made by an older nestkube, which did not keep one, so no node can be added to it"
        )
    return load_config(f"{node}:{CLUSTER_RECORD}", text=res.stdout)


def _known_addresses(ctx: CreateContext, containers: Sequence[Node]) -> None:
    """Every existing node's address (the load balancer's too), as create knew them."""
    for node in containers:
        network = node.labels.get(LABEL_NETWORK, ctx.network)
        ctx.node_ips[node.name] = ctx.provider.node_ip(node.name, network)
    lb = ctx.load_balancer
    if lb is not None:
        ctx.plan = replace(ctx.plan, load_balancer=replace(lb, ip=ctx.node_ips.get(lb.name)))
    if ctx.provider.exec(
        ctx.bootstrap_node, ["test", "-f", node_dns.POD_RESOLV_CONF], check=False, timeout=quick()
    ).ok:
        ctx.pod_resolv_conf = node_dns.POD_RESOLV_CONF


def _free_address(ctx: CreateContext, nodes: int) -> str | None:
    """The highest address of the network no container of the cluster or registry holds,
    where the engine pins addresses (None: the engine gives one)."""
    taken = {*ctx.node_ips.values(), *ctx.registry_addresses.values()}
    # Create pins nodes from the top and registries below them: look past both.
    candidates = ctx.provider.fixed_addresses(ctx.network, nodes + len(taken) + 8)
    free = [a for a in candidates if a not in taken]
    if not candidates:
        return None
    if not free:
        raise ClusterError(f"network {ctx.network} has no free address for another node")
    return max(free, key=ipaddress.ip_address)


def _make_and_join(ctx: CreateContext, spec: NodeSpec) -> None:
    provider = ctx.provider
    with ctx.status.step(f"Preparing node {spec.name}"):
        # The record names every node ever planned, before the node exists: a later add
        # never takes this one's name, pod CIDR or place, even after it is removed.
        files = {CLUSTER_RECORD: bootstrap.cluster_record(ctx)}
        write_files(ctx, ctx.bootstrap_node, files)
        ctx.made.nodes = True
        create_containers(ctx, [spec])
        resolv = set_up(ctx, spec, *node_setup(ctx, spec))
        route_node_dns(ctx, {spec.name: resolv}, decide=False)
        agent = provider.exec(
            ctx.bootstrap_node, ["cat", agent_access.KUBECONFIG], check=False, timeout=quick()
        )
        if agent.ok:
            files = {agent_access.KUBECONFIG: agent.stdout}
            write_files(ctx, spec.name, files, private=[agent_access.KUBECONFIG])
    with ctx.status.step(f"Joining {spec.name}"):
        signed = provider.exec(
            ctx.bootstrap_node,
            ["sh", "-c", _join_material_script(spec.name, ctx.token)],
            what=f"making a join token and a kubelet certificate for {spec.name}",
            timeout=quick(),
        ).stdout
        ca, _, kubelet_conf = signed.partition(_SEPARATOR + "\n")
        if "client-certificate-data:" not in kubelet_conf:
            raise ClusterError(f"kubeadm printed no kubelet certificate for {spec.name}")
        discovery = bootstrap.discovery_kubeconfig(ctx, ca)
        bootstrap.join_node(ctx, spec, discovery, kubelet_conf)
    if kubelet_certs.wanted(ctx):
        with ctx.status.step(f"Approving {spec.name}'s serving certificate"):
            kubelet_certs.approve_serving_certificates(ctx, only=[spec.name])
    with ctx.status.step(f"Waiting for {spec.name} to be Ready"):
        finish.wait_ready(ctx, only=[spec.name])


_SEPARATOR = "--- nestkube: end of CA ---"


def _join_material_script(node: str, token: str) -> str:
    """On the first control plane: a bootstrap token for the join (create's has expired after
    a day), the CA, and a kubelet kubeconfig signed for ``node``."""
    sign = [
        "kubeadm", "kubeconfig", "user", f"--client-name=system:node:{node}",
        "--org=system:nodes", f"--config={KUBEADM_CONF}",
    ]  # fmt: skip
    return " && ".join(
        [
            shlex.join(["kubeadm", "token", "create", token, "--ttl", "15m"]) + " >/dev/null",
            shlex.join(["cat", CLUSTER_CA]),
            shlex.join(["echo", _SEPARATOR]),
            shlex.join(sign),
        ]
    )


def _remove_node_made(ctx: CreateContext, spec: NodeSpec) -> None:
    """After a failed add: the Node object (if it registered), the container and its volume
    this run made; nothing else."""
    if not ctx.made.nodes:
        return
    provider = ctx.provider
    try:
        provider.exec(
            ctx.bootstrap_node,
            [*KUBECTL, "delete", "node", spec.name, "--ignore-not-found", "--wait=false"],
            check=False,
            timeout=quick(),
        )
        made = [n for n in provider.list_nodes(ctx.name) if n.name == spec.name]
        provider.delete_nodes(made)
        if provider.volume_name(spec.name) in provider.cluster_volumes(ctx.name):
            provider.remove_volume(provider.volume_name(spec.name))
    except NestkubeError as exc:
        ctx.status.warn(f"could not remove the node {spec.name} the failed add made: {exc}")


def remove_worker(
    provider: Provider,
    name: str,
    node: Node,
    control: str,
    *,
    drain: bool,
    status: Status = SILENT,
) -> None:
    """Drain the worker ``node`` (when ``drain``: it runs) from the running control plane
    ``control``, delete it from Kubernetes, remove its container and volume, and record its
    removal."""
    with status.step(f"Draining {node.name}"):
        if drain:
            args = [
                *KUBECTL, "drain", node.name, "--ignore-daemonsets", "--delete-emptydir-data",
                "--force", f"--timeout={DRAIN_TIMEOUT}s",
            ]  # fmt: skip
            provider.exec(control, args, what=f"draining {node.name}", timeout=DRAIN_TIMEOUT + 30)
        provider.exec(
            control,
            [*KUBECTL, "delete", "node", node.name, "--ignore-not-found"],
            what=f"deleting node {node.name}",
            timeout=quick(),
        )
    with status.step(f"Removing {node.name}'s container and volume"):
        # Recorded first: an interrupt after the container went must not leave the cluster
        # looking degraded.
        provider.record_removed_node(name, node.name)
        provider.delete_nodes([node])
        provider.remove_volume(provider.volume_name(node.name))
