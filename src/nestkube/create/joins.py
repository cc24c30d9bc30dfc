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

What the joins need from the first control plane (the CA for their discovery file, each
worker's signed kubelet kubeconfig) exists once init's certs phase is over, seconds before the
API server answers; the same exec that waits for bootstrap-token reads it in between, so none
of it is left for after.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar

from nestkube.errors import ClusterError, CommandError
from nestkube.providers.base import Provider
from nestkube.providers.engine import CHANGE, engine_timeout

# Where the node keeps a copy of `kubeadm init`'s output (/run is the node's tmpfs).
INIT_OUTPUT = "/run/nestkube/kubeadm-init.out"
# Printed by kubeadm as its kubeconfig phase starts: the certs phase has made the CA.
AFTER_CERTS = r"^\[kubeconfig\]"
# Printed by kubeadm as the phases after bootstrap-token start (every release since 1.17).
AFTER_BOOTSTRAP_TOKEN = r"^\[(kubelet-finalize|addons)\]|initialized successfully"
# Appended to the copy when init has ended, however it ended.
ENDED = "nestkube: kubeadm init ended"
# Between the pieces of join_material's output (a line no PEM or kubeconfig has).
SEPARATOR = "--- nestkube: end of part ---"
# join_material's exit status when init ended before the phase it waited for.
INIT_ENDED_FIRST = 3

T = TypeVar("T")


def recorded(args: Sequence[str]) -> list[str]:
    """``args`` (a `kubeadm init`) run in the node with its standard output copied to
    INIT_OUTPUT, ENDED appended when it ends; its exit status is kubeadm's."""
    out = shlex.quote(INIT_OUTPUT)
    script = (
        f'set -o pipefail; mkdir -p "$(dirname {out})"; "$@" | tee {out}; rc=$?; '
        f'echo "{ENDED} $rc" >> {out}; exit $rc'
    )
    return ["bash", "-c", script, "bash", *args]


@dataclass(frozen=True)
class JoinMaterial:
    """What the joins need from the first control plane: the cluster CA (PEM) and, per
    worker, its kubelet kubeconfig with a client certificate signed by that CA."""

    ca: str
    kubelet_confs: dict[str, str]


def join_material(
    provider: Provider,
    node: str,
    *,
    ca_path: str,
    sign: Mapping[str, Sequence[str]],
    limit: float,
) -> JoinMaterial | None:
    """One exec in ``node`` beside init: once the certs phase is over, the CA at ``ca_path``
    and the output of each ``sign`` command (a kubelet kubeconfig, by worker name); then wait
    until init is past bootstrap-token (the token, its RBAC rules and, last, cluster-info
    exist). None when init ended before either phase; run after init, nothing waits."""
    out = shlex.quote(INIT_OUTPUT)
    lines = [
        'phase() { until grep -qsE "$1"\'|^' + ENDED + "' " + out + "; do sleep 0.2; done; "
        'grep -qsE "$1" ' + out + "; }",
        f"phase {shlex.quote(AFTER_CERTS)} || exit {INIT_ENDED_FIRST}",
        f"cat {shlex.quote(ca_path)} || exit 1",
        f"echo {shlex.quote(SEPARATOR)}",
    ]
    for argv in sign.values():
        lines += [f"{shlex.join(argv)} || exit 1", f"echo {shlex.quote(SEPARATOR)}"]
    lines.append(f"phase {shlex.quote(AFTER_BOOTSTRAP_TOKEN)} || exit {INIT_ENDED_FIRST}")
    what = "reading the CA and signing the workers' kubelet certificates"
    res = provider.exec(
        node,
        ["timeout", str(int(limit)), "sh", "-c", "\n".join(lines)],
        check=False,
        what=what,
        timeout=limit + engine_timeout(CHANGE),
    )
    if res.returncode == INIT_ENDED_FIRST:
        return None
    if not res.ok:
        raise CommandError(res.args, res.returncode, res.stdout, res.stderr, what=what)
    parts = res.stdout.split(SEPARATOR + "\n")
    if len(parts) != len(sign) + 2:
        raise ClusterError(f"reading the join material from {node} gave {len(parts)} parts")
    confs = dict(zip(sign, parts[1:-1], strict=True))
    for name, text in confs.items():
        if "client-certificate-data:" not in text:
            raise ClusterError(f"kubeadm kubeconfig user printed no client certificate for {name}")
    return JoinMaterial(parts[0], confs)


def start_when_ready(
    init: Future[Any], ready: Callable[[], T | None], joins: Callable[[T | None], None]
) -> tuple[Future[None] | None, float]:
    """Start ``joins`` once ``ready`` (run in a thread beside ``init``) returns something
    (which the joins are given), or once ``init`` succeeded (they are then given None); none
    when ``init`` failed first.

    Returns the running joins (None when ``init`` failed: its error is the one to report)
    and when they started (``time.monotonic()``).
    """
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="nestkube-joins")
    waiter = pool.submit(ready)
    found: T | None = None
    while not init.done():
        wait([init, waiter], return_when=FIRST_COMPLETED)
        if waiter.done() and not init.done():
            if waiter.exception() is None and waiter.result() is not None:
                found = waiter.result()
                break
            wait([init])  # the waiter could not tell: init's own end decides
    if init.done() and init.exception() is not None:
        pool.shutdown(wait=False)
        return None, time.monotonic()
    if found is None and waiter.done() and waiter.exception() is None:
        found = waiter.result()
    started = time.monotonic()
    running = pool.submit(joins, found)
    pool.shutdown(wait=False)  # its threads end with the waiter and the joins
    return running, started
