"""Podman: rootful and rootless. The engine nestkube is built around first."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from typing import Any

from nestkube.host import HostFacts, probe_host
from nestkube.providers.base import NodeSpec, ProviderInfo
from nestkube.providers.engine import CliProvider, top_addresses
from nestkube.providers.facts import EngineFacts, fetch, find_engine, parse_podman


def crun_refuses(cgroup_mode: str, rootless: bool, unified_controllers: frozenset[str]) -> bool:
    """Whether crun would refuse to run nodes.

    Rootful, crun refuses to manage v1/hybrid cgroups. Rootless Podman runs containers
    without cgroups of their own, so crun works on v1, and on a hybrid host whose cgroup2
    mount holds no controllers (WSL2); but where the hybrid cgroup2 mount holds controllers
    crun refuses rootless too ("cgroups in hybrid mode not supported, drop all controllers
    from cgroupv2", seen on this project's CI host with hugetlb there).
    """
    if cgroup_mode == "v2":
        return False
    if not rootless:
        return True
    return cgroup_mode == "hybrid" and bool(unified_controllers)


def parse_podman_info(data: Mapping[str, Any], binary: str, host: HostFacts) -> ProviderInfo:
    """ProviderInfo from `podman info --format json`."""
    return podman_info(parse_podman(data, binary), host)


def podman_info(facts: EngineFacts, host: HostFacts) -> ProviderInfo:
    """How nodes run on this Podman: its runtime and the nodes' cgroup driver."""
    rootless = bool(facts.rootless)
    runtime: str | None = None
    if crun_refuses(host.cgroup_mode, rootless, host.cgroup2_controllers) and (
        facts.default_runtime == "crun" or shutil.which("runc")
    ):
        runtime = "runc"
    systemd = facts.cgroup_manager == "systemd" and rootless
    return ProviderInfo.decided(
        facts, host, runtime=runtime, cgroup_driver="systemd" if systemd else "cgroupfs"
    )


def find_podman(binary: str = "podman") -> str:
    return find_engine(binary, "apt-get install podman")


def probe_podman(binary: str = "podman", host: HostFacts | None = None) -> ProviderInfo:
    return podman_info(fetch("podman", find_podman(binary)), host or probe_host())


class PodmanProvider(CliProvider):
    name = "podman"

    def extra_node_args(self, spec: NodeSpec) -> list[str]:
        # Podman's systemd mode (on by default for /sbin/init) mounts the name=systemd
        # hierarchy so that, on cgroup v1 with a private cgroup namespace, the node's systemd
        # lands in the host's root cgroup: several nodes then share one system.slice and
        # remove each other's cgroups. The node brings its own tmpfs mounts and stop signal.
        # Podman also copies the proxy variables of its own environment into the container,
        # so every exec (nestkube's kubectl in the node) would go through the host's proxy to
        # reach the node itself: nestkube sets the proxy where it belongs instead, for the
        # runtime and the kubelet with the cluster in NO_PROXY (create.proxy).
        return ["--systemd=false", "--http-proxy=false"]

    def save_args(self) -> list[str]:
        return ["--format", "docker-archive"]

    def fixed_addresses(self, network: str, count: int) -> list[str]:
        # Podman gives a restarted container a new address unless it asked for one.
        return top_addresses(self.network_subnets(network), count)
