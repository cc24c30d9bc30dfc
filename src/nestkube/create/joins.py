"""Joins that overlap the rest of `kubeadm init`.

A node can join as soon as the API server answers and the bootstrap token works: kubeadm's
bootstrap-token phase has made the token, its RBAC rules and, last, the cluster-info
ConfigMap. Joins discover the cluster from a file nestkube writes (the CA read from the control
plane), so they need no signature on cluster-info, which the controller manager adds only once
all its controllers have started (seconds later on a busy host). Every phase a join reads from
(upload-config, upload-certs) comes before bootstrap-token, so from then on init's last phases
(kubelet-finalize, addons) and the joins run side by side instead of one after the other.

When the phase is over is read from init's own output, which kubeadm prints as it goes (each
phase's name when it starts): asking the API server instead meant a kubectl every second,
0.8 s of CPU each, taken from the init it waited for on a two-core host.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from nestkube.providers.base import Provider
from nestkube.providers.engine import CHANGE, engine_timeout

# Where the node keeps a copy of `kubeadm init`'s output (/run is the node's tmpfs).
INIT_OUTPUT = "/run/nestkube/kubeadm-init.out"
# Printed by kubeadm as the phases after bootstrap-token start (every release since 1.17).
AFTER_BOOTSTRAP_TOKEN = r"^\[(kubelet-finalize|addons)\]|initialized successfully"
# Appended to the copy when init has ended, however it ended.
ENDED = "nestkube: kubeadm init ended"


def recorded(args: Sequence[str]) -> list[str]:
    """``args`` (a `kubeadm init`) run in the node with its standard output copied to
    INIT_OUTPUT, ENDED appended when it ends; its exit status is kubeadm's."""
    out = shlex.quote(INIT_OUTPUT)
    script = (
        f'set -o pipefail; mkdir -p "$(dirname {out})"; "$@" | tee {out}; rc=$?; '
        f'echo "{ENDED} $rc" >> {out}; exit $rc'
    )
    return ["bash", "-c", script, "bash", *args]


def cluster_info_made(provider: Provider, node: str, limit: float) -> bool:
    """Wait in ``node`` until init is past its bootstrap-token phase (True: the token, its
    RBAC rules and, last, cluster-info exist) or has ended before it (False)."""
    out = shlex.quote(INIT_OUTPUT)
    past = shlex.quote(AFTER_BOOTSTRAP_TOKEN)
    script = f"until grep -qsE {past}'|^{ENDED}' {out}; do sleep 0.2; done; grep -qsE {past} {out}"
    res = provider.exec(
        node,
        ["timeout", str(int(limit)), "sh", "-c", script],
        check=False,
        timeout=limit + engine_timeout(CHANGE),
    )
    return res.ok


def start_when_ready(
    init: Future[Any], ready: Callable[[], bool], joins: Callable[[], None]
) -> tuple[Future[None] | None, float]:
    """Start ``joins`` once ``ready`` (run in a thread beside ``init``) says init has made
    cluster-info, or once ``init`` succeeded; none when ``init`` failed first.

    Returns the running joins (None when ``init`` failed: its error is the one to report)
    and when they started (``time.monotonic()``).
    """
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="nestkube-joins")
    waiter = pool.submit(ready)
    while not init.done():
        wait([init, waiter], return_when=FIRST_COMPLETED)
        if waiter.done() and not init.done():
            if waiter.exception() is None and waiter.result():
                break
            wait([init])  # the waiter could not tell: init's own end decides
    if init.done() and init.exception() is not None:
        pool.shutdown(wait=False)
        return None, time.monotonic()
    started = time.monotonic()
    running = pool.submit(joins)
    pool.shutdown(wait=False)  # its threads end with the waiter and the joins
    return running, started
