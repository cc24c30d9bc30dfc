"""What a new user meets first (issue #27): delete of a missing cluster in one line, kind's
global flags after the subcommand, --wait's usage error, a dry run that refuses what create
refuses, and --internal's help saying what it does."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import typer
import yaml
from fakes_engine import UnusedEngine
from typer.testing import CliRunner

import nestkube.cli.main  # noqa: F401  (attaches the commands and the root options)
from nestkube import cluster
from nestkube.cli import groups
from nestkube.cli.groups import hoist_global_options
from nestkube.errors import ClusterError
from nestkube.host import HostFacts
from nestkube.images.node_image import LABEL_K8S_VERSION
from nestkube.providers.base import Node, ProviderInfo, Service
from nestkube.providers.podman import PodmanProvider


def _invoke(*args: str) -> typer.testing.Result:
    return CliRunner().invoke(groups.app, list(args))


class _NoClusters(UnusedEngine):
    def __init__(self) -> None:
        super().__init__()
        self.removed: list[str] = []

    def list_nodes(self, cluster: str) -> list[Node]:
        return []

    def cluster_nodes(self) -> dict[str, list[Node]]:
        return {}

    def delete_nodes(self, nodes: Sequence[Node]) -> None:
        assert not nodes

    def cluster_volumes(self, cluster: str) -> list[str]:
        return []

    def services(self, label: str) -> list[Service]:
        return []

    def delete_network_if_unused(self, name: str) -> None:
        self.removed.append(name)


@pytest.fixture
def no_clusters(monkeypatch: pytest.MonkeyPatch) -> _NoClusters:
    engine = _NoClusters()
    monkeypatch.setattr(cluster, "get_provider", lambda *a, **k: engine)
    return engine


def test_deleting_a_missing_cluster_is_one_line_without_a_tick(
    no_clusters: _NoClusters, tmp_path: Path
) -> None:
    result = _invoke("delete", "cluster", "--name", "missing", "--kubeconfig", str(tmp_path / "k"))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["No cluster named 'missing'; nothing to delete"]
    # What a killed create may have left (its network) is still cleared.
    assert no_clusters.removed == ["nestkube-missing"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["get", "clusters", "-q"], ["-q", "get", "clusters"]),
        (
            ["get", "clusters", "-v", "2", "-o", "json"],
            ["-v", "2", "get", "clusters", "-o", "json"],
        ),
        (
            ["get", "nodes", "--verbosity=3", "-n", "x"],
            ["--verbosity=3", "get", "nodes", "-n", "x"],
        ),
        (["delete", "cluster", "-v1", "--quiet"], ["-v1", "--quiet", "delete", "cluster"]),
        (["-v", "1", "get", "clusters"], ["-v", "1", "get", "clusters"]),
        (["load", "x", "--", "-q"], ["load", "x", "--", "-q"]),
    ],
)
def test_global_options_move_in_front_of_the_subcommand(
    argv: list[str], expected: list[str]
) -> None:
    assert hoist_global_options(argv) == expected


def test_get_clusters_takes_q_and_v_after_the_subcommand(no_clusters: _NoClusters) -> None:
    for argv in (["get", "clusters", "-q"], ["get", "clusters", "-v", "1"], ["get", "clusters"]):
        result = _invoke(*argv)
        assert result.exit_code == 0, (argv, result.output)
        assert "No such option" not in result.output
    assert groups.GLOBAL.verbosity == 0 and groups.GLOBAL.quiet is False
    _invoke("get", "clusters", "-q", "-v", "2")
    assert groups.GLOBAL.quiet is True and groups.GLOBAL.verbosity == 2
    _invoke("get", "clusters")  # the globals are per invocation


@pytest.mark.parametrize(
    "argv",
    [
        ["create", "cluster", "--wait", "5x", "--dry-run"],
        ["start", "cluster", "--wait", "5x"],
        ["start", "clusters", "a", "--wait", "forever"],
    ],
)
def test_a_bad_wait_is_a_usage_error(argv: list[str]) -> None:
    result = _invoke(*argv)
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--wait'" in result.output
    assert "invalid duration" in result.output


def _engine(monkeypatch: pytest.MonkeyPatch, labels: dict[str, str] | None) -> None:
    """A Podman whose only image is one with ``labels`` (None: no image at all)."""
    engine = PodmanProvider(
        ProviderInfo("podman", "podman", "4.3.1", False, HostFacts(nofile_hard=1 << 20))
    )
    monkeypatch.setattr(engine, "image_exists", lambda image: labels is not None)
    monkeypatch.setattr(engine, "image_labels", lambda image: dict(labels or {}))
    monkeypatch.setattr(cluster, "resolve_engine", lambda choice, configured=None: engine)


@pytest.mark.parametrize(
    ("labels", "why"),
    [
        ({"org.opencontainers.image.title": "kind node"}, "is not a nestkube node image"),
        (None, "not found in podman"),
    ],
)
def test_a_dry_run_refuses_what_create_refuses(
    monkeypatch: pytest.MonkeyPatch, labels: dict[str, str] | None, why: str
) -> None:
    _engine(monkeypatch, labels)
    result = _invoke("create", "cluster", "--image", "kindest/node:v1.33.1", "--dry-run")
    assert result.exit_code == 1
    plan = yaml.safe_load(result.stdout)
    assert why in plan["refusal"]
    # No Kubernetes version beside an image create would not run.
    assert plan["kubernetesVersion"] is None
    assert plan["nodes"][0]["image"] == "kindest/node:v1.33.1"
    # main() prints it as one ERROR line and exits 1, as for create itself.
    assert isinstance(result.exception, ClusterError)
    assert str(result.exception).startswith("create would refuse this: ")
    assert why in str(result.exception)


def test_a_dry_run_create_accepts_shows_the_images_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _engine(monkeypatch, {LABEL_K8S_VERSION: "v1.31.4"})
    result = _invoke("create", "cluster", "--image", "localhost/nestkube/node:v1.31.4", "--dry-run")
    assert result.exit_code == 0, result.output
    plan = yaml.safe_load(result.stdout)
    assert "refusal" not in plan and plan["kubernetesVersion"] == "v1.31.4"
    assert "kubernetesVersion: v1.31.4" in plan["nodes"][0]["kubeadmConfig"]


@pytest.mark.parametrize("group", ["get", "export"])
def test_internal_help_says_the_address_not_the_name(group: str) -> None:
    text = " ".join(_invoke(group, "kubeconfig", "--help").output.split())
    assert "node's address on the cluster's engine network" in text
    assert "node's name" not in text
