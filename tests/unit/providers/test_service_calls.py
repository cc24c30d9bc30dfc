"""Helper containers (registries) on the engine CLI: run flags, network joins, and a cluster
network that only registries still use being removed after they leave it."""

from __future__ import annotations

import json

from nestkube.providers.base import (
    LABEL_CLUSTER,
    LABEL_REGISTRY,
    PortMapping,
    ProviderInfo,
    ServiceSpec,
)
from nestkube.providers.podman import PodmanProvider

from .fakes import RESTRICTED_HOST, FakeEngine


def provider() -> PodmanProvider:
    return PodmanProvider(ProviderInfo("podman", "podman", "4.3.1", False, RESTRICTED_HOST))


def test_a_service_runs_published_with_its_volume_labelled_like_it(
    fake_engine: FakeEngine,
) -> None:
    spec = ServiceSpec(
        name="reg",
        image="localhost/nestkube/registry:v3",
        labels={LABEL_REGISTRY: "reg"},
        port_mappings=(PortMapping(5000, 5001, "127.0.0.1"),),
        volumes=(("reg-data", "/var/lib/registry"),),
        env={"REGISTRY_PROXY_REMOTEURL": "https://example.test"},
    )
    provider().run_service(spec)
    volume, run = fake_engine.calls
    assert volume == ["podman", "volume", "create", "--label", f"{LABEL_REGISTRY}=reg", "reg-data"]
    assert run[:4] == ["podman", "run", "--detach", "--name"]
    assert run[5:7] == ["--restart", "always"]
    for flag in (
        ["--publish", "127.0.0.1:5001:5000/tcp"],
        ["--volume", "reg-data:/var/lib/registry"],
        ["--env", "REGISTRY_PROXY_REMOTEURL=https://example.test"],
        ["--label", f"{LABEL_REGISTRY}=reg"],
    ):
        i = run.index(flag[0], run.index(flag[1]) - 1)
        assert run[i : i + 2] == flag
    assert run[-1] == "localhost/nestkube/registry:v3"


def test_a_network_join_pins_the_address_when_asked(fake_engine: FakeEngine) -> None:
    provider().connect_network("nestkube-c", "reg", "10.89.0.250")
    provider().connect_network("nestkube-d", "reg")
    assert fake_engine.calls == [
        ["podman", "network", "connect", "--ip", "10.89.0.250", "nestkube-c", "reg"],
        ["podman", "network", "connect", "nestkube-d", "reg"],
    ]


def _ps(*entries: tuple[str, dict[str, str]]) -> str:
    return json.dumps(
        [{"Names": [n], "Labels": labels, "State": "running"} for n, labels in entries]
    )


def test_a_network_left_to_registries_is_removed_after_they_leave(
    fake_engine: FakeEngine,
) -> None:
    fake_engine.on(["ps"], out=_ps(("reg", {LABEL_REGISTRY: "reg"})))
    provider().delete_network_if_unused("nestkube-c")
    assert fake_engine.commands("network")[1:] == [
        ["podman", "network", "disconnect", "nestkube-c", "reg"],
        ["podman", "network", "rm", "nestkube-c"],
    ]


def test_a_network_a_node_still_uses_stays(fake_engine: FakeEngine) -> None:
    fake_engine.on(
        ["ps"], out=_ps(("reg", {LABEL_REGISTRY: "reg"}), ("c-worker", {LABEL_CLUSTER: "c"}))
    )
    provider().delete_network_if_unused("nestkube-c")
    assert fake_engine.commands("network") == [["podman", "network", "inspect", "nestkube-c"]]


def test_nerdctl_says_it_cannot_join_a_registry_to_a_cluster(fake_engine: FakeEngine) -> None:
    import pytest

    from nestkube.errors import ProviderError
    from nestkube.providers.nerdctl import NerdctlProvider

    nerdctl = NerdctlProvider(ProviderInfo("nerdctl", "nerdctl", "v2.0.4", False, RESTRICTED_HOST))
    with pytest.raises(ProviderError, match="no `network connect`"):
        nerdctl.connect_network("nestkube-c", "reg")
    assert fake_engine.calls == []
