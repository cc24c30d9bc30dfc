"""stop/start of a cluster with several control planes and the load balancer in front."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from test_lifecycle import FakeCluster, node

from nestkube import lifecycle
from nestkube.nodeops import loadbalancer
from nestkube.providers.base import Provider
from nestkube.status import SILENT

LB = "dev-external-load-balancer"


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle, "POLL", 0.0)


def ha_cluster() -> FakeCluster:
    fake = FakeCluster()
    fake.nodes.insert(1, node("dev-control-plane2", "control-plane"))
    fake.nodes.append(node(LB, "external-load-balancer"))
    fake.ips["dev-control-plane2"] = "10.89.0.252"
    fake.recorded = dict(fake.ips)
    return fake


def test_stop_stops_the_load_balancer_last() -> None:
    fake = ha_cluster()
    lifecycle.stop(fake, "dev")
    assert fake.calls == [
        ("stop", "dev-worker"),
        ("stop", "dev-control-plane", "dev-control-plane2"),
        ("stop", LB),
    ]


def test_start_points_the_load_balancer_at_the_control_planes_and_waits_for_nodes_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = ha_cluster()
    told: list[dict[str, str]] = []
    configure = loadbalancer.configure

    def recording(provider: Provider, name: str, servers: Mapping[str, str]) -> None:
        told.append(dict(servers))
        configure(provider, name, servers)

    monkeypatch.setattr(loadbalancer, "configure", recording)
    lifecycle.start(fake, "dev", wait=30, status=SILENT)
    # The control planes' addresses as the engine reports them now.
    assert told == [{"dev-control-plane": "10.89.0.254", "dev-control-plane2": "10.89.0.252"}]
    assert ("start", LB) in fake.calls
    into_lb = [c for c in fake.calls if c[0] == LB]
    # Only the configuration is written (and checked, and reloaded): no kubelet, routes or DNS.
    assert len(into_lb) == 1 and "haproxy -c" in " ".join(into_lb[0])
    assert into_lb[0][-1] == loadbalancer.CONFIG_PATH
    # It went in before anything waited on the API through it.
    first_readyz = next(i for i, c in enumerate(fake.calls) if "/readyz" in c)
    assert fake.calls.index(into_lb[0]) < first_readyz
