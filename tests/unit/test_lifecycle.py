"""stop / start on a fake engine: order, address checks, restored pod routes, Ready waits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fakes_engine import UnusedEngine

from nestkube import lifecycle
from nestkube._exec import Result
from nestkube.cluster_state import cluster_state
from nestkube.config import default_config
from nestkube.create import plan, provision
from nestkube.create.context import CreateContext
from nestkube.errors import ClusterError
from nestkube.host import HostFacts
from nestkube.kubeadm import agent_access, pod_cidrs
from nestkube.providers.base import LABEL_NETWORK, Node, NodeRole, ProviderInfo
from nestkube.providers.podman import PodmanProvider
from nestkube.status import SILENT

FLAGS = 'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///run/containerd/containerd.sock --node-ip={ip} --pod-infra-container-image=registry.k8s.io/pause:3.10"\n'  # noqa: E501


def node(name: str, role: NodeRole, state: str = "exited") -> Node:
    return Node(name, role, "dev", state, {LABEL_NETWORK: "nestkube-dev"})


class FakeCluster(UnusedEngine):
    """A 1+1 cluster's engine: containers that start and stop, and what their nodes answer."""

    def __init__(self, recorded: dict[str, str] | None = None) -> None:
        super().__init__()
        self.nodes = [node("dev-control-plane", "control-plane"), node("dev-worker", "worker")]
        self.ips = {"dev-control-plane": "10.89.0.254", "dev-worker": "10.89.0.253"}
        self.recorded = recorded or dict(self.ips)
        self.calls: list[tuple[str, ...]] = []
        self.api_answers_after = 2
        # None: each lease was renewed just now (the kubelets report after the start).
        self.renewed: str | None = None
        # Whether the nodes run nestkube-netd (images that have it).
        self.agent = False

    def list_nodes(self, cluster: str) -> list[Node]:
        return list(self.nodes) if cluster == "dev" else []

    def stop_nodes(self, nodes: Sequence[Node]) -> None:
        self.calls.append(("stop", *[n.name for n in nodes]))

    def start_node(self, n: Node) -> None:
        self.calls.append(("start", n.name))

    def node_ip(self, name: str, network: str) -> str:
        assert network == "nestkube-dev"
        return self.ips[name]

    def exec(
        self,
        node: str,
        args: Sequence[str],
        *,
        input: str | bytes | None = None,
        check: bool = True,
        what: str | None = None,
        timeout: float | None = None,
    ) -> Result:
        self.calls.append((node, *args))
        out, code = self.answer(node, list(args))
        return Result(list(args), code, out, "" if code == 0 else "connection refused")

    def answer(self, name: str, args: list[str]) -> tuple[str, int]:
        if args[:2] == ["cat", lifecycle.KUBEADM_FLAGS]:
            return FLAGS.format(ip=self.recorded[name]), 0
        if "/readyz" in args:
            self.api_answers_after -= 1
            return ("ok", 0) if self.api_answers_after <= 0 else ("", 1)
        if args[:3] == ["test", "-f", agent_access.KUBECONFIG]:
            return ("", 0) if self.agent else ("", 1)
        if args[:2] == ["test", "-f"]:
            return "", 0
        if "configmap" in args:
            return "networking:\n  podSubnet: 10.244.0.0/16\n", 0
        if args[-3:] == ["nodes", "-o", "json"]:
            items = [
                {
                    "metadata": {"name": n},
                    "spec": {"podCIDR": f"10.244.{i}.0/24"},
                    "status": {"conditions": [{"type": "Ready", "status": "True"}]},
                }
                for i, n in enumerate(self.ips)
            ]
            return json.dumps({"items": items}), 0
        if "leases" in args:
            renewed = self.renewed or datetime.now(UTC).isoformat()
            items = [{"metadata": {"name": n}, "spec": {"renewTime": renewed}} for n in self.ips]
            return json.dumps({"items": items}), 0
        if args[:1] == ["iptables"]:
            return "", 1 if "-C" in args else 0
        return "", 0


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle, "POLL", 0.0)


def test_cluster_state_from_its_nodes() -> None:
    assert cluster_state([node("a", "control-plane", "running")]) == "running"
    assert cluster_state([node("a", "control-plane", "exited")]) == "stopped"
    assert cluster_state([node("a", "control-plane", "Up 3 minutes"), node("b", "worker")]) == (
        "partial"
    )


def test_stop_stops_workers_before_control_planes_and_removes_nothing() -> None:
    fake = FakeCluster()
    lifecycle.stop(fake, "dev")
    assert fake.calls == [("stop", "dev-worker"), ("stop", "dev-control-plane")]


@pytest.mark.parametrize("verb", ["stop", "start"])
def test_an_unknown_cluster_is_one_line(verb: str) -> None:
    with pytest.raises(ClusterError, match=r"^no cluster named 'other'$"):
        getattr(lifecycle, verb)(FakeCluster(), "other")


