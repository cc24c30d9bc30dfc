"""Faults after create (issue #27), on fake engines: a node container removed by hand, a create
killed midway, two names created at once, a stopped cluster deleted."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from memory_engine import MemoryEngine, context, provision_all
from test_lifecycle import FakeCluster
from typer.testing import CliRunner

import nestkube.cli.main  # noqa: F401  (attaches the commands)
from nestkube import cluster, kubeconfig, lifecycle
from nestkube.cli import groups
from nestkube.cluster_state import DEGRADED, PARTIAL, RUNNING, STOPPED, cluster_state, missing_nodes
from nestkube.config import default_config
from nestkube.create import checks, pipeline, plan, provision
from nestkube.create.context import CreateContext
from nestkube.errors import ClusterError
from nestkube.providers.base import LABEL_CLUSTER, LABEL_NODES, Node, NodeSpec
from nestkube.status import SILENT


class LabelledEngine(MemoryEngine):
    """The memory engine, keeping each container's labels as a real engine does."""

    def create_node(self, spec: NodeSpec) -> Node:
        super().create_node(spec)
        node = Node(
            spec.name,
            spec.role,
            spec.cluster,
            "running",
            {
                LABEL_CLUSTER: spec.cluster,
                **spec.labels,
            },
        )
        self.nodes[spec.name] = node
        return node

    def stop_nodes(self, nodes: Sequence[Node]) -> None:
        for n in nodes:
            self.nodes[n.name] = Node(n.name, n.role, n.cluster, "exited", n.labels)


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(checks, "preflight", lambda ctx: None)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setattr(pipeline, "steps", lambda ctx: [pipeline.Step("Preparing", provision_all)])


def test_every_container_names_all_of_the_clusters_containers() -> None:
    ctx = CreateContext(
        config=default_config("ha", workers=2, control_planes=3),
        provider=MemoryEngine(),
        status=SILENT,
    )
    plan.plan_nodes(ctx, "localhost/nestkube/node:v1.20.2")
    names = [s.name for s in ctx.containers]
    assert "ha-external-load-balancer" in names and "ha-worker2" in names
    assert {s.labels[LABEL_NODES] for s in ctx.containers} == {",".join(names)}


def _made(tmp_path: Path, name: str = "dev") -> LabelledEngine:
    engine = LabelledEngine()
    pipeline.run(context(engine, name, tmp_path / "config"))
    return engine


def test_a_node_removed_by_hand_makes_the_cluster_degraded(tmp_path: Path) -> None:
    engine = _made(tmp_path)
    assert cluster_state(engine.list_nodes("dev")) == RUNNING
    del engine.nodes["dev-worker"]  # podman rm -f dev-worker
    nodes = engine.list_nodes("dev")
    assert missing_nodes(nodes) == ["dev-worker"]
    assert cluster_state(nodes) == DEGRADED
    info = cluster.cluster_info("dev", provider=engine)
    assert info["state"] == DEGRADED and info["missingNodes"] == ["dev-worker"]


def test_states_of_whole_clusters_are_unchanged() -> None:
    labels = {LABEL_NODES: "a-control-plane,a-worker"}
    up = [
        Node("a-control-plane", "control-plane", "a", "running", labels),
        Node("a-worker", "worker", "a", "running", labels),
    ]
    down = [Node(n.name, n.role, n.cluster, "exited", labels) for n in up]
    assert cluster_state(up) == RUNNING
    assert cluster_state(down) == STOPPED
    assert cluster_state([up[0], down[1]]) == PARTIAL
    # A stopped cluster missing a node is degraded too.
    assert cluster_state(down[:1]) == DEGRADED


def test_clusters_made_before_the_label_are_degraded_only_without_a_control_plane() -> None:
    worker = Node("old-worker", "worker", "old", "running", {})
    assert missing_nodes([worker]) == ["old-control-plane"]
    assert cluster_state([worker]) == DEGRADED
    cp = Node("old-control-plane", "control-plane", "old", "running", {})
    assert cluster_state([cp, worker]) == RUNNING


def test_start_refuses_a_cluster_missing_a_node_and_starts_nothing() -> None:
    engine = FakeCluster()
    members = {LABEL_NODES: "dev-control-plane,dev-worker,dev-worker2"}
    engine.nodes = [
        Node(n.name, n.role, n.cluster, n.state, {**n.labels, **members}) for n in engine.nodes
    ]
    with pytest.raises(ClusterError) as err:
        lifecycle.start(engine, "dev", wait=0)
    message = str(err.value)
    assert "node dev-worker2 is gone" in message
    assert "nestkube delete cluster --name dev" in message
    assert "\n" not in message
    assert not [c for c in engine.calls if c[0] == "start"]


