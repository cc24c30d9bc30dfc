"""What a create does when something else happens at the same time: a second create of the
same name, a signal, a node that dies, a malformed kubeconfig. Each must leave exactly what
was there before (or the finished cluster) and say what happened in one line."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from memory_engine import MemoryEngine, context, provision_all

from nestkube import _exec, kubeconfig
from nestkube.create import checks, claim, pipeline, provision
from nestkube.create.context import CreateContext
from nestkube.errors import ClusterError, CommandError, CommandTimeout
from nestkube.kubeconfig import KubeconfigError
from nestkube.providers.base import LABEL_CLUSTER, Node


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(checks, "preflight", lambda ctx: None)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))


def use_steps(monkeypatch: pytest.MonkeyPatch, *steps: tuple[str, pipeline.Action]) -> None:
    monkeypatch.setattr(pipeline, "steps", lambda ctx: [pipeline.Step(*s) for s in steps])


def nothing_left(engine: MemoryEngine, name: str, path: Path) -> bool:
    return (
        not engine.list_nodes(name)
        and not engine.cluster_volumes(name)
        and f"nestkube-{name}" not in engine.networks
        and not kubeconfig.has_entries(name, str(path))
    )


# --- the name claim -----------------------------------------------------------------------
def test_a_second_create_of_a_claimed_name_fails_at_once_and_touches_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine = MemoryEngine()
    inside = threading.Event()
    release = threading.Event()

    def slow_provision(ctx: CreateContext) -> None:
        provision_all(ctx)
        inside.set()
        assert release.wait(10)

    use_steps(monkeypatch, ("Preparing nodes", slow_provision))
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(pipeline.run, context(engine, "dup", tmp_path / "config"))
        assert inside.wait(10)
        before = dict(engine.nodes), dict(engine.volumes), set(engine.networks)
        started = time.monotonic()
        with pytest.raises(ClusterError, match="'dup' already exists / is being created"):
            pipeline.run(context(engine, "dup", tmp_path / "config"))
        assert time.monotonic() - started < 1.0
        assert (dict(engine.nodes), dict(engine.volumes), set(engine.networks)) == before
        release.set()
        first.result()
    assert sorted(engine.nodes) == ["dup-control-plane", "dup-worker"]


def test_claims_are_per_name_and_released_after_create(tmp_path: Path) -> None:
    info = MemoryEngine().info
    with (
        claim.claimed(info, "a"),
        claim.claimed(info, "b"),
        pytest.raises(ClusterError, match="already exists / is being created"),
        claim.claimed(info, "a"),
    ):
        pass
    with claim.claimed(info, "a"):  # released when the first holder finished
        pass
    assert claim.lock_path(info, "a").parent == tmp_path / "nestkube" / "locks"


def test_leftover_volumes_of_the_name_refuse_the_create(tmp_path: Path) -> None:
    engine = MemoryEngine()
    engine.volumes["old-control-plane-var"] = "old"
    with pytest.raises(ClusterError, match="old-control-plane-var are left"):
        pipeline.run(context(engine, "old", tmp_path / "config"))
    assert engine.volumes == {"old-control-plane-var": "old"}


def test_cleanup_removes_only_what_this_run_made(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A container that appears with the cluster's label but a name this run never planned
    (another tool, another version of nestkube) is not this run's to remove."""
    engine = MemoryEngine()

    def someone_else_then_fail(ctx: CreateContext) -> None:
        engine.nodes["own-extra"] = Node("own-extra", "worker", "own", "running", {})
        engine.volumes["own-extra-var"] = "own"
        raise CommandError(["kubeadm", "init"], 1, "", "boom")

    use_steps(
        monkeypatch,
        ("Preparing nodes", provision_all),
        ("Starting the control plane (kubeadm init)", someone_else_then_fail),
    )
    with pytest.raises(ClusterError, match="boom"):
        pipeline.run(context(engine, "own", tmp_path / "config"))
    assert list(engine.nodes) == ["own-extra"]
    assert list(engine.volumes) == ["own-extra-var"]


