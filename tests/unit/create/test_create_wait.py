"""The create's last wait: nodes Ready, then the `default` ServiceAccount that every pod of the
default namespace needs (nodes can be Ready before the controller manager has made it)."""

from __future__ import annotations

import pytest

from nestkube._exec import Result
from nestkube.config import default_config
from nestkube.create import actions
from nestkube.create.context import CreateContext
from nestkube.errors import ClusterError
from nestkube.host import HostFacts
from nestkube.providers.base import ProviderInfo
from nestkube.providers.podman import PodmanProvider
from nestkube.status import SILENT


class Node:
    def __init__(self, service_account: bool) -> None:
        self.service_account = service_account
        self.calls: list[list[str]] = []

    def exec(self, node: str, args: list[str], **kwargs: object) -> Result:
        self.calls.append(list(args))
        ok = "serviceaccount" not in args[-1] or self.service_account
        return Result(list(args), 0 if ok else 1, "", "")


def context(node: Node) -> CreateContext:
    info = ProviderInfo("podman", "podman", "4.3.1", False, HostFacts())
    ctx = CreateContext(config=default_config("c"), provider=PodmanProvider(info), status=SILENT)
    actions.plan_nodes(ctx, "node:1")
    ctx.provider = node  # type: ignore[assignment]
    ctx.wait_seconds = 10
    return ctx


def test_every_planned_node_registered_then_ready_then_the_default_service_account() -> None:
    node = Node(service_account=True)
    actions.wait_ready(context(node))
    registered, _, ready = node.calls[0][-1].partition("; done; ")
    # Joined nodes register a moment after their join ends: each is waited for by name.
    assert "get nodes c-control-plane -o name" in registered
    assert ready.startswith("kubectl --kubeconfig=/etc/kubernetes/admin.conf wait")
    assert "node/c-control-plane --timeout=10s" in ready
    poll = node.calls[1][-1]
    assert poll.startswith("for i in $(seq 20); do kubectl ")
    assert "get serviceaccount default -n default" in poll


def test_a_missing_service_account_is_one_line() -> None:
    with pytest.raises(
        ClusterError, match=r"^the default ServiceAccount did not appear within 10s$"
    ):
        actions.wait_ready(context(Node(service_account=False)))
