"""The CLI's shared behaviour: name variables, --provider's exit code, -v 2, Ctrl-C, completion,
`get nodes --all-clusters`, `export kubeconfig --internal` and `version`.

The engine is the fake one (providers.fakes) or, where a real process matters (-v 2, Ctrl-C,
completion), a stand-in `podman` script on PATH.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
import typer.completion
import yaml
from providers.fakes import FakeEngine
from typer.testing import CliRunner

import nestkube.cli.main
from nestkube import _exec, cluster
from nestkube._version import __version__
from nestkube.cli import groups
from nestkube.config import ClusterConfig
from nestkube.defaults import DEFAULT_KUBERNETES_VERSION
from nestkube.nodeops import access
from nestkube.providers.base import LABEL_CLUSTER, LABEL_NETWORK, LABEL_ROLE, Node

ENV_NAMES = ("NESTKUBE_CLUSTER_NAME", "KIND_CLUSTER_NAME", "NESTKUBE_PROVIDER")


def _entry(name: str, cluster_: str, role: str) -> str:
    labels = {LABEL_CLUSTER: cluster_, LABEL_ROLE: role}
    return json.dumps({"Names": [name], "Labels": labels, "State": "running"})


@pytest.fixture
def stub_podman(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `podman` on PATH that records it ran, then runs $STUB_BODY (default: nothing)."""
    binary = tmp_path / "bin" / "podman"
    binary.parent.mkdir()
    binary.write_text(f'#!/bin/sh\ntouch {tmp_path}/ran\neval "${{STUB_BODY:-:}}"\n')
    binary.chmod(0o755)
    monkeypatch.setenv("PATH", f"{binary.parent}:/usr/bin:/bin")
    for var in (*ENV_NAMES, "KIND_EXPERIMENTAL_PROVIDER"):
        monkeypatch.delenv(var, raising=False)
    return binary


@pytest.fixture
def fake_engine(stub_podman: Path, monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    engine = FakeEngine()
    monkeypatch.setattr(_exec, "run", engine.run)
    return engine


def _invoke(*args: str, env: dict[str, str] | None = None) -> typer.testing.Result:
    return CliRunner().invoke(groups.app, list(args), env=env)


# --- --name and its environment variables -----------------------------------------------
@pytest.mark.parametrize(
    ("env", "flag", "expected"),
    [
        ({}, [], "nestkube"),
        ({"KIND_CLUSTER_NAME": "kindname"}, [], "kindname"),
        ({"NESTKUBE_CLUSTER_NAME": "mine", "KIND_CLUSTER_NAME": "kindname"}, [], "mine"),
        # An empty variable is unset, as kind treats KIND_CLUSTER_NAME.
        ({"NESTKUBE_CLUSTER_NAME": "", "KIND_CLUSTER_NAME": "kindname"}, [], "kindname"),
        ({"NESTKUBE_CLUSTER_NAME": "mine"}, ["--name", "flag"], "flag"),
    ],
)
def test_name_comes_from_flag_then_nestkube_then_kind_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], flag: list[str], expected: str
) -> None:
    asked: list[str] = []

    def list_nodes(name: str, **kwargs: object) -> list[Node]:
        asked.append(name)
        return [Node(f"{name}-control-plane", "control-plane", name)]

    monkeypatch.setattr(cluster, "list_nodes", list_nodes)
    for var in ENV_NAMES:
        monkeypatch.delenv(var, raising=False)
    result = _invoke("get", "nodes", *flag, env=env)
    assert result.exit_code == 0, result.output
    assert asked == [expected]
    assert result.stdout.split() == [f"{expected}-control-plane"]


