"""The create's last wait: every planned node registered, then Ready."""

from __future__ import annotations

import pytest

from nestkube._exec import Result
from nestkube.config import default_config
from nestkube.create import finish, plan
from nestkube.create.context import CreateContext
from nestkube.errors import ClusterError
from nestkube.host import HostFacts
from nestkube.providers.base import ProviderInfo
from nestkube.providers.podman import PodmanProvider
from nestkube.status import SILENT


class Node:
    def __init__(self, ready: bool = True) -> None:
        self.ready = ready
        self.calls: list[list[str]] = []

    def exec(self, node: str, args: list[str], **kwargs: object) -> Result:
        self.calls.append(list(args))
        ok = self.ready or args[0] != "sh"
        return Result(list(args), 0 if ok else 1, "NAME STATUS\nc-control-plane NotReady\n", "")


def context(node: Node) -> CreateContext:
    info = ProviderInfo("podman", "podman", "4.3.1", False, HostFacts())
    ctx = CreateContext(config=default_config("c"), provider=PodmanProvider(info), status=SILENT)
    plan.plan_nodes(ctx, "node:1")
    ctx.provider = node  # type: ignore[assignment]
    ctx.wait_seconds = 10
    return ctx


def test_every_planned_node_registered_then_ready() -> None:
    node = Node()
    finish.wait_ready(context(node))
    [(*_, script)] = node.calls
    registered, _, ready = script.partition("; done; ")
    # Joined nodes register a moment after their join ends: each is waited for by name.
    assert "get nodes c-control-plane -o name" in registered
    assert ready.startswith("kubectl --kubeconfig=/etc/kubernetes/admin.conf wait")
    assert "node/c-control-plane --timeout=10s" in ready


def test_nodes_not_ready_in_time_are_shown() -> None:
    with pytest.raises(ClusterError, match=r"^nodes not Ready within 10s:\nNAME STATUS\n"):
        finish.wait_ready(context(Node(ready=False)))
