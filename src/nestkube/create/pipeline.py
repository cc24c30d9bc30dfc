"""Run the create actions in order, each timed; on failure remove what this run made.

The cluster name is claimed (:mod:`nestkube.create.claim`) before the existence check, and
held until the create has finished or cleaned up, so a second create of the same name fails
at once and touches nothing. SIGINT, SIGTERM and SIGHUP clean up like any failure
(:mod:`nestkube.create.interrupts`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from nestkube import kubeconfig
from nestkube.create import actions, claim, interrupts
from nestkube.create.context import CreateContext
from nestkube.errors import (
    ClusterError,
    CommandError,
    CommandTimeout,
    Interrupted,
    NestkubeError,
)

Action = Callable[[CreateContext], None]


def _always(ctx: CreateContext) -> bool:
    return True


def _several_nodes(ctx: CreateContext) -> bool:
    return len(ctx.specs) > 1


def _load_balanced(ctx: CreateContext) -> bool:
    return ctx.load_balancer is not None


class Step(NamedTuple):
    """A create step: its name in the progress output, what it does, and whether this
    cluster needs it (a step not needed is left out, not shown)."""

    name: str
    action: Action
    needed: Callable[[CreateContext], bool] = _always


def steps(ctx: CreateContext) -> list[Step]:
    return [
        Step(
            "Preparing the load balancer image",
            actions.ensure_load_balancer_image,
            _load_balanced,
        ),
        Step("Preparing nodes", actions.provision_nodes),
        Step("Configuring the load balancer", actions.configure_load_balancer, _load_balanced),
        Step("Checking the kubelet can run", actions.check_kubelet_can_run),
        # systemd's boot, then runtime config, pod network and resolvers; the workers' go on
        # beside these steps.
        Step("Booting and configuring nodes", actions.configure_nodes),
        Step("Starting the control plane (kubeadm init)", actions.kubeadm_init),
        # The joins kubeadm_init started run on while the API-only steps below do.
        # The network agents' access, the default StorageClass, the default ServiceAccount.
        Step("Installing the cluster's objects", actions.install_cluster_objects),
        Step("Writing kubeconfig", actions.export_kubeconfig),
        Step("Joining nodes", actions.join_nodes, _several_nodes),
        Step("Waiting for nodes to be Ready", actions.wait_ready),
    ]


def run(ctx: CreateContext) -> None:
    """Create the planned cluster. Nothing is made before the checks pass."""
    with interrupts.raising() as previous:
        try:
            actions.preflight(ctx)
            kubeconfig.check_target(ctx.kubeconfig)
            with claim.claimed(ctx.provider.info, ctx.name):
                _create(ctx)
        except Interrupted as exc:
            interrupts.pass_on(previous, exc.signum)
            done = "left what it made (--retain)" if ctx.retain else "removed what it made"
            raise ClusterError(
                f"create of {ctx.name!r} interrupted (signal {exc.signum}); {done}",
                exit_code=128 + exc.signum,
            ) from None


def _create(ctx: CreateContext) -> None:
    actions.check_not_exists(ctx)
    actions.check_mounts(ctx)
    actions.read_image_facts(ctx)
    ctx.status.info(
        f"Creating cluster {ctx.name!r} on {ctx.provider.info.name}"
        f"{' (rootless)' if ctx.provider.info.rootless else ''} "
        f"with Kubernetes {ctx.kubernetes_version} ({len(ctx.specs)} nodes)"
    )
    try:
        with ctx.status.step("Creating network"):
            actions.create_network(ctx)
        for name, action, needed in steps(ctx):
            if not needed(ctx):
                continue
            try:
                with ctx.status.step(name):
                    action(ctx)
                    actions.raise_if_workers_failed(ctx)
            except CommandError as exc:
                why = vanished_nodes(ctx) or str(exc)
                # A timeout's one line says it all; other failures show the command's log.
                detail = "" if isinstance(exc, CommandTimeout) else exc.output_tail(20)
                raise ClusterError(f"step {name!r} failed: {why}", detail=detail) from exc
        actions.prepared_workers(ctx)  # done (every real cluster has waited already)
    except BaseException as exc:
        with interrupts.deferred():
            actions.stop_preparing_workers(ctx)
            if ctx.retain:
                ctx.status.warn(f"--retain: leaving the nodes of {ctx.name!r} for debugging")
            else:
                cleanup(ctx)
        if isinstance(exc, NestkubeError) and not isinstance(exc, ClusterError):
            raise ClusterError(str(exc)) from exc
        raise


def vanished_nodes(ctx: CreateContext) -> str:
    """Which of this create's nodes are gone or stopped, in words; "" when all run.

    A node exec that fails because its container died says only "exit 137" or shows the
    log of the command; the container's own state is the cause worth naming.
    """
    if not ctx.provisioning_started:
        return ""
    try:
        present = {n.name: n.state for n in ctx.provider.list_nodes(ctx.name)}
    except NestkubeError:
        return ""
    problems = []
    # Those made so far: the workers are made beside the first steps.
    for spec in (s for s in ctx.containers if s.name in ctx.node_ips):
        state = present.get(spec.name)
        if state is None:
            problems.append(f"node {spec.name} is gone (its container was removed)")
        elif state.lower() not in ("running", "up"):
            problems.append(f"node {spec.name} is not running (container state {state})")
    return "; ".join(problems)


def cleanup(ctx: CreateContext) -> None:
    """Remove the containers, volumes, network and kubeconfig entries this create made.

    Only this run's objects: node containers (the load balancer too) and volumes by the
    names it planned (checked free, under the claim, before anything was made) and carrying
    its cluster label; the network and kubeconfig entries only if it made them. Each part
    is tried even when an earlier one fails, and a failure here is a warning so the error
    that stopped the create is the one the user sees.
    """
    prov = ctx.provider
    planned = {s.name for s in ctx.containers}

    def nodes_and_volumes() -> None:
        prov.delete_nodes([n for n in prov.list_nodes(ctx.name) if n.name in planned])
        volumes = {prov.volume_name(name) for name in planned}
        for volume in prov.cluster_volumes(ctx.name):
            if volume in volumes:
                prov.remove_volume(volume)

    parts: list[tuple[str, Callable[[], object]]] = []
    if ctx.provisioning_started:
        parts.append(("nodes and volumes", nodes_and_volumes))
    if ctx.network_created:
        parts.append(("network", lambda: prov.delete_network_if_unused(ctx.network)))
    if ctx.kubeconfig_written:
        parts.append(("kubeconfig", lambda: kubeconfig.remove_cluster(ctx.name, ctx.kubeconfig)))
    if not parts:
        return
    with ctx.status.step(f"Removing what the failed create of {ctx.name!r} made"):
        for what, part in parts:
            try:
                part()
            except NestkubeError as exc:
                ctx.status.warn(f"could not remove the {what} of {ctx.name!r}: {exc}")
