"""Faults after create, on real rootful Podman (issue #27): a create killed with SIGKILL and the
same name created again, two names created at once, a stopped cluster deleted, a node's
container removed by hand, and a node's PID 1 crashing versus `podman kill`.

Each test makes its own small cluster (one node; one control plane and one worker where a
worker is removed) and deletes it, checking the engine holds nothing of it afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import Kubectl, engine_leftovers, eventually, nestkube_cli

from nestkube import kubeconfig
from nestkube.images.node_image import NodeImage
from nestkube.kit.kubernetes import KubernetesBinaries
from nestkube.providers.base import LABEL_CLUSTER

KILLED = "e2e-faults-killed"
PAIR = ("e2e-faults-one", "e2e-faults-two")
STOPPED = "e2e-faults-stopped"
REMOVED = "e2e-faults-removed"
CRASH = "e2e-faults-crash"
NOTHING: dict[str, list[str]] = {"containers": [], "volumes": [], "networks": []}


def cli(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [nestkube_cli(), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def podman(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=120)


def create_args(name: str, image: str, kube: Path, *extra: str) -> list[str]:
    return [
        "create",
        "cluster",
        "--name",
        name,
        "--image",
        image,
        "--provider",
        "podman",
        "--kubeconfig",
        str(kube),
        *extra,
    ]


def start_create(
    name: str, image: str, kube: Path, log: Path, *extra: str
) -> subprocess.Popen[bytes]:
    with log.open("wb") as err:
        return subprocess.Popen(
            [nestkube_cli(), *create_args(name, image, kube, *extra)],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def delete(name: str, kube: Path) -> None:
    done = cli(
        "delete", "cluster", "--name", name, "--provider", "podman", "--kubeconfig", str(kube)
    )
    assert done.returncode == 0, done.stderr
    assert engine_leftovers("podman", name) == NOTHING
    assert not kubeconfig.has_entries(name, str(kube))


def containers(name: str) -> list[str]:
    out = podman("ps", "-a", "--format", "{{.Names}}", "--filter", f"label={LABEL_CLUSTER}={name}")
    return sorted(out.stdout.split())


def listed(name: str) -> dict[str, object]:
    res = cli("get", "clusters", "-o", "json", "--provider", "podman")
    assert res.returncode == 0, res.stderr
    return next(c for c in json.loads(res.stdout) if c["name"] == name)


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("ERROR:")]


def inspect(node: str) -> dict[str, object]:
    out = podman("inspect", node)
    assert out.returncode == 0, out.stderr
    state: dict[str, object] = json.loads(out.stdout)[0]["State"]
    return state


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("kube") / "config"
    yield path
    for name in (KILLED, *PAIR, STOPPED, REMOVED, CRASH):
        cli("delete", "cluster", "--name", name, "--provider", "podman", "--kubeconfig", str(path))


def test_a_create_killed_with_sigkill_then_the_same_name_says_delete_first(
    podman_node_image: NodeImage, kube: Path, tmp_path: Path
) -> None:
    delete(KILLED, kube)
    create = start_create(KILLED, podman_node_image.image, kube, tmp_path / "killed.log")
    deadline = time.monotonic() + 300
    while not containers(KILLED):
        assert create.poll() is None, (tmp_path / "killed.log").read_text()
        assert time.monotonic() < deadline, "the create made no container in 300s"
        time.sleep(0.2)
    os.kill(create.pid, signal.SIGKILL)  # nothing can clean up after this
    create.wait(timeout=30)
    assert containers(KILLED), "SIGKILL leaves what the create made"

    again = cli(*create_args(KILLED, podman_node_image.image, kube, "--wait", "0"))
    assert again.returncode == 1
    assert error_lines(again.stderr) == [
        f"ERROR: cluster {KILLED!r} already exists (or a create of it was killed before it "
        f"finished); delete it first: nestkube delete cluster --name {KILLED}"
    ], again.stderr
    delete(KILLED, kube)


def test_two_names_created_at_once_are_both_ready(
    podman_node_image: NodeImage, kit: KubernetesBinaries, kube: Path, tmp_path: Path
) -> None:
    for name in PAIR:
        delete(name, kube)
    logs = [tmp_path / f"{name}.log" for name in PAIR]
    creates = [
        start_create(name, podman_node_image.image, kube, log, "--wait", "5m")
        for name, log in zip(PAIR, logs, strict=True)
    ]
    codes = [c.wait(timeout=1200) for c in creates]
    assert codes == [0, 0], "\n".join(log.read_text() for log in logs)
    for name in PAIR:
        assert listed(name)["state"] == "running"
        kubectl = Kubectl(str(kit.path("kubectl")), kube, f"nestkube-{name}")
        nodes = kubectl.json("get", "nodes")["items"]
        ready = [
            c["status"] for n in nodes for c in n["status"]["conditions"] if c["type"] == "Ready"
        ]
        assert ready == ["True"], (name, nodes)
    for name in PAIR:
        delete(name, kube)


def test_a_stopped_cluster_deletes_cleanly(podman_node_image: NodeImage, kube: Path) -> None:
    delete(STOPPED, kube)
    made = cli(*create_args(STOPPED, podman_node_image.image, kube, "--wait", "0"))
    assert made.returncode == 0, made.stderr
    stopped = cli("stop", "cluster", "--name", STOPPED, "--provider", "podman")
    assert stopped.returncode == 0, stopped.stderr
    assert listed(STOPPED)["state"] == "stopped"
    delete(STOPPED, kube)


def test_a_node_removed_by_hand_is_named_and_the_cluster_is_degraded(
    podman_node_image: NodeImage, kube: Path, tmp_path: Path
) -> None:
    delete(REMOVED, kube)
    config = tmp_path / "removed.yaml"
    config.write_text(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"
        "nodes:\n- role: control-plane\n- role: worker\n"
    )
    made = cli(
        *create_args(REMOVED, podman_node_image.image, kube, "--config", str(config), "--wait", "0")
    )
    assert made.returncode == 0, made.stderr
    worker = f"{REMOVED}-worker"
    assert podman("rm", "-f", worker).returncode == 0

    started = cli("start", "cluster", "--name", REMOVED, "--provider", "podman", timeout=120)
    assert started.returncode == 1, started.stderr
    errors = error_lines(started.stderr)
    assert len(errors) == 1 and f"node {worker} is gone" in errors[0], started.stderr
    assert f"nestkube delete cluster --name {REMOVED}" in errors[0]
    assert "running again" not in started.stderr

    info = listed(REMOVED)
    assert info["state"] == "degraded" and info["missingNodes"] == [worker]
    text = cli("get", "clusters", "--provider", "podman").stdout.splitlines()
    assert [REMOVED, "degraded"] in [line.split() for line in text], text
    # The removed worker's volume goes with the rest.
    delete(REMOVED, kube)


def test_a_crashed_pid_1_comes_back_and_podman_kill_stays_down(
    podman_node_image: NodeImage, kit: KubernetesBinaries, kube: Path
) -> None:
    delete(CRASH, kube)
    made = cli(*create_args(CRASH, podman_node_image.image, kube, "--wait", "3m"))
    assert made.returncode == 0, made.stderr
    node = f"{CRASH}-control-plane"
    kubectl = Kubectl(str(kit.path("kubectl")), kube, f"nestkube-{CRASH}")

    # PID 1 of the node (systemd) killed from the host: a crash, not a stop by the user.
    before = inspect(node)
    os.kill(int(str(before["Pid"])), signal.SIGKILL)
    eventually(
        lambda: inspect(node),
        lambda s: s["Status"] == "running" and s["Pid"] not in (0, before["Pid"]),
        timeout=60,
        what="the node restarted by its restart policy",
    )
    eventually(
        lambda: kubectl("get", "--raw", "/readyz", check=False, timeout=30).returncode,
        lambda code: code == 0,
        timeout=240,
        what="the API server answering after the crash",
    )
    assert listed(CRASH)["state"] == "running"

    # `podman kill` is the user stopping it: the restart policy leaves it down.
    assert podman("kill", node).returncode == 0
    time.sleep(20)
    assert inspect(node)["Status"] in ("exited", "stopped"), inspect(node)
    assert listed(CRASH)["state"] == "stopped"
    started = cli("start", "cluster", "--name", CRASH, "--provider", "podman", "--wait", "3m")
    assert started.returncode == 0, started.stderr
    assert listed(CRASH)["state"] == "running"
    delete(CRASH, kube)
