"""The create's last wait: nodes Ready, then the `default` ServiceAccount that every pod of the
default namespace needs (made by nestkube when the controller manager has not made it yet)."""

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
        return Result(list(args), 0 if ok else 1, "", "" if ok else "forbidden\n")


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
    made = node.calls[1][-1]
    # Made by nestkube unless it is there already: the controller manager makes it only
    # once all its controllers have started.
    assert "get serviceaccount default -n default" in made
    assert "create serviceaccount default -n default" in made
    assert "AlreadyExists" in made


def test_a_service_account_that_cannot_be_made_is_one_line() -> None:
    with pytest.raises(
        ClusterError, match=r"^the default ServiceAccount could not be made: forbidden$"
    ):
        actions.wait_ready(context(Node(service_account=False)))
