"""The conformance runner resolves its engine once and hands the handle down: listing the
nodes, loading the test images and reading the kubeconfig use it, never its name again."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from nestkube import cluster as facade
from nestkube import load
from nestkube.conformance import session
from nestkube.images.node_image import LABEL_K8S_VERSION
from nestkube.registry import Registry
from nestkube.status import SILENT


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, what: str, result: Any = None) -> Any:
        def record(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((what, kwargs))
            return result

        return record


def test_the_engine_is_resolved_once_and_handed_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = SimpleNamespace(info=SimpleNamespace(name="docker"), list_nodes=lambda name: ["node"])
    resolved: list[str | None] = []

    def get_provider(name: str | None) -> Any:
        resolved.append(name)
        return engine

    rec = Recorder()
    node = SimpleNamespace(labels={LABEL_K8S_VERSION: "v1.37.2"})
    built = SimpleNamespace(path=lambda name: tmp_path / name)
    summary = SimpleNamespace(lines=lambda: ["ok"])
    images = SimpleNamespace(archives=[tmp_path / "a.tar"])
    monkeypatch.setattr(session, "get_provider", get_provider)
    monkeypatch.setattr(facade, "list_nodes", rec("list_nodes", [node]))
    monkeypatch.setattr(facade, "get_kubeconfig", rec("get_kubeconfig", "kubeconfig"))
    monkeypatch.setattr(load, "load_archive", rec("load_archive", []))
    monkeypatch.setattr(facade, "list_registries", rec("list_registries", []))
    monkeypatch.setattr(session, "modules_toolchain", rec("toolchain"))
    monkeypatch.setattr(session, "build_suite", rec("build_suite"))
    monkeypatch.setattr(session, "build_module", rec("build_module", built))
    monkeypatch.setattr(session, "module_source", rec("module_source"))
    monkeypatch.setattr(session, "build_test_images", rec("build_test_images", images))
    monkeypatch.setattr(session, "run_passes", rec("run_passes", summary))
    opts = session.Options(name="c", report_dir=tmp_path / "report", focus=(), provider="docker")
    outcome = session.run_conformance(opts)
    assert not outcome.created
    assert resolved == ["docker"]
    handed = {what: kwargs for what, kwargs in rec.calls}
    assert handed["list_nodes"] == {"provider": engine}
    assert handed["get_kubeconfig"] == {"provider": engine}
    assert handed["load_archive"]["engines"] == [engine]
    assert handed["list_registries"] == {"provider": engine}


def test_the_test_images_go_to_the_registry_the_cluster_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registries = [
        Registry("other", "127.0.0.1", 5002, "running", ("nestkube-c2",)),
        Registry("reg", "127.0.0.1", 5001, "running", ("podman", "nestkube-c")),
    ]
    pushed: list[tuple[Path, str]] = []
    monkeypatch.setattr(facade, "list_registries", lambda provider: registries)
    monkeypatch.setattr(session, "push_archive", lambda a, host: pushed.append((a, host)))
    archives = [tmp_path / "a.tar", tmp_path / "b.tar"]
    session.push_to_registry("c", SimpleNamespace(), archives, SILENT)
    assert pushed == [(archives[0], "localhost:5001"), (archives[1], "localhost:5001")]
    pushed.clear()
    session.push_to_registry("none", SimpleNamespace(), archives, SILENT)
    assert pushed == []


def test_a_cluster_the_run_creates_pulls_the_test_images_through_its_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = SimpleNamespace(info=SimpleNamespace(name="podman"), list_nodes=lambda name: [])
    made: list[Any] = []

    def create(config: Any, **kwargs: Any) -> None:
        made.append(config)
        raise RuntimeError("stop here")

    monkeypatch.setattr(session, "get_provider", lambda name: engine)
    monkeypatch.setattr(facade, "create_cluster", create)
    opts = session.Options(name="c", report_dir=tmp_path, focus=(), registry="reg")
    with pytest.raises(RuntimeError, match="stop here"):
        session.run_conformance(opts)
    (config,) = made
    assert config.registries == ["reg"]
    assert config.registry_mirrors == {"registry.k8s.io": "http://reg:5000"}
