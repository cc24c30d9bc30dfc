"""What a valid config still cannot do on a particular host and engine.

Loading never probes the host, so a config file means the same everywhere. These checks run
once the engine is known and before any container is made, so an impossible config fails in a
second with a message instead of minutes later inside kubeadm.
"""

from __future__ import annotations

import ipaddress

from nestkube.config._paths import format_error, render_path
from nestkube.config.model import ClusterConfig
from nestkube.errors import ConfigError
from nestkube.host import HostFacts
from nestkube.providers.base import ProviderInfo

# Linux's default net.ipv4.ip_unprivileged_port_start.
UNPRIVILEGED_PORT_START = 1024


def check_against_host(
    cluster: ClusterConfig,
    *,
    ipv6_available: bool,
    rootless: bool | None = None,
    provider: str | None = None,
    host: HostFacts | None = None,
    unprivileged_port_start: int = UNPRIVILEGED_PORT_START,
) -> None:
    """Raise ConfigError for the first thing in ``cluster`` the host cannot do.

    ``rootless``, ``provider`` and ``host`` describe the engine that will run the nodes; a
    check whose fact is not given is skipped.
    """
    where = cluster.source

    def fail(path: str, message: str) -> None:
        raise ConfigError(format_error(where, path, message))

    if provider is not None and cluster.provider is not None and provider != cluster.provider:
        fail("provider", f"the config asks for {cluster.provider} but {provider} was chosen")
    if rootless is not None and cluster.rootless is not None and rootless != cluster.rootless:
        want, have = ("rootless", "rootful") if cluster.rootless else ("rootful", "rootless")
        fail("rootless", f"the config asks for a {want} engine but this one is {have}")

    net = cluster.networking
    # ipFamily ipv6 and dual are rejected at load (not supported yet); what remains is
    # publishing on an IPv6 host address, which needs IPv6 on the host.
    if not ipv6_available:
        if ipaddress.ip_address(net.api_server_address).version == 6:
            fail(
                "networking.apiServerAddress",
                f"{net.api_server_address} is IPv6, which the container engine on this host "
                "does not provide",
            )
        for i, node in enumerate(cluster.nodes):
            for j, pm in enumerate(node.extra_port_mappings):
                if ipaddress.ip_address(pm.listen_address).version == 6:
                    fail(
                        render_path(("nodes", i, "extraPortMappings", j, "listenAddress")),
                        f"{pm.listen_address} is IPv6, which the container engine on this host "
                        "does not provide",
                    )

    if rootless:
        # Rootless engines bind host ports as the user; the kernel keeps low ports from them.
        low = f"is below {unprivileged_port_start}, which a rootless engine cannot bind"
        fix = f"(pick a port >= {unprivileged_port_start} or lower ip_unprivileged_port_start)"
        if 0 < net.api_server_port < unprivileged_port_start:
            fail("networking.apiServerPort", f"{net.api_server_port} {low} {fix}")
        for i, node in enumerate(cluster.nodes):
            for j, pm in enumerate(node.extra_port_mappings):
                if 0 < pm.host_port < unprivileged_port_start:
                    path = render_path(("nodes", i, "extraPortMappings", j, "hostPort"))
                    fail(path, f"{pm.host_port} {low} {fix}")

    if host is not None:
        if cluster.ulimits is not None:
            for key, hard in (("nofile", host.nofile_hard), ("nproc", host.nproc_hard)):
                value = getattr(cluster.ulimits, key)
                if value is not None and value > hard:
                    fail(
                        f"ulimits.{key}",
                        f"{value} is above this host's hard limit {hard}; lower it or set null "
                        "to use the host's limit",
                    )
        if cluster.restrict_oom_score_adj is False and not host.can_lower_oom_score_adj:
            fail(
                "restrictOOMScoreAdj",
                "false needs a host that lets containers lower oom_score_adj, and this one does "
                "not; set true or null",
            )


def check_against_provider(cluster: ClusterConfig, info: ProviderInfo) -> None:
    """:func:`check_against_host` with every fact the provider probed."""
    check_against_host(
        cluster,
        ipv6_available=info.ipv6,
        rootless=info.rootless,
        provider=info.name,
        host=info.host,
    )
