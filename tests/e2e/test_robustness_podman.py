"""Nothing lost, nothing hung, on real rootful Podman: concurrent creates of one name, an empty
name given to delete, signals at three points of a create, and an engine call that hangs.

Every create here is a single node; only the first race waits for Ready (the others check the
API server answers), and each cluster is deleted before the next is made.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import engine_leftovers, nestkube_cli

from nestkube import kubeconfig
from nestkube.images.node_image import NodeImage
from nestkube.kit.kubernetes import KubernetesBinaries
from nestkube.providers.base import LABEL_CLUSTER

RACE = "e2e-race"
BYSTANDER = "e2e-bystander"
NOTHING: dict[str, list[str]] = {"containers": [], "volumes": [], "networks": []}
CLAIMED = "already exists / is being created"


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [nestkube_cli(), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def start_create(
    name: str, image: str, config: Path, log: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """A create in the background; its progress lines (stderr) go to ``log``."""
    with log.open("wb") as err:
        return subprocess.Popen(
            [
                nestkube_cli(),
                "create",
                "cluster",
                "--name",
                name,
                "--image",
                image,
                "--provider",
                "podman",
                "--kubeconfig",
                str(config),
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, **(env or {})},
        )


def podman(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=120)


def node_ids(name: str) -> list[str]:
    out = podman("ps", "-a", "-q", "--no-trunc", "--filter", f"label={LABEL_CLUSTER}={name}")
    return sorted(out.stdout.split())


def wait_until(what: str, test: Callable[[], bool], proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 300
    while not test():
        if proc.poll() is not None:
            raise AssertionError(f"create ended (exit {proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"create never reached {what}")
        time.sleep(0.1)


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("ERROR:")]


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kube") / "config"


@pytest.fixture(scope="module")
def bystander(podman_node_image: NodeImage, kube: Path) -> Iterator[list[str]]:
    """A cluster that must come through every test here untouched (its container IDs)."""
    cli("delete", "cluster", "--name", BYSTANDER, "--kubeconfig", str(kube))
    made = cli(
        "create",
        "cluster",
        "--name",
        BYSTANDER,
        "--image",
        podman_node_image.image,
        "--provider",
        "podman",
        "--kubeconfig",
        str(kube),
        "--wait",
        "0",
    )
    assert made.returncode == 0, made.stderr
    ids = node_ids(BYSTANDER)
    assert len(ids) == 1
    yield ids
    assert node_ids(BYSTANDER) == ids
    cli("delete", "cluster", "--name", BYSTANDER, "--kubeconfig", str(kube))
    assert engine_leftovers("podman", BYSTANDER) == NOTHING


def test_delete_of_an_empty_name_deletes_nothing(bystander: list[str], kube: Path) -> None:
    for args in (["delete", "cluster", "--name", ""], ["delete", "clusters", " "]):
        res = cli(*args, "--kubeconfig", str(kube), "--provider", "podman")
        assert res.returncode == 1, res.stderr
        assert res.stderr.strip().splitlines() == [
            f"ERROR: invalid cluster name {args[-1]!r}: a cluster name cannot be empty"
        ]
    listed = cli("get", "clusters", "--provider", "podman")
    assert BYSTANDER in listed.stdout.split()
    assert node_ids(BYSTANDER) == bystander
    assert kubeconfig.has_entries(BYSTANDER, str(kube))


def test_concurrent_creates_of_one_name_make_one_cluster(
    podman_node_image: NodeImage,
    kit: KubernetesBinaries,
    bystander: list[str],
    kube: Path,
    tmp_path: Path,
) -> None:
    kubectl = str(kit.path("kubectl"))
    for round_ in range(5):
        cli("delete", "cluster", "--name", RACE, "--kubeconfig", str(kube))
        wait = ["--wait", "5m"] if round_ == 0 else ["--wait", "0"]
        logs = [tmp_path / f"{round_}-a.log", tmp_path / f"{round_}-b.log"]
        first = start_create(RACE, podman_node_image.image, kube, logs[0], *wait)
        second_started = time.monotonic()
        second = start_create(RACE, podman_node_image.image, kube, logs[1], *wait)
        # The loser is whichever did not get the claim; it returns long before the winner.
        done = [p.wait(timeout=900) for p in (first, second)]
        texts = [log.read_text() for log in logs]
        winners = [i for i, code in enumerate(done) if code == 0]
        assert len(winners) == 1, f"round {round_}: exits {done}\n{texts[0]}\n{texts[1]}"
        loser = 1 - winners[0]
        assert done[loser] == 1
        errors = error_lines(texts[loser])
        assert len(errors) == 1 and f"cluster {RACE!r} {CLAIMED}" in errors[0], texts[loser]
        assert "Removing what the failed create" not in texts[loser]
        if loser == 1:
            # Two process start-ups and an engine probe, then the claim fails at once.
            assert time.monotonic() - second_started < 60
        ids = node_ids(RACE)
        assert len(ids) == 1, ids
        state = podman("inspect", "--format", "{{.State.Status}} {{.RestartCount}}", ids[0])
        assert state.stdout.split() == ["running", "0"]
        nodes = subprocess.run(
            [kubectl, "--kubeconfig", str(kube), "--context", f"nestkube-{RACE}", "get", "nodes"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert nodes.returncode == 0, nodes.stderr
        assert f"{RACE}-control-plane" in nodes.stdout
        if round_ == 0:
            assert " Ready " in nodes.stdout, nodes.stdout
        assert node_ids(BYSTANDER) == bystander
    cli("delete", "cluster", "--name", RACE, "--kubeconfig", str(kube))
    assert engine_leftovers("podman", RACE) == NOTHING


def _network_exists(name: str) -> Callable[[], bool]:
    return lambda: podman("network", "exists", f"nestkube-{name}").returncode == 0


def _node_exists(name: str) -> Callable[[], bool]:
    return lambda: bool(node_ids(name))


def _kubeadm_init_started(log: Path) -> Callable[[], bool]:
    return lambda: "Starting the control plane (kubeadm init) ..." in log.read_text()


@pytest.mark.parametrize("point", ["network", "node", "kubeadm-init"])
def test_sigterm_during_create_removes_what_it_made(
    podman_node_image: NodeImage, bystander: list[str], kube: Path, tmp_path: Path, point: str
) -> None:
    name = f"e2e-term-{point}"
    log = tmp_path / "create.log"
    proc = start_create(name, podman_node_image.image, kube, log, "--wait", "0")
    reached = {
        "network": _network_exists(name),
        "node": _node_exists(name),
        "kubeadm-init": _kubeadm_init_started(log),
    }[point]
    try:
        wait_until(point, reached, proc)
        if point == "kubeadm-init":
            time.sleep(2)  # into kubeadm's own work, not just the step's first line
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert code == 143, text
    assert error_lines(text) == [
        f"ERROR: create of {name!r} interrupted (signal 15); removed what it made"
    ], text
    assert engine_leftovers("podman", name) == NOTHING
    assert not kubeconfig.has_entries(name, str(kube))
    assert node_ids(BYSTANDER) == bystander


def test_a_hung_engine_call_is_a_one_line_timeout(
    podman_node_image: NodeImage, bystander: list[str], kube: Path, tmp_path: Path
) -> None:
    """A `podman` first on PATH that hangs on one call (the wait for a node's systemd), as a
    deadlocked engine does; everything else goes to the real podman."""
    real = subprocess.run(["sh", "-c", "command -v podman"], capture_output=True, text=True)
    fake_dir = tmp_path / "bin"
    fake_dir.mkdir()
    fake = fake_dir / "podman"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        "  *is-system-running*) exec sleep 600 ;;\n"
        "esac\n"
        f'exec {real.stdout.strip()} "$@"\n'
    )
    fake.chmod(0o755)
    name = "e2e-hung"
    env = {"PATH": f"{fake_dir}:{os.environ['PATH']}", "NESTKUBE_ENGINE_TIMEOUT": "5"}
    started = time.monotonic()
    res = cli(
        "create",
        "cluster",
        "--name",
        name,
        "--image",
        podman_node_image.image,
        "--provider",
        "podman",
        "--kubeconfig",
        str(kube),
        "--wait",
        "0",
        env=env,
        timeout=300,
    )
    assert res.returncode == 1, res.stderr
    errors = error_lines(res.stderr)
    assert len(errors) == 1, res.stderr
    # The node's setup waits for systemd's boot first, in the same exec (60 s + 25 s here).
    assert re.search(r"timed out after \d+s", errors[0]) and "hung" in errors[0], errors[0]
    assert f"setting up node {name}-control-plane (podman exec -i {name}-control-plane" in errors[0]
    # The ERROR line is the last thing printed: no command log follows a timeout.
    assert res.stderr.strip().splitlines()[-1] == errors[0]
    assert time.monotonic() - started < 240
    assert engine_leftovers("podman", name) == NOTHING
    assert not kubeconfig.has_entries(name, str(kube))
    assert node_ids(BYSTANDER) == bystander
