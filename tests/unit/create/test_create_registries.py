"""Registries, mirrors and the proxy at create: the attach step, and what every node's setup
writes (hosts files, containerd's config_path, the proxy's drop-ins and systemd's reload)."""

from __future__ import annotations

import tomllib
from dataclasses import replace

import pytest
from memory_engine import MemoryEngine

from nestkube.config import default_config
from nestkube.create import configure, crio, objects, plan, registries
from nestkube.create.context import CreateContext
from nestkube.errors import ClusterError
from nestkube.kubeadm.proxy import Proxy
from nestkube.kubeadm.registries import CRIO_REGISTRIES
from nestkube.nodeops.files import CONTAINERD_CONF
from nestkube.nodeops.node_setup import setup_script
from nestkube.providers.base import (
    LABEL_REGISTRY,
    LABEL_REGISTRY_ADDRESS,
    LABEL_REGISTRY_PORT,
    Service,
)
from nestkube.status import SILENT

DROP_IN = "/etc/systemd/system/{}.service.d/10-nestkube-proxy.conf"


class RegistryEngine(MemoryEngine):
    """The memory engine with one registry, on the engine's default network only."""

    def __init__(self) -> None:
        super().__init__()
        self.joined: list[tuple[str, str, str | None]] = []

    def services(self, label: str) -> list[Service]:
        labels = {LABEL_REGISTRY: "reg", LABEL_REGISTRY_ADDRESS: "127.0.0.1"}
        return [Service("reg", "running", labels | {LABEL_REGISTRY_PORT: "5001"}, ("podman",))]

    def fixed_addresses(self, network: str, count: int) -> list[str]:
        return [f"10.89.0.{254 - i}" for i in range(count)]

    def connect_network(self, network: str, container: str, ip: str | None = None) -> None:
        self.joined.append((network, container, ip))

    def node_ip(self, node: str, network: str) -> str:
        return next(ip for _, name, ip in self.joined if name == node) or "10.0.0.9"


def make(engine: MemoryEngine, **changes: object) -> CreateContext:
    config = replace(default_config("r", workers=1), **changes)  # type: ignore[arg-type]
    ctx = CreateContext(config=config, provider=engine, status=SILENT)
    plan.plan_nodes(ctx, "localhost/nestkube/node:v1.20.2")
    ctx.node_ips = {"r-control-plane": "10.89.0.254", "r-worker": "10.89.0.253"}
    ctx.kubernetes_version = "v1.37.2"
    return ctx


def test_a_registry_joins_the_network_below_the_nodes_and_the_nodes_pull_through_it() -> None:
    engine = RegistryEngine()
    ctx = make(engine, registries=["reg"], registry_mirrors={"registry.example": "http://reg:5000"})
    assert registries.wanted(ctx)
    registries.attach_registries(ctx)
    # Two nodes at .254 and .253; the registry just below them.
    assert engine.joined == [("nestkube-r", "reg", "10.89.0.252")]
    setup, _ = configure.node_setup(ctx, ctx.specs[0])
    hosts = setup.files["/etc/containerd/certs.d/localhost:5001/hosts.toml"]
    assert list(tomllib.loads(hosts)["host"]) == ["http://10.89.0.252:5000"]
    # A mirror naming the attached registry gets its address: nodes cannot resolve names.
    mirror = setup.files["/etc/containerd/certs.d/registry.example/hosts.toml"]
    assert list(tomllib.loads(mirror)["host"]) == ["http://10.89.0.252:5000"]
    cri = tomllib.loads(setup.files[CONTAINERD_CONF])["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["registry"]["config_path"] == "/etc/containerd/certs.d"
    assert "local-registry-hosting" in objects.cluster_manifest(ctx)


def test_a_crio_node_gets_the_registries_in_a_registries_conf_drop_in() -> None:
    engine = RegistryEngine()
    ctx = make(engine, registries=["reg"], registry_mirrors={"registry.example": "http://reg:5000"})
    registries.attach_registries(ctx)
    node = ctx.specs[0].name
    ctx.node_runtimes[node] = crio.CRIO
    setup, _ = configure.node_setup(ctx, ctx.specs[0])
    conf = tomllib.loads(setup.files[CRIO_REGISTRIES])
    assert [(r["prefix"], r["mirror"]) for r in conf["registry"]] == [
        ("localhost:5001", [{"location": "10.89.0.252:5000", "insecure": True}]),
        ("registry.example", [{"location": "10.89.0.252:5000", "insecure": True}]),
    ]
    assert not any(path.startswith("/etc/containerd/") for path in setup.files)


def test_a_registry_that_does_not_exist_fails_before_anything_is_made() -> None:
    engine = RegistryEngine()
    ctx = make(engine, registries=["other"])
    with pytest.raises(ClusterError, match="no registry named 'other'"):
        registries.find_registries(ctx)
    assert engine.joined == [] and engine.networks == set()


def test_without_registries_containerd_keeps_its_config() -> None:
    ctx = make(MemoryEngine())
    assert not registries.wanted(ctx)
    setup, _ = configure.node_setup(ctx, ctx.specs[0])
    assert not any("certs.d" in path for path in setup.files)
    assert (
        "registry"
        not in tomllib.loads(setup.files[CONTAINERD_CONF])["plugins"]["io.containerd.grpc.v1.cri"]
    )
    assert "local-registry-hosting" not in objects.cluster_manifest(ctx)


def test_the_proxy_goes_to_containerd_and_the_kubelet_with_the_cluster_direct(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("https_proxy", "http://env:3129")
    ctx = make(MemoryEngine(), proxy=Proxy(http="http://cfg:3128"))
    setup, _ = configure.node_setup(ctx, ctx.specs[1])
    assert setup.reload_units
    text = setup.files[DROP_IN.format("kubelet")]
    assert setup.files[DROP_IN.format("containerd")] == text
    assert 'Environment="HTTP_PROXY=http://cfg:3128"' in text
    assert 'Environment="https_proxy=http://env:3129"' in text
    no_proxy = next(ln for ln in text.splitlines() if "NO_PROXY=" in ln)
    direct = no_proxy.split("=", 1)[1].rstrip('"').split(",")
    for wanted in ("10.244.0.0/16", "10.96.0.0/16", "r-control-plane", "r-worker", "10.89.0.253"):
        assert wanted in direct
    script = setup_script(setup)
    assert script.index("daemon-reload") < script.index("systemctl restart containerd")


def test_without_a_proxy_nothing_is_reloaded(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    setup, _ = configure.node_setup(make(MemoryEngine()), make(MemoryEngine()).specs[0])
    assert not setup.reload_units
    assert "daemon-reload" not in setup_script(setup)
