"""`get clusters` asks the engine once: one `ps` of every nestkube node, no `info` probe.

The engine CLI is the fake one (every call recorded); only `shutil.which` sees a real file, a
stand-in `podman` on PATH that is never run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import nestkube.cli.main  # noqa: F401  (attaches every command to the groups)
from nestkube import _exec, cluster
from nestkube.cli import groups
from nestkube.errors import CommandTimeout, ProviderError
from nestkube.host import HostFacts
from nestkube.providers.base import LABEL_CLUSTER, LABEL_ROLE, LABEL_ROOTLESS, ProviderInfo
from nestkube.providers.podman import PodmanProvider

from .fakes import FakeEngine
from .nodes import node_spec


def _entry(name: str, cluster: str, role: str, state: str = "running") -> str:
    labels = {LABEL_CLUSTER: cluster, LABEL_ROLE: role}
    return json.dumps({"Names": [name], "Labels": labels, "State": state})


# Podman's `ps --format '{{json .}}'` as the engine prints it, in no particular order.
PS = "\n".join(
    [
        _entry("b-worker", "b", "worker", "exited"),
        _entry("a-control-plane", "a", "control-plane"),
        _entry("b-control-plane", "b", "control-plane"),
        # An empty cluster label matches the engine's filter but names no cluster.
        _entry("stray", "", "worker"),
    ]
)


@pytest.fixture
def podman_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = tmp_path / "podman"
    binary.write_text("#!/bin/sh\nexit 99\n")
    binary.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("NESTKUBE_PROVIDER", raising=False)
    monkeypatch.delenv("KIND_EXPERIMENTAL_PROVIDER", raising=False)


@pytest.mark.usefixtures("podman_only")
def test_get_clusters_is_one_ps_and_no_probe(fake_engine: FakeEngine) -> None:
    fake_engine.on(["ps"], out=PS)
    result = CliRunner().invoke(groups.app, ["get", "clusters"])
    assert result.exit_code == 0, result.output
    # Each cluster leads a line of its own (there may be a header and more columns).
    assert {"a", "b"} <= {line.split()[0] for line in result.stdout.splitlines()}
    assert "stray" not in result.stdout
    assert len(fake_engine.calls) == 1, fake_engine.calls
    assert Path(fake_engine.calls[0][0]).name == "podman"
    assert fake_engine.calls[0][1:] == [
        "ps",
        "--all",
        "--no-trunc",
        "--format",
        "{{json .}}",
        "--filter",
        f"label={LABEL_CLUSTER}",
    ]


@pytest.mark.usefixtures("podman_only")
def test_no_clusters_is_one_ps_and_the_same_message(fake_engine: FakeEngine) -> None:
    result = CliRunner().invoke(groups.app, ["get", "clusters", "--provider", "podman"])
    assert result.exit_code == 0, result.output
    assert (result.stdout, result.stderr) == ("", "No nestkube clusters found.\n")
    assert [c[1] for c in fake_engine.calls] == ["ps"]


def _labelled(name: str, cluster: str, role: str, rootless: bool, state: str = "running") -> str:
    labels = {LABEL_CLUSTER: cluster, LABEL_ROLE: role, LABEL_ROOTLESS: str(rootless).lower()}
    return json.dumps({"Names": [name], "Labels": labels, "State": state})


# Three clusters made by a rootless Podman: each node says so in its labels.
PS_THREE = "\n".join(
    [
        _labelled("c-control-plane", "c", "control-plane", True),
        _labelled("b-worker", "b", "worker", True, "exited"),
        _labelled("a-control-plane", "a", "control-plane", True),
        _labelled("b-control-plane", "b", "control-plane", True),
    ]
)


@pytest.mark.usefixtures("podman_only")
def test_json_of_three_clusters_is_exactly_one_engine_command(fake_engine: FakeEngine) -> None:
    fake_engine.on(["ps"], out=PS_THREE)
    result = CliRunner().invoke(groups.app, ["get", "clusters", "-o", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [c["name"] for c in doc] == ["a", "b", "c"]
    assert doc[1]["nodes"] == [
        {"name": "b-control-plane", "role": "control-plane", "state": "running"},
        {"name": "b-worker", "role": "worker", "state": "exited"},
    ]
    assert {(c["provider"], c["rootless"], c["context"]) for c in doc} == {
        ("podman", True, "nestkube-a"),
        ("podman", True, "nestkube-b"),
        ("podman", True, "nestkube-c"),
    }
    assert len(fake_engine.calls) == 1, fake_engine.calls
    assert fake_engine.calls[0][1] == "ps"


@pytest.mark.usefixtures("podman_only")
def test_nodes_made_before_the_rootless_label_cost_one_probe_for_all(
    fake_engine: FakeEngine,
) -> None:
    fake_engine.on(["ps"], out=PS)
    # `rootless` is the one engine fact the summary shows: probed once, for all clusters.
    fake_engine.on(["info"], out=json.dumps({"host": {"security": {"rootless": True}}}))
    result = CliRunner().invoke(groups.app, ["get", "clusters", "-o", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [(c["name"], c["rootless"]) for c in doc] == [("a", True), ("b", True)]
    assert [c[1] for c in fake_engine.calls] == ["ps", "info"]


def test_nodes_are_labelled_with_the_mode_the_engine_runs_them_in() -> None:
    for rootless in (False, True):
        info = ProviderInfo("podman", "podman", "5.0", rootless, HostFacts())
        args = PodmanProvider(info).node_run_args(node_spec("m", 0, "worker"))
        assert f"{LABEL_ROOTLESS}={str(rootless).lower()}" in args


@pytest.mark.usefixtures("podman_only")
def test_an_engine_that_fails_the_listing_is_probed_as_for_any_command(
    fake_engine: FakeEngine,
) -> None:
    fake_engine.on(["ps"], code=125, err="Error: cannot connect to the engine\n")
    fake_engine.on(["info"], code=125, err="Error: cannot connect to the engine\n")
    result = CliRunner().invoke(groups.app, ["get", "clusters"])
    assert result.exit_code == 1
    # The message of every command whose engine does not answer.
    assert str(result.exception) == "podman does not answer: Error: cannot connect to the engine"
    assert [c[1] for c in fake_engine.calls] == ["ps", "info"]


@pytest.mark.usefixtures("podman_only")
def test_a_hung_listing_is_not_retried(
    fake_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def hang(args: list[str], **kwargs: object) -> object:
        fake_engine.calls.append(list(args))
        raise CommandTimeout(list(args), 0.5, what="listing containers")

    monkeypatch.setattr(_exec, "run", hang)
    with pytest.raises(CommandTimeout):
        cluster.list_clusters()
    assert len(fake_engine.calls) == 1


def test_a_missing_engine_binary_is_named_before_any_call(
    fake_engine: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ProviderError, match=r"^podman not found on PATH"):
        cluster.list_clusters(provider="podman")
    assert fake_engine.calls == []


@pytest.mark.usefixtures("podman_only")
@pytest.mark.parametrize(
    "args",
    [["get", "nodes", "--name", "b"], ["delete", "cluster", "--name", "gone"]],
    ids=" ".join,
)
def test_commands_that_read_nodes_ask_for_no_engine_facts(
    args: list[str], fake_engine: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "config"))
    fake_engine.on(["ps"], out=PS)
    fake_engine.on(["network", "inspect"], code=1, err="no such network")
    result = CliRunner().invoke(groups.app, args)
    assert result.exit_code == 0, result.output
    assert "info" not in [c[1] for c in fake_engine.calls], fake_engine.calls
    assert fake_engine.calls[0][1] == "ps"
