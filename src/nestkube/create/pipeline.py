"""Run the create actions in order, each timed; on failure remove what was made."""

from __future__ import annotations

from collections.abc import Callable

from nestkube import kubeconfig
from nestkube.create import actions
from nestkube.create.context import CreateContext
from nestkube.errors import ClusterError, CommandError, NestkubeError

Step = tuple[str, Callable[[CreateContext], None]]


def steps(ctx: CreateContext) -> list[Step]:
    return [
        ("Preparing nodes", actions.provision_nodes),
        ("Booting systemd", actions.wait_for_systemd),
        ("Checking the kubelet can run", actions.check_kubelet_can_run),
        ("Configuring containerd", actions.configure_containerd),
        ("Starting the control plane (kubeadm init)", actions.kubeadm_init),
        ("Joining nodes", actions.join_nodes),
        ("Installing pod networking", actions.install_pod_network),
        ("Untainting the control plane", actions.untaint_if_single),
        ("Writing kubeconfig", actions.export_kubeconfig),
        ("Waiting for nodes to be Ready", actions.wait_ready),
    ]


def run(ctx: CreateContext) -> None:
    """Create the planned cluster. Nothing is made before the checks pass."""
    actions.preflight(ctx)
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
        for name, action in steps(ctx):
            if name == "Joining nodes" and len(ctx.specs) == 1:
                continue
            try:
                with ctx.status.step(name):
                    action(ctx)
            except CommandError as exc:
                raise ClusterError(
                    f"step {name!r} failed: {exc}", detail=exc.output_tail(20)
                ) from exc
    except BaseException as exc:
        if ctx.retain:
            ctx.status.warn(f"--retain: leaving the nodes of {ctx.name!r} for debugging")
        else:
            cleanup(ctx)
        if isinstance(exc, NestkubeError) and not isinstance(exc, ClusterError):
            raise ClusterError(str(exc)) from exc
        raise


def cleanup(ctx: CreateContext) -> None:
    """Remove every container, volume, network and kubeconfig entry this create made.

    Each part is tried even when an earlier one fails, and a failure here is reported as a
    warning so the error that stopped the create is the one the user sees.
    """

    def nodes_and_volumes() -> None:
        ctx.provider.delete_nodes(ctx.provider.list_nodes(ctx.name))
        for volume in ctx.provider.cluster_volumes(ctx.name):
            ctx.provider.remove_volume(volume)

    parts: list[tuple[str, Callable[[], object]]] = [("nodes and volumes", nodes_and_volumes)]
    if ctx.network_created:
        parts.append(("network", lambda: ctx.provider.delete_network_if_unused(ctx.network)))
    if ctx.kubeconfig_written:
        parts.append(("kubeconfig", lambda: kubeconfig.remove_cluster(ctx.name, ctx.kubeconfig)))
    with ctx.status.step(f"Removing what the failed create of {ctx.name!r} made"):
        for what, part in parts:
            try:
                part()
            except NestkubeError as exc:
                ctx.status.warn(f"could not remove the {what} of {ctx.name!r}: {exc}")
