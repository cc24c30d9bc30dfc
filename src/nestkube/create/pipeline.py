"""Run the create steps in order, each timed; on failure remove what this run made.

:func:`steps` is the order the steps run in and :func:`background` what runs beside them:
each task, the step that starts it and the steps that wait for it.

The cluster name is claimed (:mod:`nestkube.create.claim`) before the existence check, and
held until the create has finished or cleaned up, so a second create of the same name fails
at once and touches nothing. SIGINT, SIGTERM and SIGHUP clean up like any failure
(:mod:`nestkube.create.interrupts`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from nestkube import kubeconfig
from nestkube.create import (
    bootstrap,
    checks,
    claim,
    configure,
    finish,
    interrupts,
    kubelet_certs,
    objects,
    provision,
    registries,
    service_lb,
    workers,
)
from nestkube.create.context import CreateContext
from nestkube.errors import (
    ClusterError,
    CommandError,
    CommandTimeout,
    Interrupted,
    NestkubeError,
)

Action = Callable[[CreateContext], None]
# A background task's hook; what it returns is not used.
Hook = Callable[[CreateContext], object]


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


class Background(NamedTuple):
    """A task create runs in a thread beside its steps, and where the steps meet it.

    ``started_by`` and ``awaited_by`` name steps, other tasks or :data:`END`, in order. What
    the pipeline itself does with a task is its four hooks: ``start`` runs right after the
    step named first in ``started_by`` (a task without one is started by that step's own
    action, mid-step); ``raise_if_failed`` after every step, so the task's own error ends the
    create as soon as it has failed; ``finish`` at :data:`END`; ``stop`` before a cleanup, so
    the task makes nothing the cleanup does not see.
    """

    name: str
    started_by: tuple[str, ...]
    awaited_by: tuple[str, ...]
    start: Hook | None = None
    raise_if_failed: Hook | None = None
    finish: Hook | None = None
    stop: Hook | None = None


# The steps, by the names the progress output shows.
REGISTRIES = "Attaching registries"
LB_IMAGE = "Preparing the load balancer image"
PROVISION = "Preparing nodes"
LB_CONFIG = "Configuring the load balancer"
KUBELET_CHECK = "Checking the kubelet can run"
BOOT = "Booting and configuring nodes"
INIT = "Starting the control plane (kubeadm init)"
OBJECTS = "Installing the cluster's objects"
KUBECONFIG = "Writing kubeconfig"
JOIN = "Joining nodes"
SERVING_CERTS = "Approving the kubelets' serving certificates"
READY = "Waiting for nodes to be Ready"
# After the last step: create ends once every task it waits for there has.
END = "the end of create"

# The background tasks, by name.
WORKERS = "the workers (made, booted and set up)"
JOINS = "the joins"
CLUSTER_OBJECTS = "the cluster's objects (applied through the API)"
SERVICE_LB = "LoadBalancer Services' MetalLB (applied through the API)"


def steps(ctx: CreateContext) -> list[Step]:
    """The steps in the order they run; :func:`background` says what runs beside them."""
    return [
        # Before any node is set up: the nodes' hosts files name the registries.
        Step(REGISTRIES, registries.attach_registries, registries.wanted),
        Step(LB_IMAGE, provision.ensure_load_balancer_image, _load_balanced),
        # The control planes' containers and the load balancer's.
        Step(PROVISION, provision.provision_nodes),
        Step(LB_CONFIG, provision.configure_load_balancer, _load_balanced),
        Step(KUBELET_CHECK, provision.check_kubelet_can_run),
        # systemd's boot, then runtime config, pod network and resolvers; then WORKERS starts.
        Step(BOOT, configure.configure_nodes),
        # JOINS starts mid-step, as soon as init has made the bootstrap token.
        Step(INIT, bootstrap.kubeadm_init),
        # The API-only steps run while JOINS does: the network agents' access, the default
        # StorageClass and ServiceAccount (CLUSTER_OBJECTS), and the agents' kubeconfigs.
        Step(OBJECTS, objects.install_cluster_objects),
        Step(KUBECONFIG, finish.export_kubeconfig),
        # Waits for JOINS (or runs the joins, when init started none).
        Step(JOIN, bootstrap.join_nodes, _several_nodes),
        # With metrics-server: every kubelet has asked once it has joined.
        Step(SERVING_CERTS, kubelet_certs.approve_serving_certificates, kubelet_certs.wanted),
        Step(READY, finish.wait_ready),
    ]


def background(ctx: CreateContext) -> list[Background]:
    """What runs beside the steps, in the order it starts; who starts it and who waits."""
    return [
        Background(
            WORKERS,
            # No worker is needed before its join; init leaves CPU idle while it waits.
            started_by=(BOOT,),
            # Before any join; before the agents' kubeconfigs are written to the workers.
            awaited_by=(JOINS, OBJECTS, END),
            start=workers.start_preparing_workers,
            raise_if_failed=workers.raise_if_workers_failed,
            finish=workers.prepared_workers,
            stop=workers.stop_preparing_workers,
        ),
        Background(JOINS, started_by=(INIT,), awaited_by=(JOIN,)),
        Background(
            CLUSTER_OBJECTS,
            # Whichever comes first: each joining node is given the agents' kubeconfig.
            started_by=(JOINS, OBJECTS),
            awaited_by=(OBJECTS,),
        ),
        Background(
            SERVICE_LB,
            # Nothing waits for it but the end: it needs only the API, and a Service needs it
            # only once the cluster is handed over.
            started_by=(OBJECTS,),
            awaited_by=(END,),
            start=service_lb.start_applying,
            raise_if_failed=service_lb.raise_if_failed,
            finish=service_lb.applied,
            stop=service_lb.stop,
        ),
    ]


def run(ctx: CreateContext) -> None:
    """Create the planned cluster. Nothing is made before the checks pass."""
    with interrupts.raising() as previous:
        try:
            checks.preflight(ctx)
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
    checks.check_not_exists(ctx)
    registries.find_registries(ctx)
    checks.check_mounts(ctx)
    checks.read_image_facts(ctx)
    ctx.status.info(
        f"Creating cluster {ctx.name!r} on {ctx.provider.info.name}"
        f"{' (rootless)' if ctx.provider.info.rootless else ''} "
        f"with Kubernetes {ctx.kubernetes_version} ({len(ctx.specs)} nodes)"
    )
    try:
        with ctx.status.step("Creating network"):
            provision.create_network(ctx)
        tasks = background(ctx)
        for name, action, needed in steps(ctx):
            if not needed(ctx):
                continue
            try:
                with ctx.status.step(name):
                    action(ctx)
                    for task in tasks:
                        if task.start is not None and task.started_by[0] == name:
                            task.start(ctx)
                    for task in tasks:
                        if task.raise_if_failed is not None:
                            task.raise_if_failed(ctx)
            except CommandError as exc:
                why = vanished_nodes(ctx) or str(exc)
                # A timeout's one line says it all; other failures show the command's log.
                detail = "" if isinstance(exc, CommandTimeout) else exc.output_tail(20)
                raise ClusterError(f"step {name!r} failed: {why}", detail=detail) from exc
        for task in tasks:
            if task.finish is not None:
                task.finish(ctx)  # done (every real cluster has waited already)
    except BaseException as exc:
        with interrupts.deferred():
            for task in background(ctx):
                if task.stop is not None:
                    task.stop(ctx)
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
    if not ctx.made.nodes:
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
    if ctx.made.nodes:
        parts.append(("nodes and volumes", nodes_and_volumes))
    if ctx.made.network:
        parts.append(("network", lambda: prov.delete_network_if_unused(ctx.network)))
    if ctx.made.kubeconfig:
        parts.append(("kubeconfig", lambda: kubeconfig.remove_cluster(ctx.name, ctx.kubeconfig)))
    if not parts:
        return
    with ctx.status.step(f"Removing what the failed create of {ctx.name!r} made"):
        for what, part in parts:
            try:
                part()
            except NestkubeError as exc:
                ctx.status.warn(f"could not remove the {what} of {ctx.name!r}: {exc}")
