"""A background task: the workers made, booted and set up beside the control plane's init.

The pipeline starts it, checks it after every step and stops it before a cleanup (see
:func:`nestkube.create.pipeline.background`); the joins and the agents' kubeconfigs wait for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

from nestkube.create.configure import node_setup, set_up
from nestkube.create.context import CreateContext
from nestkube.create.provision import create_containers
from nestkube.errors import ClusterError, CommandError, CommandTimeout
from nestkube.nodeops import node_setup as node_setup_module
from nestkube.nodeops.files import quick
from nestkube.nodeops.network import peer_routes
from nestkube.providers.base import NodeSpec

T = TypeVar("T")


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
