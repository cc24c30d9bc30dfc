"""The ARC pin, how helm is found, the controller image's values, and --controller-image."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import nestkube.cli.main  # noqa: F401  (attaches every command to the groups)
from nestkube._exec import Result
from nestkube.cli import groups
from nestkube.kit.gomod import GoBinaries
from nestkube.providers.base import Node
from nestkube.runners import kit, ops, render, tools
from nestkube.runners.ops import RunnersError
from nestkube.runners.tools import Target

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


class _Engine:
    """A node engine whose nodes see ``seen_root`` at the node cache root."""

    def __init__(self, seen_root: Path) -> None:
        self.seen_root = seen_root

    def exec(self, node: str, args: list[str], **_: object) -> Result:
        path = Path(args[-1].replace(render.NODE_CACHE_ROOT, str(self.seen_root), 1))
        return Result(list(args), 0 if path.exists() else 1, "", "")


@pytest.mark.parametrize("mounted", [True, False])
def test_cache_mount_is_checked_with_a_marker_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mounted: bool
) -> None:
    root = tmp_path / "cache-root"
    engine = _Engine(root if mounted else tmp_path / "inside-the-node")
    node = Node("c-control-plane", "control-plane", "c")
    monkeypatch.setattr("nestkube.load.find_cluster", lambda name: (engine, [node]))
    where = Target("nestkube-c")
    if mounted:
        ops.check_cache_mount(where, root)
        assert root.is_dir() and list(root.iterdir()) == []
    else:
        with pytest.raises(RunnersError) as err:
            ops.check_cache_mount(where, root)
        assert str(err.value).startswith(
            f"node c-control-plane does not mount the runner cache root {root} at "
            "/nestkube/runner-cache: re-create cluster 'c' with that extraMount"
        )
        assert not root.exists()  # made for the check, removed again
