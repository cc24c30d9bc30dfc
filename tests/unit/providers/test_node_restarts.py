"""What makes nodes survive restarts on the engine side: a restart policy fit for each engine,
and addresses pinned on Docker's cluster network too (Docker takes `--ip` only on a network
created with its subnet named)."""

from __future__ import annotations

import json

from nestkube.providers.base import ProviderInfo, ProviderName
from nestkube.providers.docker import DockerProvider
from nestkube.providers.podman import PodmanProvider

from .fakes import RESTRICTED_HOST, FakeEngine
from .nodes import node_spec


def info(engine: ProviderName) -> ProviderInfo:
    return ProviderInfo(engine, engine, "1.0", False, RESTRICTED_HOST)


def restart_flag(args: list[str]) -> str:
    return args[args.index("--restart") + 1]


def test_docker_nodes_restart_unless_stopped() -> None:
    args = DockerProvider(info("docker")).node_run_args(node_spec("dk", 0, "worker"))
    assert restart_flag(args) == "unless-stopped"


def test_podman_nodes_restart_always_for_podman_restart_service() -> None:
    args = PodmanProvider(info("podman")).node_run_args(node_spec("pm", 0, "worker"))
    assert restart_flag(args) == "always"


def test_docker_names_the_subnet_it_picked_and_pins_nodes(fake_engine: FakeEngine) -> None:
    created: list[bool] = []

    def network(argv: list[str]) -> tuple[int, str, str] | None:
        if argv[1:3] == ["network", "inspect"]:
            if not created:
                return 1, "", "no such network"
            config = [{"Subnet": "172.19.0.0/16", "Gateway": "172.19.0.1"}]
            return 0, json.dumps([{"IPAM": {"Config": config}}]), ""
        if argv[1:3] == ["network", "create"]:
            created.append(True)
        return None

    fake_engine.handlers.append(network)
    docker = DockerProvider(info("docker"))
    docker.ensure_network("nestkube-dk", "dk")
    made = [c[1:] for c in fake_engine.calls if c[1:2] == ["network"] and c[2] != "inspect"]
    assert made[0] == ["network", "create", "--label", "io.nestkube.cluster=dk", "nestkube-dk"]
    assert made[1] == ["network", "rm", "nestkube-dk"]
    assert made[2] == [
        "network",
        "create",
        "--label",
        "io.nestkube.cluster=dk",
        "--subnet",
        "172.19.0.0/16",
        "nestkube-dk",
    ]
    assert docker.fixed_addresses("nestkube-dk", 2) == ["172.19.255.254", "172.19.255.253"]
