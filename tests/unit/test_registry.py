"""`nestkube registry create|delete|list` on a fake engine: every check before anything is
made, the volume removed when the run fails, the registry's labels read back."""

from __future__ import annotations

import socket
from collections.abc import Sequence

import pytest
from fakes_engine import UnusedEngine

from nestkube import registry
from nestkube.errors import ClusterError, CommandError, ConfigError
from nestkube.images import registry_image
from nestkube.providers.base import (
    LABEL_REGISTRY,
    LABEL_REGISTRY_ADDRESS,
    LABEL_REGISTRY_PORT,
    Service,
    ServiceSpec,
)


class Engine(UnusedEngine):
    def __init__(self, existing: tuple[str, ...] = (), fail_run: bool = False) -> None:
        super().__init__()
        self.existing = existing
        self.fail_run = fail_run
        self.ran: list[ServiceSpec] = []
        self.removed: list[tuple[str, list[str]]] = []
        self.networks_removed: list[str] = []

    def container_exists(self, name: str) -> bool:
        return name in self.existing

    def run_service(self, spec: ServiceSpec) -> None:
        self.ran.append(spec)
        if self.fail_run:
            raise CommandError(["podman", "run"], 125, "", "boom")

    def remove_service(self, service: Service, volumes: Sequence[str]) -> None:
        self.removed.append((service.name, list(volumes)))

    def services(self, label: str) -> list[Service]:
        labels = {LABEL_REGISTRY: "reg", LABEL_REGISTRY_ADDRESS: "127.0.0.1"}
        labels[LABEL_REGISTRY_PORT] = "5001"
        return [Service("reg", "running", labels, ("podman", "nestkube-a"))]

    def delete_network_if_unused(self, name: str) -> None:
        self.networks_removed.append(name)


@pytest.fixture(autouse=True)
def no_image_build(monkeypatch: pytest.MonkeyPatch) -> None:
    image = registry_image.RegistryImage("localhost/nestkube/registry:v3.1.2-x", "v3.1.2", True)
    monkeypatch.setattr(registry, "ensure_registry_image", lambda provider, status: image)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_registry_is_published_on_loopback_with_its_volume() -> None:
    engine = Engine()
    port = free_port()
    made = registry.create_registry(engine, "reg", port=port)
    (spec,) = engine.ran
    assert spec.labels == {
        LABEL_REGISTRY: "reg",
        LABEL_REGISTRY_ADDRESS: "127.0.0.1",
        LABEL_REGISTRY_PORT: str(port),
    }
    assert spec.volumes == (("reg-data", "/var/lib/registry"),)
    assert spec.network is None  # the engine's default; clusters connect it to theirs
    assert made.host == f"localhost:{port}"


def test_a_port_in_use_fails_before_anything_is_made() -> None:
    engine = Engine()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ClusterError, match="in use") as err:
            registry.create_registry(engine, "reg", port=taken.getsockname()[1])
    assert "\n" not in str(err.value)
    assert engine.ran == []


def test_an_existing_name_fails_before_anything_is_made() -> None:
    engine = Engine(existing=("reg",))
    with pytest.raises(ClusterError, match="exists already"):
        registry.create_registry(engine, "reg", port=free_port())
    assert engine.ran == []


@pytest.mark.parametrize("name", ["", "Reg", "a/b", "-x"])
def test_a_bad_name_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="invalid registry name"):
        registry.create_registry(Engine(), name, port=free_port())


def test_a_failed_run_removes_what_it_made() -> None:
    engine = Engine(fail_run=True)
    with pytest.raises(CommandError):
        registry.create_registry(engine, "reg", port=free_port())
    assert engine.removed == [("reg", ["reg-data"])]


def test_list_and_delete_read_the_labels() -> None:
    engine = Engine()
    (found,) = registry.list_registries(engine)
    assert (found.name, found.host, found.clusters) == ("reg", "localhost:5001", ("a",))
    assert registry.delete_registry(engine, "reg")
    assert engine.removed == [("reg", ["reg-data"])]
    # The network of a cluster deleted before it goes too, if nothing else uses it.
    assert engine.networks_removed == ["nestkube-a"]
    assert not registry.delete_registry(engine, "other")
