"""nestkube.resize: what `create node` and `delete node` refuse, and what a removal changes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from memory_engine import MemoryEngine

from nestkube import cluster
from nestkube._exec import Result
from nestkube.cluster_state import cluster_state, missing_nodes
from nestkube.create import resize
from nestkube.errors import ClusterError
from nestkube.providers.base import LABEL_CLUSTER, LABEL_NODES, Node, NodeRole

MEMBERS = "dev-control-plane,dev-worker,dev-worker2"


class Cluster(MemoryEngine):
    """A 1+2 cluster "dev" whose nodes answer every command, recording them."""

    def __init__(self, state: str = "running", record: bool = True) -> None:
        super().__init__()
        labels = {LABEL_CLUSTER: "dev", LABEL_NODES: MEMBERS}
        for name in MEMBERS.split(","):
            role: NodeRole = "control-plane" if name.endswith("control-plane") else "worker"
            self.nodes[name] = Node(name, role, "dev", state, dict(labels))
            self.volumes[f"{name}-var"] = "dev"
        self.record = record
        self.execs: list[tuple[str, str]] = []
        self.removed: list[str] = []

    def exec(self, node: str, args: Sequence[str], **kw: Any) -> Result:
        self.execs.append((node, " ".join(args)))
        if args[:1] == ["cat"] and not self.record:
            return Result(list(args), 1, "", "No such file")
        return Result(list(args), 0, "", "")

    def record_removed_node(self, cluster: str, node: str) -> None:
        self.removed.append(node)

    def removed_nodes(self, cluster: str) -> list[str]:
        return list(self.removed)


@pytest.fixture(autouse=True)
def private_locks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))


def test_a_removed_worker_is_drained_deleted_and_recorded_not_missing() -> None:
    engine = Cluster()
    cluster.delete_node("dev", "dev-worker2", provider=engine)
    commands = [cmd for node, cmd in engine.execs if node == "dev-control-plane"]
    assert any(" drain dev-worker2 --ignore-daemonsets" in c for c in commands), commands
    assert any(" delete node dev-worker2" in c for c in commands), commands
    assert sorted(engine.nodes) == ["dev-control-plane", "dev-worker"]
    assert "dev-worker2-var" not in engine.volumes
    assert engine.removed == ["dev-worker2"]
    nodes = list(engine.nodes.values())
    # The others' labels still name it: only the record keeps it from being "missing".
    assert missing_nodes(nodes) == ["dev-worker2"]
    assert missing_nodes(nodes, engine.removed) == []
    assert cluster_state(nodes, removed=engine.removed) == "running"


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ("dev-control-plane", "only workers can be removed"),
        ("dev-nope", "has no node 'dev-nope'"),
    ],
)
def test_removing_a_control_plane_or_an_unknown_node_changes_nothing(
    node: str, message: str
) -> None:
    engine = Cluster()
    with pytest.raises(ClusterError, match=message):
        cluster.delete_node("dev", node, provider=engine)
    assert len(engine.nodes) == 3 and engine.execs == [] and engine.removed == []


def test_nothing_is_added_to_a_stopped_cluster_or_one_without_a_record() -> None:
    with pytest.raises(ClusterError, match=r"is not running .* start it first"):
        cluster.add_node("dev", provider=Cluster(state="exited"))
    engine = Cluster(record=False)
    with pytest.raises(ClusterError, match="has no record of its config"):
        cluster.add_node("dev", provider=engine)
    assert len(engine.nodes) == 3
    with pytest.raises(ClusterError, match="no cluster named 'other'"):
        cluster.add_node("other", provider=Cluster())


def test_a_degraded_cluster_gets_no_node() -> None:
    engine = Cluster()
    del engine.nodes["dev-worker"]
    with pytest.raises(ClusterError, match="degraded \\(dev-worker gone\\)"):
        cluster.add_node("dev", provider=engine)


class Pinning(MemoryEngine):
    def fixed_addresses(self, network: str, count: int) -> list[str]:
        return [f"10.89.0.{254 - i}" for i in range(count)]


def test_a_new_node_takes_the_highest_free_address() -> None:
    from nestkube.config import default_config
    from nestkube.create import plan
    from nestkube.create.context import CreateContext
    from nestkube.status import SILENT

    ctx = CreateContext(config=default_config("dev", workers=1), provider=Pinning(), status=SILENT)
    plan.plan_nodes(ctx, "img")
    ctx.node_ips = {"dev-control-plane": "10.89.0.254", "dev-worker": "10.89.0.253"}
    ctx.registry_addresses = {"reg": "10.89.0.252"}
    assert resize._free_address(ctx, 3) == "10.89.0.251"
    ctx.provider = MemoryEngine()  # an engine that does not pin: it gives the address
    assert resize._free_address(ctx, 3) is None


def test_the_record_reads_back_as_the_created_config_with_each_image() -> None:
    from dataclasses import replace

    from nestkube.config import NodeConfig, default_config, load_config
    from nestkube.create import bootstrap, plan
    from nestkube.create.context import CreateContext
    from nestkube.status import SILENT

    cfg = default_config("dev", workers=1)
    cfg = replace(cfg, nodes=[*cfg.nodes, NodeConfig(role="worker", labels={"tier": "edge"})])
    ctx = CreateContext(config=cfg, provider=MemoryEngine(), status=SILENT)
    plan.plan_nodes(ctx, "localhost/nestkube/node:v1.37.2")
    again = load_config("record", text=bootstrap.cluster_record(ctx))
    assert again.node_names() == ["dev-control-plane", "dev-worker", "dev-worker2"]
    assert {n.image for n in again.nodes} == {"localhost/nestkube/node:v1.37.2"}
    assert again.nodes[2].labels == {"tier": "edge"}
    assert again.networking == cfg.networking
