"""A background task: LoadBalancer Services' MetalLB (:mod:`nestkube.metallb`) applied through
the API beside the joins and the wait for Ready, so a cluster costs no extra step for it.

Its manifest is the node image's own; the address pool follows once MetalLB's CRDs are served.
Nothing here is made outside the cluster: a cleanup removes it with the nodes.
"""

from __future__ import annotations

import shlex
from concurrent.futures import ThreadPoolExecutor, wait

from nestkube import metallb
from nestkube.create.context import CreateContext
from nestkube.nodeops.files import KUBECTL, quick

# How long create waits for MetalLB's CRDs to be served (seconds) on a busy host.
CRD_WAIT = 120


def wanted(ctx: CreateContext) -> bool:
    return ctx.config.load_balancer_services


def start_applying(ctx: CreateContext) -> None:
    if not wanted(ctx) or ctx.service_lb is not None:
        return
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nestkube-service-lb")
    ctx.service_lb = pool.submit(apply_metallb, ctx)
    pool.shutdown(wait=False)


def apply_metallb(ctx: CreateContext) -> str | None:
    """MetalLB's manifest, then the pool once its CRDs are served; the pool's addresses, or
    None (with a warning) when the node image or the network cannot have it."""
    if metallb.CONTROLLER_IMAGE not in ctx.preloaded_images:
        ctx.status.warn(
            f"node image {ctx.specs[0].image} has no {metallb.CONTROLLER_IMAGE}: LoadBalancer "
            "Services stay pending (rebuild the image with `nestkube build node-image`)"
        )
        return None
    addresses = metallb.pool_range(ctx.provider.network_subnets(ctx.network))
    if addresses is None:
        ctx.status.warn(
            f"network {ctx.network} has no IPv4 subnet of 16 addresses or more: LoadBalancer "
            "Services stay pending"
        )
        return None
    crds = [f"crd/{name}" for name in metallb.POOL_CRDS]
    script = " && ".join(
        [
            metallb.with_api_host(metallb.NODE_MANIFEST, api_host(ctx))
            + " | "
            + shlex.join([*KUBECTL, "apply", "-f", "-"])
            + " >/dev/null",
            shlex.join(
                [*KUBECTL, "wait", "--for=condition=Established", f"--timeout={CRD_WAIT}s", *crds]
            )
            + " >/dev/null",
            shlex.join([*KUBECTL, "apply", "-f", "-"]) + " >/dev/null",
        ]
    )
    ctx.provider.exec(
        ctx.bootstrap_node,
        ["sh", "-c", script],
        input=metallb.pool_manifest(addresses),
        what="applying MetalLB and its address pool",
        timeout=quick() + CRD_WAIT,
    )
    return addresses


def api_host(ctx: CreateContext) -> str:
    """Where every node reaches the API servers: the load balancer's address when there is
    one, else the first control plane's (both are in the API server's certificate)."""
    lb = ctx.load_balancer
    return ctx.node_ips[lb.name] if lb is not None else ctx.node_ips[ctx.bootstrap_node]


def raise_if_failed(ctx: CreateContext) -> None:
    future = ctx.service_lb
    if future is not None and future.done() and future.exception() is not None:
        future.result()


def applied(ctx: CreateContext) -> None:
    """At the end of create: MetalLB applied, and where its addresses come from said."""
    if ctx.service_lb is None:
        return
    addresses = ctx.service_lb.result()
    if addresses is not None:
        ctx.status.detail(f"LoadBalancer Services get addresses from {addresses}")


def stop(ctx: CreateContext) -> None:
    """Before a cleanup: the apply ends (its exec has a limit); it made nothing outside."""
    if ctx.service_lb is not None:
        wait([ctx.service_lb])
