"""The last steps: the kubeconfig written on the host, and every node Ready."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from nestkube import kubeconfig
from nestkube.create.context import CreateContext
from nestkube.errors import ClusterError
from nestkube.nodeops.access import admin_kubeconfig
from nestkube.nodeops.files import KUBECTL, quick


def export_kubeconfig(ctx: CreateContext) -> None:
    node = next(n for n in ctx.provider.list_nodes(ctx.name) if n.name == ctx.bootstrap_node)
    admin, server = admin_kubeconfig(ctx.provider, node)
    ctx.made.kubeconfig = True
    kubeconfig.merge_cluster(admin, ctx.name, server, ctx.kubeconfig)


def wait_ready(ctx: CreateContext, only: Sequence[str] | None = None) -> None:
    """Every planned node (or ``only`` these) registered and Ready. `kubectl wait --all` alone
    would see only the nodes registered so far: a join ends when the kubelet has its
    certificate, a moment before the kubelet registers the Node."""
    if ctx.wait_seconds <= 0:
        return
    names = list(only) if only is not None else [spec.name for spec in ctx.specs]
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