def test_the_name_variable_overrides_a_config_files_name_as_in_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "cluster.yaml"
    config.write_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname: fromfile\n")
    planned: list[str] = []

    def plan(cfg: ClusterConfig, **kwargs: object) -> dict[str, object]:
        planned.append(cfg.name)
        return {}

    monkeypatch.setattr(cluster, "dry_run_plan", plan)
    args = ["create", "cluster", "--config", str(config), "--dry-run"]
    for env, expected in (
        ({"NESTKUBE_CLUSTER_NAME": "", "KIND_CLUSTER_NAME": ""}, "fromfile"),
        ({"KIND_CLUSTER_NAME": "fromenv"}, "fromenv"),
    ):
        result = _invoke(*args, env=env)
        assert result.exit_code == 0, result.output
        assert planned.pop() == expected


# --- --provider: one choice, one exit code -----------------------------------------------
def _commands_with_provider() -> Iterator[list[str]]:
    root = typer.main.get_command(groups.app)

    def walk(command: object, path: list[str]) -> Iterator[list[str]]:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                yield from walk(sub, [*path, name])
        elif any("--provider" in p.opts for p in getattr(command, "params", [])):
            yield path

    yield from walk(root, [])


def test_a_bad_provider_is_a_usage_error_under_every_command(stub_podman: Path) -> None:
    paths = list(_commands_with_provider())
    assert ["doctor"] in paths and ["get", "clusters"] in paths and ["load", "image"] in paths
    for path in paths:
        # Required arguments are given so that --provider is what fails.
        args = {"load": ["x"], "export": []}.get(path[0], [])
        result = _invoke(*path, *args, "--provider", "nope")
        assert result.exit_code == 2, (path, result.output)
        assert "'nope' is not one of podman, docker, nerdctl" in result.stderr, path
    assert not (stub_podman.parent.parent / "ran").exists()


# --- verbosity ------------------------------------------------------------------------------
def test_verbosity_2_logs_each_engine_command_with_exit_code_and_duration(
    stub_podman: Path,
) -> None:
    quiet = _invoke("-v", "1", "get", "clusters", "--provider", "podman")
    assert quiet.exit_code == 0, quiet.output
    assert "nestkube.exec" not in quiet.stderr
    loud = _invoke("-v", "2", "get", "clusters", "--provider", "podman")
    assert loud.exit_code == 0, loud.output
    lines = [line for line in loud.stderr.splitlines() if line.startswith("nestkube.exec:")]
    assert len(lines) == 1, loud.stderr
    assert lines[0].startswith(f"nestkube.exec: {stub_podman} ps --all ")
    assert lines[0].rsplit(": ", 1)[1].startswith("exit 0 in ")
    assert lines[0].endswith("s")
    # -v 3 adds the command as it starts.
    debug = _invoke("-v", "3", "get", "clusters", "--provider", "podman")
    assert f"nestkube.exec: run: {stub_podman} ps" in debug.stderr


