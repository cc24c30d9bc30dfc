"""The create pipeline's guarantees, on an in-memory engine: a failure anywhere removes what
was made (unless --retain), names the step with its log tail, and never touches an existing
cluster."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from memory_engine import ADMIN, MemoryEngine, context, provision_all

from nestkube import kubeconfig
from nestkube.config import default_config
from nestkube.create import checks, pipeline, plan
from nestkube.create.context import CreateContext
from nestkube.errors import ClusterError, CommandError
from nestkube.providers.base import Mount, Node, NodeSpec
from nestkube.status import SILENT


def fail_with(message: str) -> Callable[[CreateContext], None]:
    def step(ctx: CreateContext) -> None:
        raise CommandError(["kubeadm", "init"], 1, "", f"line one\n{message}")

    return step


def write_kubeconfig(ctx: CreateContext) -> None:
    ctx.made.kubeconfig = True
    kubeconfig.merge_cluster(ADMIN, ctx.name, "https://127.0.0.1:1", ctx.kubeconfig)


@pytest.fixture(autouse=True)
def no_host_checks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(checks, "preflight", lambda ctx: None)
    # The name claims of these tests live in their own directory.
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))


def use_steps(monkeypatch: pytest.MonkeyPatch, *steps: tuple[str, pipeline.Action]) -> None:
    monkeypatch.setattr(pipeline, "steps", lambda ctx: [pipeline.Step(*s) for s in steps])


def test_a_failed_step_removes_everything_and_names_itself(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine = MemoryEngine()
    path = tmp_path / "config"
    use_steps(
        monkeypatch,
        ("Preparing nodes", provision_all),
        ("Writing kubeconfig", write_kubeconfig),
        ("Starting the control plane (kubeadm init)", fail_with("kubeadm: the reason")),
    )
    ctx = context(engine, "c1", path)
    with pytest.raises(ClusterError) as err:
        pipeline.run(ctx)
    assert str(err.value).startswith("step 'Starting the control plane (kubeadm init)' failed")
    assert "kubeadm: the reason" in err.value.detail
    assert engine.nodes == {} and engine.volumes == {} and engine.networks == set()
    assert not kubeconfig.has_entries("c1", str(path))


def test_retain_keeps_the_nodes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    engine = MemoryEngine()
    use_steps(
        monkeypatch,
        ("Preparing nodes", provision_all),
        ("Starting the control plane (kubeadm init)", fail_with("boom")),
    )
    with pytest.raises(ClusterError):
        pipeline.run(context(engine, "c2", tmp_path / "config", retain=True))
    assert sorted(engine.nodes) == ["c2-control-plane", "c2-worker"]
    assert "nestkube-c2" in engine.networks


def test_an_existing_cluster_is_never_cleaned_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine = MemoryEngine()
    use_steps(monkeypatch, ("Preparing nodes", provision_all))
    pipeline.run(context(engine, "c3", tmp_path / "config"))
    before = dict(engine.nodes)
    with pytest.raises(ClusterError, match="already exists"):
        pipeline.run(context(engine, "c3", tmp_path / "config"))
    assert engine.nodes == before


def test_a_shared_network_made_by_someone_else_stays(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine = MemoryEngine()
    engine.networks.add("nestkube-c4")
    use_steps(
        monkeypatch,
        ("Preparing nodes", provision_all),
        ("Joining nodes", fail_with("join failed")),
    )
    with pytest.raises(ClusterError):
        pipeline.run(context(engine, "c4", tmp_path / "config"))
    assert engine.nodes == {}
    assert "nestkube-c4" in engine.networks


def test_a_cleanup_failure_does_not_hide_the_cause(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine = MemoryEngine()

    def broken_delete(nodes: Sequence[Node]) -> None:
        raise CommandError(["podman", "rm"], 125, "", "engine went away")

    monkeypatch.setattr(engine, "delete_nodes", broken_delete)
    use_steps(
        monkeypatch,
        ("Preparing nodes", provision_all),
        ("Starting the control plane (kubeadm init)", fail_with("the real cause")),
    )
    with pytest.raises(ClusterError) as err:
        pipeline.run(context(engine, "c5", tmp_path / "config"))
    assert "the real cause" in err.value.detail
    assert engine.networks == set()  # the parts after the failed one still ran


def test_a_missing_mount_fails_before_anything_is_made(tmp_path: Path) -> None:
    engine = MemoryEngine()
    ctx = context(engine, "c6", tmp_path / "config")
    spec = ctx.specs[1]
    missing = NodeSpec(**{**spec.__dict__, "mounts": (Mount("/does/not/exist", "/x"),)})
    ctx.plan = replace(ctx.plan, specs=(ctx.specs[0], missing, *ctx.specs[2:]))
    with pytest.raises(ClusterError, match="/does/not/exist does not exist"):
        pipeline.run(ctx)
    assert engine.nodes == {} and engine.networks == set()


def test_kind_node_names(tmp_path: Path) -> None:
    ctx = CreateContext(
        config=default_config("n", workers=2, control_planes=2),
        provider=MemoryEngine(),
        status=SILENT,
    )
    plan.plan_nodes(ctx, "img")
    assert [s.name for s in ctx.specs] == [
        "n-control-plane",
        "n-control-plane2",
        "n-worker",
        "n-worker2",
    ]
    # With two control planes the load balancer publishes the API server, no node does.
    assert [s.api_server_port for s in ctx.specs] == [0, 0, 0, 0]
    assert ctx.load_balancer is not None and ctx.load_balancer.api_server_port > 0
    assert ctx.load_balancer.name == "n-external-load-balancer"
    assert {s.network for s in ctx.specs} == {"nestkube-n"}


def test_the_join_step_is_left_out_by_its_predicate_for_one_node(tmp_path: Path) -> None:
    engine = MemoryEngine()
    several = context(engine, "c7", tmp_path / "config")
    single = CreateContext(config=default_config("c8"), provider=engine, status=SILENT)
    plan.plan_nodes(single, "localhost/nestkube/node:v1.20.2")

    def needed(ctx: CreateContext) -> list[str]:
        return [s.name for s in pipeline.steps(ctx) if s.needed(ctx)]

    assert "Joining nodes" in needed(several)
    assert "Joining nodes" not in needed(single)
    left_out = {s.name for s in pipeline.steps(single)} - set(needed(single))
    assert left_out == {
        "Attaching registries",
        "Joining nodes",
        "Approving the kubelets' serving certificates",
        "Preparing the load balancer image",
        "Configuring the load balancer",
    }
    addon = CreateContext(
        config=replace(default_config("c9"), metrics_server=True), provider=engine, status=SILENT
    )
    plan.plan_nodes(addon, "localhost/nestkube/node:v1.20.2")
    assert "Approving the kubelets' serving certificates" in needed(addon)