def test_a_failure_before_provisioning_removes_no_node(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine = MemoryEngine()
    removed: list[list[Node]] = []
    monkeypatch.setattr(engine, "delete_nodes", lambda nodes: removed.append(list(nodes)))

    def fail(ctx: CreateContext) -> None:
        raise CommandError(["podman", "network", "create"], 1, "", "no")

    monkeypatch.setattr(provision, "create_network", fail)
    with pytest.raises(ClusterError):
        pipeline.run(context(engine, "early", tmp_path / "config"))
    assert removed == []


# --- signals ------------------------------------------------------------------------------
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_cleans_up_and_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, signum: int
) -> None:
    engine = MemoryEngine()

    def killed(ctx: CreateContext) -> None:
        os.kill(os.getpid(), signum)
        time.sleep(5)  # the handler interrupts this
        raise AssertionError("the signal did not interrupt the create")

    use_steps(
        monkeypatch,
        ("Preparing nodes", provision_all),
        ("Starting the control plane (kubeadm init)", killed),
    )
    path = tmp_path / "config"
    with pytest.raises(ClusterError) as err:
        pipeline.run(context(engine, "sig", path))
    assert str(err.value) == (
        f"create of 'sig' interrupted (signal {int(signum)}); removed what it made"
    )
    assert err.value.exit_code == 128 + signum
    assert nothing_left(engine, "sig", path)
    # The handlers are put back: the default SIGTERM/SIGHUP action is restored after create.
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_a_signal_stops_engine_commands_of_worker_threads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Cleanup starts only after the commands worker threads wait on are stopped, and it does
    not wait for them to run out."""
    engine = MemoryEngine()

    def hung_workers(ctx: CreateContext) -> None:
        def one(_: object) -> None:
            _exec.run(["sleep", "30"], timeout=60)

        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM)).start()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(one, range(2)))

    use_steps(
        monkeypatch,
        ("Preparing nodes", provision_all),
        ("Booting systemd", hung_workers),
    )
    started = time.monotonic()
    with pytest.raises(ClusterError, match=r"interrupted \(signal 15\)"):
        pipeline.run(context(engine, "hung", tmp_path / "config"))
    assert time.monotonic() - started < 10
    assert nothing_left(engine, "hung", tmp_path / "config")
    _exec.run(["true"])  # commands run again after the interrupted create


# --- the node itself ----------------------------------------------------------------------
def test_a_node_that_vanished_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    engine = MemoryEngine()

    def node_dies(ctx: CreateContext) -> None:
        engine.nodes.pop("gone-worker")
        engine.nodes["gone-control-plane"] = Node(
            "gone-control-plane", "control-plane", "gone", "exited", {LABEL_CLUSTER: "gone"}
        )
        raise CommandError(["podman", "exec", "gone-control-plane", "kubeadm"], 137, "", "x")

    use_steps(
        monkeypatch,
        ("Preparing nodes", provision_all),
        ("Starting the control plane (kubeadm init)", node_dies),
    )
    with pytest.raises(ClusterError) as err:
        pipeline.run(context(engine, "gone", tmp_path / "config"))
    assert str(err.value) == (
        "step 'Starting the control plane (kubeadm init)' failed: node gone-control-plane is "
        "not running (container state exited); node gone-worker is gone (its container was "
        "removed)"
    )


# --- the kubeconfig -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("clusters: [\n", ": invalid YAML: "),
        ("- a list\n", "expected a mapping"),
        ("clusters: 3\n", "clusters"),
    ],
)
def test_a_malformed_kubeconfig_fails_before_anything_is_made(
    tmp_path: Path, text: str, message: str
) -> None:
    engine = MemoryEngine()
    path = tmp_path / "config"
    path.write_text(text)
    started = time.monotonic()
    with pytest.raises(KubeconfigError, match=message):
        pipeline.run(context(engine, "kc", path))
    assert time.monotonic() - started < 1.0
    assert engine.nodes == {} and engine.networks == set()
    assert path.read_text() == text


def test_a_kubeconfig_under_a_file_fails_first(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    engine = MemoryEngine()
    with pytest.raises(KubeconfigError, match="Not a directory"):
        pipeline.run(context(engine, "kd", tmp_path / "file" / "config"))
    assert engine.nodes == {}


def test_a_timed_out_step_is_one_line_and_cleans_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine = MemoryEngine()

    def hangs(ctx: CreateContext) -> None:
        raise CommandTimeout(
            ["podman", "exec", "to-control-plane", "systemctl", "is-system-running"],
            25,
            hint="is node to-control-plane or the engine hung? check `podman info`",
        )

    use_steps(
        monkeypatch,
        ("Preparing nodes", provision_all),
        ("Booting systemd", hangs),
    )
    with pytest.raises(ClusterError) as err:
        pipeline.run(context(engine, "to", tmp_path / "config"))
    assert str(err.value) == (
        "step 'Booting systemd' failed: podman exec to-control-plane systemctl ... timed out "
        "after 25s; is node to-control-plane or the engine hung? check `podman info`"
    )
    assert err.value.detail == ""
    assert nothing_left(engine, "to", tmp_path / "config")


def test_a_callers_own_signal_handler_gets_the_signal_after_cleanup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A program with its own SIGTERM handler (bench/create.py stops all runs with it) still
    gets the signal, after the create has removed what it made."""
    engine = MemoryEngine()

    class Stop(Exception):
        pass

    def own(signum: int, frame: object) -> None:
        raise Stop(signum)

    def killed(ctx: CreateContext) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)

    use_steps(
        monkeypatch,
        ("Preparing nodes", provision_all),
        ("Starting the control plane (kubeadm init)", killed),
    )
    previous = signal.signal(signal.SIGTERM, own)
    try:
        with pytest.raises(Stop):
            pipeline.run(context(engine, "own-handler", tmp_path / "config"))
        assert signal.getsignal(signal.SIGTERM) is own
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert nothing_left(engine, "own-handler", tmp_path / "config")


def test_a_signal_while_the_network_is_made_removes_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine = MemoryEngine()

    def slow_network(name: str, cluster: str) -> None:
        engine.networks.add(name)
        os.kill(os.getpid(), signal.SIGTERM)  # the engine made it; its client has not returned
        time.sleep(5)

    monkeypatch.setattr(engine, "ensure_network", slow_network)
    with pytest.raises(ClusterError, match="interrupted"):
        pipeline.run(context(engine, "netsig", tmp_path / "config"))
    assert engine.networks == set()