def script_lines(fake: FakeCluster) -> list[tuple[str, str]]:
    """(node, line) of every script run in a node with `sh -c` (routes and rules go in one)."""
    return [
        (c[0], line) for c in fake.calls if c[1:3] == ("sh", "-c") for line in c[3].splitlines()
    ]


def route_lines(fake: FakeCluster) -> set[tuple[str, str]]:
    return {(node, line) for node, line in script_lines(fake) if line.startswith("ip route")}


def test_start_runs_control_planes_first_then_restores_routes_and_waits() -> None:
    fake = FakeCluster()
    lifecycle.start(fake, "dev", wait=30, status=SILENT)
    starts = [c[1] for c in fake.calls if c[0] == "start"]
    assert starts == ["dev-control-plane", "dev-worker"]
    assert route_lines(fake) == {
        ("dev-control-plane", "ip route replace 10.244.1.0/24 via 10.89.0.253"),
        ("dev-worker", "ip route replace 10.244.0.0/24 via 10.89.0.254"),
    }
    # Checked first, added only when missing.
    masquerade = [n for n, line in script_lines(fake) if "-C POSTROUTING" in line]
    assert sorted(masquerade) == ["dev-control-plane", "dev-worker"]
    assert all(
        "|| iptables -w -t nat -A POSTROUTING" in line
        for _, line in script_lines(fake)
        if "-C POSTROUTING" in line
    )


def test_start_leaves_routes_to_the_nodes_agents() -> None:
    fake = FakeCluster()
    fake.agent = True
    lifecycle.start(fake, "dev", wait=30, status=SILENT)
    assert not [c for c in fake.calls if c[1:3] == ("sh", "-c") or c[1:2] == ("iptables",)]


def test_start_routes_by_the_planned_pod_cidrs_on_the_containers() -> None:
    fake = FakeCluster()
    # The plan (container labels) wins over what the API says.
    for i, n in enumerate(fake.nodes):
        n.labels[pod_cidrs.CONTAINER_LABEL] = f"10.244.{i + 7}.0/24"
    lifecycle.start(fake, "dev", wait=30, status=SILENT)
    assert route_lines(fake) == {
        ("dev-control-plane", "ip route replace 10.244.8.0/24 via 10.89.0.253"),
        ("dev-worker", "ip route replace 10.244.7.0/24 via 10.89.0.254"),
    }


def test_running_nodes_are_not_started_again() -> None:
    fake = FakeCluster()
    fake.nodes[0] = node("dev-control-plane", "control-plane", "running")
    lifecycle.start(fake, "dev", wait=0)
    assert [c for c in fake.calls if c[0] == "start"] == [("start", "dev-worker")]


def test_a_node_that_came_back_with_another_address_is_refused() -> None:
    fake = FakeCluster(recorded={"dev-control-plane": "10.89.0.254", "dev-worker": "10.89.0.7"})
    with pytest.raises(ClusterError) as err:
        lifecycle.start(fake, "dev")
    assert str(err.value).startswith(
        "node dev-worker came back with address 10.89.0.253, but the cluster was set up with "
        "10.89.0.7"
    )
    assert not any("/readyz" in c for c in fake.calls)


def test_nodes_ready_before_the_stop_do_not_count(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeCluster()
    fake.renewed = "2020-01-01T00:00:00.000000Z"  # leases last renewed long before start
    with pytest.raises(ClusterError, match=r"^nodes not Ready within 0s after start: dev-"):
        lifecycle.start(fake, "dev", wait=0.01)


def test_an_api_server_that_never_answers_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle, "API_TIMEOUT", 0.0)
    fake = FakeCluster()
    fake.api_answers_after = 10**6
    with pytest.raises(ClusterError) as err:
        lifecycle.start(fake, "dev")
    assert str(err.value) == (
        "the API server in dev-control-plane did not answer within 0s: connection refused"
    )


def test_kubelet_node_ip() -> None:
    assert lifecycle.kubelet_node_ip(FLAGS.format(ip="10.1.2.3")) == "10.1.2.3"
    assert lifecycle.kubelet_node_ip("") == ""


class SubnetPodman(PodmanProvider):
    """A Podman whose cluster network exists already, with these subnets."""

    def network_subnets(self, name: str) -> list[str]:
        return ["fd00::/64", "10.89.3.0/24"]

    def network_exists(self, name: str) -> bool:
        return True


def test_podman_pins_nodes_to_the_top_of_the_cluster_subnet(tmp_path: Path) -> None:
    podman = SubnetPodman(ProviderInfo("podman", "podman", "4.3.1", False, HostFacts()))
    assert podman.fixed_addresses("nestkube-dev", 3) == [
        "10.89.3.254",
        "10.89.3.253",
        "10.89.3.252",
    ]
    ctx = CreateContext(config=default_config("dev", workers=1), provider=podman, status=SILENT)
    plan.plan_nodes(ctx, "node:1")
    provision.create_network(ctx)
    assert [s.ip for s in ctx.specs] == ["10.89.3.254", "10.89.3.253"]
    assert "--ip 10.89.3.254" in " ".join(podman.node_run_args(ctx.specs[0]))