# --- Ctrl-C ---------------------------------------------------------------------------------
def test_ctrl_c_in_any_command_is_one_line_and_exit_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(**kwargs: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(cluster, "cluster_states", interrupted)
    monkeypatch.setattr(sys, "argv", ["nestkube", "get", "clusters"])
    with pytest.raises(SystemExit) as exc:
        nestkube.cli.main.main()
    assert exc.value.code == 130
    assert capsys.readouterr().err == "ERROR: interrupted\n"


def test_ctrl_c_of_a_real_process_waiting_on_the_engine(stub_podman: Path) -> None:
    env = {**os.environ, "STUB_BODY": "exec sleep 30"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "nestkube", "get", "clusters", "--provider", "podman"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        # As a terminal's foreground job has it: a suite started in the background (`&` in
        # a script) hands its children SIGINT ignored, and Python then keeps it ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 30
        while not (stub_podman.parent.parent / "ran").exists():
            assert time.monotonic() < deadline, "the engine command never started"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert err == "ERROR: interrupted\n"


# --- shell completion -----------------------------------------------------------------------
def test_shell_completion_offers_commands_and_engines(
    stub_podman: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def complete(words: str) -> list[str]:
        env = {
            **os.environ,
            "_NESTKUBE_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - 1),
        }
        out = subprocess.run(
            [sys.executable, "-m", "nestkube"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        return out.split()

    assert complete("nestkube get no") == ["nodes"]
    assert complete("nestkube delete cluster --provider d") == ["docker"]
    # Which shell to show it for comes from the parent process (none when the suite runs in
    # the background of a script): say it is bash.
    monkeypatch.setattr(typer.completion, "_get_shell_name", lambda: "bash")
    script = _invoke("--show-completion")
    assert script.exit_code == 0 and "_NESTKUBE_COMPLETE" in script.stdout


# --- get nodes --all-clusters ---------------------------------------------------------------
def test_get_nodes_of_all_clusters_is_one_listing(fake_engine: FakeEngine) -> None:
    listing = [
        _entry("a-control-plane", "a", "control-plane"),
        _entry("b-control-plane", "b", "control-plane"),
        _entry("b-worker", "b", "worker"),
    ]
    fake_engine.on(["ps"], out="\n".join(listing))
    result = _invoke("get", "nodes", "--all-clusters", "-o", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["cluster"], r["name"], r["role"]) for r in rows] == [
        ("a", "a-control-plane", "control-plane"),
        ("b", "b-control-plane", "control-plane"),
        ("b", "b-worker", "worker"),
    ]
    assert [c[1] for c in fake_engine.calls] == ["ps"]
    text = _invoke("get", "nodes", "-A")
    assert text.stdout.split() == ["a-control-plane", "b-control-plane", "b-worker"]


# --- export kubeconfig --internal -----------------------------------------------------------
ADMIN_CONF = """\
apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: Q0EtREFUQQ==
    server: https://demo-control-plane:6443
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: kubernetes-admin
  name: kubernetes-admin@kubernetes
current-context: kubernetes-admin@kubernetes
users:
- name: kubernetes-admin
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
"""


class _OneCluster:
    def list_nodes(self, name: str) -> list[Node]:
        labels = {LABEL_NETWORK: "nestkube-demo"}
        node = Node(f"{name}-control-plane", "control-plane", name, "running", labels)
        return [node] if name == "demo" else []

    def node_ip(self, node: str, network: str) -> str:
        assert (node, network) == ("demo-control-plane", "nestkube-demo")
        return "10.89.3.2"


@pytest.mark.parametrize(
    ("flags", "server"),
    [([], "https://127.0.0.1:40123"), (["--internal"], "https://10.89.3.2:6443")],
)
def test_export_kubeconfig_internal_addresses_the_node_on_the_engine_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: list[str], server: str
) -> None:
    monkeypatch.setattr(cluster, "get_provider", lambda *a, **k: _OneCluster())
    monkeypatch.setattr(
        access, "admin_kubeconfig", lambda prov, node: (ADMIN_CONF, "https://127.0.0.1:40123")
    )
    target = tmp_path / "kubeconfig"
    result = _invoke("export", "kubeconfig", "-n", "demo", "--kubeconfig", str(target), *flags)
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load(target.read_text())
    assert [c["cluster"]["server"] for c in doc["clusters"]] == [server]
    assert doc["current-context"] == "nestkube-demo"
    got = _invoke("get", "kubeconfig", "-n", "demo", *flags)
    assert yaml.safe_load(got.stdout)["clusters"][0]["cluster"]["server"] == server


# --- version --------------------------------------------------------------------------------
def test_version_names_nestkube_python_and_the_default_kubernetes() -> None:
    text = _invoke("version")
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[0] == f"nestkube {__version__}"
    assert lines[1].startswith(f"Python {platform.python_version()} (")
    assert lines[2] == f"Kubernetes {DEFAULT_KUBERNETES_VERSION} (default)"
    doc = json.loads(_invoke("version", "-o", "json").stdout)
    assert doc["nestkube"] == __version__
    assert doc["defaultKubernetes"] == DEFAULT_KUBERNETES_VERSION
