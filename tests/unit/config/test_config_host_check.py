"""check_against_host: what a valid config cannot do on a given engine and host."""

from __future__ import annotations

import pytest

from nestkube.config import (
    ClusterConfig,
    ExtraPortMapping,
    Networking,
    NodeConfig,
    Ulimits,
    check_against_host,
    check_against_provider,
    default_config,
    load_config,
)
from nestkube.errors import ConfigError
from nestkube.host import HostFacts
from nestkube.providers.base import ProviderInfo


def node_with_port(host_port: int, address: str = "0.0.0.0") -> NodeConfig:
    return NodeConfig(
        extra_port_mappings=[ExtraPortMapping(80, host_port=host_port, listen_address=address)]
    )


def test_plain_config_passes_everywhere() -> None:
    check_against_host(default_config(), ipv6_available=False, rootless=True, host=HostFacts())


def test_error_names_the_file() -> None:
    cfg = load_config(
        "c.yaml",
        text="kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"
        "networking: {apiServerAddress: '::1'}\n",
    )
    with pytest.raises(ConfigError, match=r"^c.yaml: networking.apiServerAddress: ::1 is IPv6"):
        check_against_host(cfg, ipv6_available=False)


def test_ipv6_addresses_need_ipv6() -> None:
    cfg = ClusterConfig(networking=Networking(api_server_address="::1"))
    with pytest.raises(ConfigError, match=r"^networking.apiServerAddress: ::1 is IPv6"):
        check_against_host(cfg, ipv6_available=False)
    cfg = ClusterConfig(nodes=[NodeConfig(), node_with_port(0, "::")])
    with pytest.raises(
        ConfigError, match=r"^nodes\[1\].extraPortMappings\[0\].listenAddress: :: is IPv6"
    ):
        check_against_host(cfg, ipv6_available=False)


def test_rootless_low_host_ports() -> None:
    cfg = ClusterConfig(nodes=[node_with_port(80)])
    check_against_host(cfg, ipv6_available=True, rootless=False)
    with pytest.raises(ConfigError) as info:
        check_against_host(cfg, ipv6_available=True, rootless=True)
    assert str(info.value) == (
        "nodes[0].extraPortMappings[0].hostPort: 80 is below 1024, which a rootless engine "
        "cannot bind (pick a port >= 1024 or lower ip_unprivileged_port_start)"
    )
    check_against_host(cfg, ipv6_available=True, rootless=True, unprivileged_port_start=80)


def test_rootless_random_ports_are_fine() -> None:
    check_against_host(ClusterConfig(nodes=[node_with_port(0)]), ipv6_available=True, rootless=True)


def test_rootless_low_api_server_port() -> None:
    cfg = ClusterConfig(networking=Networking(api_server_port=443))
    with pytest.raises(ConfigError, match=r"^networking.apiServerPort: 443 is below 1024"):
        check_against_host(cfg, ipv6_available=True, rootless=True)


def test_rootless_mismatch() -> None:
    cfg = ClusterConfig(rootless=True)
    check_against_host(cfg, ipv6_available=True, rootless=True)
    with pytest.raises(ConfigError) as info:
        check_against_host(cfg, ipv6_available=True, rootless=False)
    assert str(info.value) == (
        "rootless: the config asks for a rootless engine but this one is rootful"
    )
    with pytest.raises(ConfigError, match="asks for a rootful engine but this one is rootless"):
        check_against_host(ClusterConfig(rootless=False), ipv6_available=True, rootless=True)


def test_provider_mismatch() -> None:
    cfg = ClusterConfig(provider="docker")
    with pytest.raises(ConfigError) as info:
        check_against_host(cfg, ipv6_available=True, provider="podman")
    assert str(info.value) == "provider: the config asks for docker but podman was chosen"


def test_ulimits_above_host_hard_limits() -> None:
    host = HostFacts(nofile_hard=4096, nproc_hard=2048)
    check_against_host(ClusterConfig(ulimits=Ulimits(4096, 2048)), ipv6_available=True, host=host)
    with pytest.raises(ConfigError) as info:
        check_against_host(
            ClusterConfig(ulimits=Ulimits(nofile=8192)), ipv6_available=True, host=host
        )
    assert str(info.value) == (
        "ulimits.nofile: 8192 is above this host's hard limit 4096; lower it or set null to use "
        "the host's limit"
    )
    with pytest.raises(ConfigError, match=r"^ulimits.nproc: 4096 is above"):
        check_against_host(
            ClusterConfig(ulimits=Ulimits(nproc=4096)), ipv6_available=True, host=host
        )


def test_oom_score_adj_unrestricted_needs_host_support() -> None:
    host = HostFacts(can_lower_oom_score_adj=False)
    check_against_host(ClusterConfig(restrict_oom_score_adj=None), ipv6_available=True, host=host)
    check_against_host(ClusterConfig(restrict_oom_score_adj=True), ipv6_available=True, host=host)
    with pytest.raises(ConfigError) as info:
        check_against_host(
            ClusterConfig(restrict_oom_score_adj=False), ipv6_available=True, host=host
        )
    assert str(info.value) == (
        "restrictOOMScoreAdj: false needs a host that lets containers lower oom_score_adj, and "
        "this one does not; set true or null"
    )


def test_check_against_provider_uses_probed_facts() -> None:
    info = ProviderInfo(
        name="podman", binary="podman", version="5", rootless=True, host=HostFacts(ipv6=False)
    )
    check_against_provider(default_config(), info)
    with pytest.raises(ConfigError, match="is IPv6"):
        check_against_provider(ClusterConfig(networking=Networking(api_server_address="::1")), info)
    with pytest.raises(ConfigError, match="asks for docker but podman"):
        check_against_provider(ClusterConfig(provider="docker"), info)