def test_start_cluster_exits_1_naming_the_node_and_get_clusters_says_degraded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = FakeCluster()
    members = {LABEL_NODES: "dev-control-plane,dev-worker,dev-worker2"}
    engine.nodes = [
        Node(n.name, n.role, n.cluster, "running", {**n.labels, **members}) for n in engine.nodes
    ]
    monkeypatch.setattr(cluster, "get_provider", lambda *a, **k: engine)
    monkeypatch.setattr(engine, "cluster_nodes", lambda: {"dev": list(engine.nodes)}, raising=False)
    started = CliRunner().invoke(groups.app, ["start", "cluster", "--name", "dev"])
    assert started.exit_code == 1
    assert isinstance(started.exception, ClusterError)
    assert "dev-worker2" in str(started.exception)
    assert "is running again" not in started.output
    listed = CliRunner().invoke(groups.app, ["get", "clusters"])
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines()[1].split() == ["dev", DEGRADED]


def test_delete_cleans_up_a_degraded_cluster(tmp_path: Path) -> None:
    engine = _made(tmp_path)
    del engine.nodes["dev-worker"]
    assert cluster.delete_cluster("dev", provider=engine, kubeconfig_path=str(tmp_path / "config"))
    assert not engine.list_nodes("dev") and not engine.cluster_volumes("dev")
    assert "nestkube-dev" not in engine.networks
    assert not kubeconfig.has_entries("dev", str(tmp_path / "config"))


def test_a_stopped_cluster_deletes_cleanly(tmp_path: Path) -> None:
    engine = _made(tmp_path)
    lifecycle.stop(engine, "dev")
    assert cluster_state(engine.list_nodes("dev")) == STOPPED
    assert cluster.delete_cluster("dev", provider=engine, kubeconfig_path=str(tmp_path / "config"))
    assert not engine.list_nodes("dev") and not engine.cluster_volumes("dev")
    assert not engine.networks


def test_a_create_of_a_name_a_killed_create_left_says_delete_first(tmp_path: Path) -> None:
    """SIGKILL mid-create leaves its nodes (nothing can clean up) and drops the claim."""
    engine = LabelledEngine()
    ctx = context(engine, "dev", tmp_path / "config")
    provision.create_network(ctx)
    provision.provision_nodes(ctx)  # ... and then the process was killed
    with pytest.raises(ClusterError) as err:
        pipeline.run(context(engine, "dev", tmp_path / "config"))
    assert str(err.value) == (
        "cluster 'dev' already exists (or a create of it was killed before it finished); "
        "delete it first: nestkube delete cluster --name dev"
    )
    assert sorted(engine.nodes) == ["dev-control-plane"]  # untouched


def test_two_names_created_at_once_both_finish(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine = LabelledEngine()
    both = threading.Barrier(2)

    def provision(ctx: CreateContext) -> None:
        both.wait(10)  # each create holds its own claim while the other runs
        provision_all(ctx)

    monkeypatch.setattr(pipeline, "steps", lambda ctx: [pipeline.Step("Preparing", provision)])
    with ThreadPoolExecutor(2) as pool:
        runs = [
            pool.submit(pipeline.run, context(engine, n, tmp_path / f"{n}.config"))
            for n in ("one", "two")
        ]
        for run in runs:
            run.result(timeout=30)
    for name in ("one", "two"):
        assert cluster_state(engine.list_nodes(name)) == RUNNING


def test_a_create_in_progress_is_not_called_degraded(tmp_path: Path) -> None:
    """While a create runs its workers come after the control plane: not missing yet."""
    from nestkube.create import claim

    engine = LabelledEngine()
    ctx = context(engine, "dev", tmp_path / "config")
    provision.provision_nodes(ctx)  # the control plane only, so far
    nodes = engine.list_nodes("dev")
    assert missing_nodes(nodes) == ["dev-worker"]
    with claim.claimed(engine.info, "dev"):
        assert claim.in_progress("dev")
        assert not claim.in_progress("ev") and not claim.in_progress("x-dev")
        assert cluster_state(nodes, creating=claim.in_progress("dev")) == RUNNING
        assert cluster.cluster_info("dev", provider=engine)["state"] == RUNNING
    # The claim's file stays, unheld: the create is over (here, killed).
    assert not claim.in_progress("dev")
    assert cluster.cluster_info("dev", provider=engine)["state"] == DEGRADED
