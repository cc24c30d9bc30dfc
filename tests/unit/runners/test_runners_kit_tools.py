"""The ARC pin, how helm is found, the controller image's values, and --controller-image."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import nestkube.cli.main  # noqa: F401  (attaches every command to the groups)
from nestkube.cli import groups
from nestkube.kit.gomod import GoBinaries
from nestkube.runners import kit, ops, tools
from nestkube.runners.ops import RunnersError

from .fakes import FakeTools


def test_arc_is_pinned_once() -> None:
    # The published chart's version, the image tag the controller chart expects and the
    # version baked into the controller all follow from the one pin.
    assert (kit.ARC_VERSION, kit.ARC_CHART_VERSION) == ("v0.27.6", "0.6.1")
    assert tools.CHART_VERSION == kit.ARC_CHART_VERSION
    assert kit.ARC_BUILD.version == kit.ARC_VERSION
    assert kit.ARC_BUILD.commands == {
        "manager": "github.com/actions/actions-runner-controller",
        "github-runnerscaleset-listener": (
            "github.com/actions/actions-runner-controller/cmd/githubrunnerscalesetlistener"
        ),
    }
    assert kit.HELM_BUILD.commands == {"helm": "helm.sh/helm/v3/cmd/helm"}


def test_find_helm_prefers_env_then_path_then_the_kits_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = GoBinaries(kit.HELM_BUILD, tmp_path / "kit")
    monkeypatch.setattr(tools, "cached", lambda build, toolchain: built)
    monkeypatch.setattr(tools, "modules_toolchain", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert tools.find_helm({}) == str(tmp_path / "kit" / "helm")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "helm").write_text("#!/bin/sh\n")
    (bindir / "helm").chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    assert tools.find_helm({}) == str(bindir / "helm")
    assert tools.find_helm({"NESTKUBE_HELM": "/opt/helm"}) == "/opt/helm"
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(tools, "cached", lambda build, toolchain: None)
    assert tools.find_helm({}) is None


def test_controller_values_name_the_loaded_image() -> None:
    assert ops.controller_values(None) == {}
    assert ops.controller_values("localhost/nestkube/arc-controller:0.6.1") == {
        "image": {
            "repository": "localhost/nestkube/arc-controller",
            "tag": "0.6.1",
            "pullPolicy": "IfNotPresent",
        }
    }
    # A registry port is not a tag.
    assert ops.controller_values("reg:5000/arc")["image"]["tag"] == "latest"


def test_controller_image_only_loads_into_a_nestkube_cluster(
    tmp_path: Path, tools: FakeTools
) -> None:
    f = tmp_path / "r.yaml"
    f.write_text(
        "apiVersion: nestkube.io/v1alpha1\nkind: RunnerSet\nrunners:\n"
        "- {name: ci, org: acme, auth: {pat: {tokenEnv: GH_T}}}\n"
    )
    result = CliRunner().invoke(
        groups.app,
        ["runners", "up", "-f", str(f), "--context", "prod", "--controller-image", "x/arc:1"],
        env={"GH_T": "tok"},
    )
    assert isinstance(result.exception, RunnersError)
    assert str(result.exception).startswith("context 'prod' is not a nestkube cluster")
    assert tools.calls() == []
