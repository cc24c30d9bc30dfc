"""Docker: info parsing, node command lines and the privileged-caps error, on a fake CLI."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from typing import Any

import pytest

from nestkube.errors import CommandError, HostError, ProviderError
from nestkube.providers.base import (
    LABEL_CLUSTER,
    LABEL_ROLE,
    Mount,
    NodeRole,
    NodeSpec,
    ProviderInfo,
)
from nestkube.providers.docker import DockerProvider, parse_docker_info, probe_docker

from .fakes import RESTRICTED_HOST, FakeEngine
from .nodes import assert_node_run_args, node_spec

# Trimmed from `docker info --format '{{json .}}'` of dockerd 20.10 on a cgroup v1 host.
ROOTFUL_V1: dict[str, Any] = {
    "ServerVersion": "20.10.24+dfsg1",
    "Driver": "overlay2",
    "CgroupDriver": "cgroupfs",
    "CgroupVersion": "1",
    "SecurityOptions": ["name=seccomp,profile=default"],
    "DefaultRuntime": "runc",
    "ClientInfo": {"Version": "28.2.2", "Context": "default"},
}
# Rootless dockerd 24 on a systemd cgroup v2 host.
ROOTLESS_V2: dict[str, Any] = {
    "ServerVersion": "24.0.7",
    "Driver": "overlay2",
    "CgroupDriver": "systemd",
    "CgroupVersion": "2",
    "SecurityOptions": ["name=seccomp,profile=builtin", "name=rootless", "name=cgroupns"],
}
# Rootful dockerd with the systemd driver on cgroup v2 (a stock modern distribution).
ROOTFUL_V2: dict[str, Any] = {**ROOTLESS_V2, "SecurityOptions": ["name=seccomp,profile=builtin"]}
CAPS_STDERR = (
    "docker: Error response from daemon: failed to create shim task: OCI runtime create failed: "
    "runc create failed: unable to start container process: unable to apply caps: operation not "
    "permitted: unknown.\n"
)


def info(rootless: bool = False) -> ProviderInfo:
    return ProviderInfo("docker", "docker", "20.10.24", rootless, RESTRICTED_HOST)


def spec(role: NodeRole = "control-plane") -> NodeSpec:
    return node_spec("dk", 40001, role)


# --- info ---------------------------------------------------------------------------------
def test_rootful_cgroup_v1() -> None:
    got = parse_docker_info(ROOTFUL_V1, "/usr/bin/docker", RESTRICTED_HOST)
    assert got.name == "docker"
    assert got.version == "20.10.24+dfsg1"
    assert not got.rootless
    assert got.cgroup_driver == "cgroupfs"
    assert got.storage_driver == "overlay2"
    # dockerd's default runtime stays in charge: that is where a caps filter is installed.
    assert got.runtime is None


def test_rootless_cgroup_v2_follows_systemd() -> None:
    got = parse_docker_info(ROOTLESS_V2, "docker", replace(RESTRICTED_HOST, cgroup_mode="v2"))
    assert got.rootless
    assert got.cgroup_driver == "systemd"


def test_rootful_cgroup_v2_nodes_use_cgroupfs() -> None:
    got = parse_docker_info(ROOTFUL_V2, "docker", replace(RESTRICTED_HOST, cgroup_mode="v2"))
    assert not got.rootless
    assert got.cgroup_driver == "cgroupfs"


def test_rootless_among_combined_security_option() -> None:
    data = {**ROOTFUL_V1, "SecurityOptions": ["name=seccomp,profile=default,name=rootless"]}
    assert parse_docker_info(data, "docker", RESTRICTED_HOST).rootless


def test_daemon_down_reports_the_cli_message() -> None:
    data = {**ROOTFUL_V1, "ServerVersion": ""}
    stderr = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\n"
    with pytest.raises(ProviderError, match="Cannot connect to the Docker daemon"):
        parse_docker_info(data, "docker", RESTRICTED_HOST, stderr)


def test_old_client_server_errors() -> None:
    data = {"ServerVersion": "", "ServerErrors": ["permission denied on docker.sock"]}
    with pytest.raises(ProviderError, match="permission denied"):
        parse_docker_info(data, "docker", RESTRICTED_HOST)


def test_probe_runs_docker_info_json_without_host_flags(
    fake_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    fake_engine.on(["info"], out=json.dumps(ROOTFUL_V1))
    got = probe_docker(host=RESTRICTED_HOST)
    assert got.binary == "/usr/bin/docker"
    # DOCKER_HOST and the docker context are the CLI's business: no --host/--context added.
    assert fake_engine.calls == [["/usr/bin/docker", "info", "--format", "{{json .}}"]]


def test_probe_daemon_down(fake_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    fake_engine.on(
        ["info"],
        code=1,
        out=json.dumps({**ROOTFUL_V1, "ServerVersion": ""}),
        err="Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is it running?",
    )
    with pytest.raises(ProviderError, match=r"Cannot connect.*start dockerd"):
        probe_docker(host=RESTRICTED_HOST)


def test_probe_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ProviderError, match="docker not found"):
        probe_docker(host=RESTRICTED_HOST)


def test_endpoint_prefers_docker_host(
    fake_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.5:2376")
    assert DockerProvider(info()).endpoint() == "tcp://10.0.0.5:2376"
    monkeypatch.delenv("DOCKER_HOST")
    fake_engine.on(["context", "inspect"], out="unix:///run/user/1000/docker.sock\n")
    assert DockerProvider(info()).endpoint() == "unix:///run/user/1000/docker.sock"


# --- node command line ----------------------------------------------------------------------
def test_node_run_args() -> None:
    args = DockerProvider(info()).node_run_args(spec())
    # No Podman-only flags (checked by the helper), and no runtime override that would bypass
    # dockerd's default runtime.
    assert_node_run_args(
        args,
        (
            "--volume dk-control-plane-var:/var",
            "--tmpfs /tmp",
            "--tmpfs /run",
            "--network nestkube-dk",
            "--env container=docker",
            "--hostname dk-control-plane",
            "--publish 127.0.0.1:40001:6443/tcp",
            f"--label {LABEL_CLUSTER}=dk",
            f"--label {LABEL_ROLE}=control-plane",
        ),
    )
    assert "--runtime" not in args
    # Below this host's hard limits (nofile 20000, nproc 96365).
    assert "nofile=16384:16384" in args
    assert "nproc=32768:32768" in args


def test_worker_publishes_nothing() -> None:
    args = DockerProvider(info()).node_run_args(spec("worker"))
    assert "--publish" not in args


def test_rootless_adds_fuse() -> None:
    args = DockerProvider(info(rootless=True)).node_run_args(spec())
    assert "--device" in args and "/dev/fuse" in args


def test_create_node_creates_labelled_volume_then_runs(fake_engine: FakeEngine) -> None:
    DockerProvider(info()).create_node(spec())
    assert fake_engine.calls[0][:3] == ["docker", "volume", "create"]
    assert f"{LABEL_CLUSTER}=dk" in fake_engine.calls[0]
    assert fake_engine.calls[1][1] == "run"


# --- the privileged caps failure ------------------------------------------------------------
def test_caps_failure_becomes_host_error(fake_engine: FakeEngine) -> None:
    fake_engine.on(["run"], code=125, err=CAPS_STDERR)
    with pytest.raises(HostError) as caught:
        DockerProvider(info()).create_node(spec())
    msg = str(caught.value)
    assert "\n" not in msg
    assert "CAP_SYS_RESOURCE" in msg
    assert "--add-runtime" in msg and "--default-runtime" in msg
    assert "nestkube doctor" in msg
    assert "dk-control-plane" in msg
    assert isinstance(caught.value.__cause__, CommandError)


def test_caps_message_lists_every_missing_capability(fake_engine: FakeEngine) -> None:
    host = replace(
        RESTRICTED_HOST,
        missing_capabilities=frozenset({"CAP_SYS_MODULE"}),
        ineffective_capabilities=frozenset({"CAP_SYS_RESOURCE"}),
    )
    fake_engine.on(["run"], code=125, err=CAPS_STDERR)
    provider = DockerProvider(ProviderInfo("docker", "docker", "20.10", False, host))
    with pytest.raises(HostError, match="lacks CAP_SYS_MODULE, CAP_SYS_RESOURCE"):
        provider.create_node(spec())


def test_build_container_caps_failure(fake_engine: FakeEngine) -> None:
    fake_engine.on(["run"], code=125, err=CAPS_STDERR)
    with pytest.raises(HostError, match="starting nk-build"):
        DockerProvider(info()).run_build_container(
            "base:1", "nk-build", [Mount("/tmp/in", "/nestkube-in")]
        )


def test_other_run_failures_pass_through(fake_engine: FakeEngine) -> None:
    fake_engine.on(["run"], code=125, err="docker: Error response from daemon: Conflict.\n")
    with pytest.raises(CommandError, match="Conflict"):
        DockerProvider(info()).create_node(spec())


# --- reading state back ---------------------------------------------------------------------
def test_list_nodes_from_docker_label_strings(fake_engine: FakeEngine) -> None:
    lines = [
        {
            "Names": "dk-worker",
            "State": "running",
            "Labels": f"{LABEL_CLUSTER}=dk,{LABEL_ROLE}=worker",
        },
        {
            "Names": "dk-control-plane",
            "State": "running",
            "Labels": f"{LABEL_ROLE}=control-plane,{LABEL_CLUSTER}=dk,io.nestkube.api-port=40001",
        },
    ]
    fake_engine.on(["ps"], out="\n".join(json.dumps(x) for x in lines) + "\n")
    nodes = DockerProvider(info()).list_nodes("dk")
    assert [(n.name, n.role, n.state) for n in nodes] == [
        ("dk-control-plane", "control-plane", "running"),
        ("dk-worker", "worker", "running"),
    ]
    assert ["--filter", f"label={LABEL_CLUSTER}=dk"] == fake_engine.calls[0][-2:]


def test_image_id_keeps_docker_prefix(fake_engine: FakeEngine) -> None:
    fake_engine.on(["image", "inspect"], out="sha256:" + "ab" * 32 + "\n")
    assert DockerProvider(info()).image_id("x:1") == "sha256:" + "ab" * 32


def test_engine_info_includes_endpoint(
    fake_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/docker.sock")
    fake_engine.on(["info"], out="Server Version: 20.10.24\n")
    text = DockerProvider(info()).engine_info()
    assert "Server Version: 20.10.24" in text
    assert "endpoint: unix:///run/docker.sock" in text


def test_commit_drops_changes_docker_refuses(fake_engine: FakeEngine) -> None:
    changes = ['ENTRYPOINT ["/sbin/init"]', "STOPSIGNAL SIGRTMIN+3", "LABEL a=b", "ENV x=y"]
    DockerProvider(info()).commit("build", "img:1", changes)
    call = fake_engine.commands("commit")[0]
    assert "STOPSIGNAL SIGRTMIN+3" not in call
    assert call == [
        "docker",
        "commit",
        "--change",
        'ENTRYPOINT ["/sbin/init"]',
        "--change",
        "LABEL a=b",
        "--change",
        "ENV x=y",
        "build",
        "img:1",
    ]


def test_exec_caps_failure_explained(fake_engine: FakeEngine) -> None:
    fake_engine.on(
        ["exec"],
        code=126,
        err="OCI runtime exec failed: exec failed: unable to start container process: unable to "
        "apply caps: operation not permitted: unknown\n",
    )
    with pytest.raises(HostError, match=r"exec in dk-control-plane.*process spec"):
        DockerProvider(info()).exec("dk-control-plane", ["true"])
    # Callers that check the result themselves still get it.
    res = DockerProvider(info()).exec("dk-control-plane", ["true"], check=False)
    assert res.returncode == 126
