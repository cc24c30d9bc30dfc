"""nestkube.testing: no pytest at import, reuse of an existing cluster, the pytest11 plugin."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from nestkube import cluster as api
from nestkube import providers
from nestkube.config import default_config
from nestkube.providers.base import Node
from nestkube.testing import temporary_cluster

pytest_plugins = ["pytester"]


def test_importing_nestkube_testing_does_not_import_pytest() -> None:
    code = "import json, sys, nestkube, nestkube.testing; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert not [m for m in json.loads(out) if m == "pytest" or m.startswith("_pytest")]


def test_the_plugin_is_a_pytest11_entry_point() -> None:
    found = {e.name: e.value for e in entry_points(group="pytest11")}
    assert found.get("nestkube") == "nestkube.testing.plugin"


class _Info:
    name = "podman"


class _Engine:
    def __init__(self, states: list[str]) -> None:
        self.states = states
        self.info = _Info()

    def list_nodes(self, name: str) -> list[Node]:
        return [Node(f"{name}-n{i}", "control-plane", name, s) for i, s in enumerate(self.states)]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What temporary_cluster asked of the facade, in order."""
    made: list[str] = []

    def record(what: str, result: Any = None) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            made.append(what)
            return result

        return call

    monkeypatch.setattr(api, "delete_cluster", record("delete", True))
    monkeypatch.setattr(api, "create_cluster", record("create", api.Cluster("t", "podman")))
    monkeypatch.setattr(api, "start_cluster", record("start"))
    monkeypatch.setattr(api, "export_kubeconfig", record("export", Path("/kc")))
    return made


def _use_engine(monkeypatch: pytest.MonkeyPatch, states: list[str]) -> None:
    monkeypatch.setattr(providers, "get_provider", lambda *a, **k: _Engine(states))


def test_reuse_takes_an_existing_cluster_and_leaves_it(
    calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_engine(monkeypatch, ["running", "running"])
    with temporary_cluster(default_config("t"), reuse=True) as cluster:
        assert (cluster.name, cluster.provider, cluster.kubeconfig_path) == (
            "t",
            "podman",
            Path("/kc"),
        )
        assert len(cluster.nodes) == 2
    assert calls == ["export"]


def test_reuse_starts_a_stopped_cluster(calls: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    _use_engine(monkeypatch, ["exited"])
    with temporary_cluster(default_config("t"), reuse=True):
        pass
    assert calls == ["start", "export"]


def test_reuse_with_no_cluster_creates_and_deletes_one(
    calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_engine(monkeypatch, [])
    with temporary_cluster(default_config("t"), reuse=True):
        pass
    assert calls == ["delete", "create", "delete"]


def test_without_reuse_a_leftover_is_deleted_first_and_keep_keeps_the_new_one(
    calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_engine(monkeypatch, ["running"])
    with temporary_cluster(default_config("t"), keep=True):
        pass
    assert calls == ["delete", "create"]


def test_the_fixture_takes_its_options_from_flags_and_variables(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []

    @contextmanager
    def fake(config: Any, **kwargs: Any) -> Iterator[api.Cluster]:
        seen.append({"name": config.name, **kwargs})
        yield api.Cluster(config.name, "podman")

    import nestkube.testing

    monkeypatch.setattr(nestkube.testing, "temporary_cluster", fake)
    monkeypatch.delenv("NESTKUBE_TEST_KEEP", raising=False)
    monkeypatch.setenv("NESTKUBE_TEST_REUSE", "1")
    pytester.makepyfile(
        "def test_it(nestkube_cluster):\n    assert nestkube_cluster.name == 'itest'\n"
    )
    # No -p and no pytest_plugins: the installed entry point brings the fixture.
    result = pytester.runpytest("--nestkube-cluster", "itest", "--nestkube-keep")
    result.assert_outcomes(passed=1)
    assert [(s["name"], s["keep"], s["reuse"]) for s in seen] == [("itest", True, True)]


def test_the_engine_is_resolved_once_from_the_config_and_handed_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = _Engine([])
    asked: list[str | None] = []
    handed: list[object] = []

    def get_provider(name: str | None = None, *args: Any, **kwargs: Any) -> _Engine:
        asked.append(name)
        return engine

    def record(result: Any = None) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            # The handle itself, never an engine's name to resolve again.
            handed.append(kwargs.get("provider"))
            assert not isinstance(kwargs.get("provider"), str)
            return result

        return call

    monkeypatch.setattr(providers, "get_provider", get_provider)
    monkeypatch.setattr(api, "delete_cluster", record(True))
    monkeypatch.setattr(api, "create_cluster", record(api.Cluster("t", "docker")))
    config = dataclasses.replace(default_config("t"), provider="docker")
    with temporary_cluster(config):
        pass
    assert asked == ["docker"]
    assert handed == [engine, engine, engine]
