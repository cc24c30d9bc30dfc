"""The cluster's objects, applied through the API in a background task (started by the joins or
by "Installing the cluster's objects"), and the network agents' kubeconfigs."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from nestkube.create import registries
from nestkube.create.configure import write_files
from nestkube.create.context import CreateContext
from nestkube.create.workers import prepared_workers
from nestkube.kubeadm import agent_access
from nestkube.kubeadm.version import as_version
from nestkube.nodeops.files import ADMIN_CONF, KUBECTL, quick

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
    (local-path provisioner) unless the config turns it off, metrics-server if it turns that
    on, the default ServiceAccount."""
    from nestkube import metrics_server, storage

    docs = [agent_access.RBAC] if agent_authorized(ctx) else []
    if ctx.config.default_storage_class:
        docs += _preloaded(ctx, storage.IMAGE, storage.manifests, "no default StorageClass")
    if ctx.config.metrics_server:
        docs += _preloaded(ctx, metrics_server.IMAGE, metrics_server.manifests, "no metrics-server")
    docs.append(DEFAULT_SERVICE_ACCOUNT)
    docs += registries.manifest(ctx)
    return "---\n".join(doc if doc.endswith("\n") else doc + "\n" for doc in docs)


def _preloaded(
    ctx: CreateContext, image: str, manifests: Callable[[], str], without: str
) -> list[str]:
    """An addon's manifests when the node image preloads its image; otherwise a warning (Debian's
    v1.20.2 images, and images built before the addon was preloaded)."""
    if image in ctx.preloaded_images:
        return [manifests()]
    ctx.status.warn(
        f"node image {ctx.specs[0].image} has no {image}: {without} "
        "(rebuild the image with `nestkube build node-image`)"
    )
    return []


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
