"""Joins that overlap the rest of `kubeadm init`.

A node can join as soon as the API server answers and the bootstrap token works: kubeadm's
bootstrap-token phase has made the token, its RBAC rules and, last, the cluster-info
ConfigMap. Joins discover the cluster from a file nestkube writes (the CA read from the control
plane), so they need no signature on cluster-info, which the controller manager adds only once
all its controllers have started (seconds later on a busy host). Every phase a join reads from
(upload-config, upload-certs) comes before bootstrap-token, so from then on init's last phases
(kubelet-finalize, addons) and the joins run side by side instead of one after the other.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from nestkube.kubeadm.version import KUBEADM_V1BETA2, kubeadm_api_version
from nestkube.providers.base import Provider
from nestkube.providers.engine import CHANGE, engine_timeout

# How often the cluster is asked whether the token is usable yet.
POLL = 1.0
# init's last phases, which no join needs: run after init, beside the joins.
ADDON_PHASES = ("addon/coredns", "addon/kube-proxy")


def deferred_addons(version: str, skipped: Sequence[str]) -> tuple[str, ...]:
    """The addon phases to leave out of `kubeadm init` and run beside the joins.

    None before kubeadm's v1beta3 config: `init phase addon` would have no skipPhases in
    its config to leave out an addon the cluster does not want.
    """
    if kubeadm_api_version(version) == KUBEADM_V1BETA2:
        return ()
    return tuple(p for p in ADDON_PHASES if p not in skipped)


def cluster_info_made(provider: Provider, node: str, kubectl: Sequence[str]) -> bool:
    """Whether kubeadm's bootstrap-token phase has made cluster-info, its last object: the
    token, its RBAC rules and the configs a join reads all exist from then on."""
    res = provider.exec(
        node,
        [*kubectl, "get", "configmap", "cluster-info", "-n", "kube-public", "-o", "name"],
        check=False,
        timeout=engine_timeout(CHANGE),
    )
    # Not ok: admin.conf not written yet, API server not up, ConfigMap not made.
    return res.ok and res.stdout.strip() == "configmap/cluster-info"


def start_when_ready(
    init: Future[Any], ready: Callable[[], bool], joins: Callable[[], None]
) -> tuple[Future[None] | None, float]:
    """Poll ``ready`` while ``init`` runs; start ``joins`` once it holds or ``init`` succeeded
    (init's bootstrap-token phase has then made cluster-info).

    Returns the running joins (None when ``init`` failed first: its error is the one to
    report) and when they started (``time.monotonic()``).
    """
    while not init.done() and not ready():
        # Returns early when init finishes: the poll never outlasts what it waits for.
        wait([init], timeout=POLL, return_when=FIRST_COMPLETED)
    if init.done() and init.exception() is not None:
        return None, time.monotonic()
    started = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nestkube-joins")
    running = pool.submit(joins)
    pool.shutdown(wait=False)  # the thread ends with the joins; nothing else is submitted
    return running, started
