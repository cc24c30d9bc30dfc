"""The kubelets' serving certificates, signed by the cluster CA, for the metrics-server addon.

With ``serverTLSBootstrap`` (:class:`nestkube.kubeadm.config.KubeadmParams`) each kubelet asks
for its serving certificate in a CertificateSigningRequest of signer
``kubernetes.io/kubelet-serving``, which nothing approves by itself (kubeadm leaves it to the
cluster's owner). Create approves exactly one kind: a request of that signer made by
``system:node:<name>`` for a node of this cluster; anything else is left alone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Iterable

from nestkube.create.context import CreateContext
from nestkube.errors import ClusterError
from nestkube.nodeops.files import KUBECTL, quick

SIGNER = "kubernetes.io/kubelet-serving"
# A kubelet asks once it has joined; on a busy two-core host that is seconds.
LIMIT = 180.0


def wanted(ctx: CreateContext) -> bool:
    return ctx.config.metrics_server


def serving_requests(csr_list: str, nodes: Iterable[str]) -> tuple[dict[str, str], set[str]]:
    """From ``kubectl get csr -o json``: the pending requests to approve (name -> node), and
    the nodes that already have an approved one."""
    users = {f"system:node:{node}": node for node in nodes}
    pending: dict[str, str] = {}
    approved: set[str] = set()
    for item in json.loads(csr_list).get("items", []):
        spec = item.get("spec", {})
        node = users.get(spec.get("username", ""))
        if spec.get("signerName") != SIGNER or node is None:
            continue
        conditions = {c.get("type") for c in item.get("status", {}).get("conditions", [])}
        if "Approved" in conditions:
            approved.add(node)
        elif not conditions & {"Denied", "Failed"}:
            pending[item["metadata"]["name"]] = node
    return pending, approved


def approve_serving_certificates(ctx: CreateContext, only: Collection[str] | None = None) -> None:
    """Approve each node's (or ``only`` these nodes') serving-certificate request, waiting for
    those not made yet."""
    nodes = set(only) if only is not None else {spec.name for spec in ctx.specs}
    deadline = time.monotonic() + LIMIT
    while True:
        listed = ctx.provider.exec(
            ctx.bootstrap_node,
            [*KUBECTL, "get", "csr", "-o", "json"],
            what="listing certificate signing requests",
            timeout=quick(),
        ).stdout
        pending, approved = serving_requests(listed, nodes)
        if pending:
            ctx.provider.exec(
                ctx.bootstrap_node,
                [*KUBECTL, "certificate", "approve", *pending],
                what="approving the kubelets' serving certificates",
                timeout=quick(),
            )
        elif approved >= nodes:
            return
        now = time.monotonic()
        # Past the limit: the nodes whose kubelets never asked; a request approved just now
        # gets one more look, and twice the limit ends the wait whatever was seen.
        missing = nodes - approved - set(pending.values())
        if (missing and now > deadline) or now > deadline + LIMIT:
            names = ", ".join(sorted(missing or nodes - approved))
            raise ClusterError(
                f"no approved serving certificate for the kubelet of {names} within "
                f"{int(now - deadline + LIMIT)}s (metricsServer needs one per node)"
            )
        time.sleep(1)
