"""Docker: rootful dockerd, rootless dockerd, and remote daemons reached via DOCKER_HOST.

The docker CLI resolves its endpoint itself (DOCKER_HOST, else the current context); nestkube
never passes --host or --context so it talks to whatever daemon the user's own `docker` does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from nestkube import _exec
from nestkube.errors import CommandError, HostError, NestkubeError, ProviderError
from nestkube.host import HostFacts, probe_host
from nestkube.providers.base import ProviderInfo
from nestkube.providers.engine import CliProvider, engine_timeout, top_addresses
from nestkube.providers.facts import EngineFacts, fetch, find_engine, parse_docker

# The Dockerfile instructions `docker commit --change` accepts; it refuses others (STOPSIGNAL
# among them) and fails the whole commit.
COMMIT_INSTRUCTIONS = frozenset(
    {"CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "USER", "VOLUME", "WORKDIR"}
)
# What runc prints when the OCI config asks for capabilities outside the bounding set.
CAPS_ERROR_MARKERS = ("unable to apply caps", "apply caps: operation not permitted")


def node_cgroup_driver(
    rootless: bool, engine_driver: str, cgroup_version: str
) -> Literal["cgroupfs", "systemd"]:
    """The cgroup driver for kubelet and containerd inside the nodes.

    A rootful node owns a private cgroup namespace, so cgroupfs works everywhere (and is what
    the project tests on cgroup v1 hosts). A rootless node only gets delegated cgroups through
    systemd, so it must follow the engine when the engine itself goes through systemd on v2.
    """
    if rootless and engine_driver == "systemd" and cgroup_version == "2":
        return "systemd"
    return "cgroupfs"


def parse_docker_info(
    data: Mapping[str, Any], binary: str, host: HostFacts, stderr: str = ""
) -> ProviderInfo:
    """ProviderInfo from `docker info --format '{{json .}}'` (and its stderr, for errors)."""
    return docker_info(parse_docker(data, binary, stderr), host)


def docker_info(facts: EngineFacts, host: HostFacts) -> ProviderInfo:
    """How nodes run on this daemon; an error when it did not answer.

    No runtime is asked for: dockerd's own default is used on purpose, as that is where an
    operator installs a capability-filtering runc wrapper on restricted hosts (see
    explain_caps_error)."""
    driver = node_cgroup_driver(bool(facts.rootless), facts.cgroup_manager, facts.cgroup_version)
    return ProviderInfo.decided(facts, host, cgroup_driver=driver)


def find_docker(binary: str = "docker") -> str:
    return find_engine(binary, "apt-get install docker.io")


def probe_docker(binary: str = "docker", host: HostFacts | None = None) -> ProviderInfo:
    """Ask the daemon the docker CLI points at (DOCKER_HOST, else the current context)."""
    facts = fetch("docker", find_docker(binary))
    try:
        return docker_info(facts, host or probe_host())
    except ProviderError as exc:
        raise ProviderError(
            f"{exc} (start dockerd, or check DOCKER_HOST and `docker context ls`)"
        ) from exc


def docker_endpoint(binary: str = "docker") -> str:
    """The daemon address the docker CLI uses, as it resolves it (for logs and messages)."""
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    res = _exec.run(
        [binary, "context", "inspect", "--format", "{{.Endpoints.docker.Host}}"],
        check=False,
        timeout=engine_timeout(),
    )
    return res.stdout.strip() if res.ok else ""


def is_caps_error(exc: CommandError) -> bool:
    text = f"{exc.stderr}\n{exc.stdout}".lower()
    return any(marker in text for marker in CAPS_ERROR_MARKERS)


def explain_caps_error(info: ProviderInfo, what: str, exc: CommandError) -> HostError:
    """Why a privileged container cannot start here, and what to change, in one message."""
    lacking = sorted(info.host.missing_capabilities | info.host.ineffective_capabilities)
    caps = ", ".join(lacking) if lacking else "some capabilities the engine asks for"
    engine = info.name
    if engine == "docker":
        fix = (
            "dockerd asks runc for every capability when --privileged is used; give it a default "
            "runtime that drops these: a wrapper around runc that removes them from the "
            "capability lists of the OCI config (on create) and the process spec (on exec), "
            "registered with `dockerd --add-runtime "
            'NAME=/path/to/wrapper --default-runtime NAME` (or "runtimes" and '
            '"default-runtime" in /etc/docker/daemon.json)'
        )
    else:
        fix = (
            f"{engine} asks runc for every capability when --privileged is used; point "
            "containerd's runc runtime at a wrapper around runc that removes these from the "
            "capability lists of the OCI config and process spec (BinaryName in containerd's "
            "runc options)"
        )
    return HostError(
        f"{what}: privileged containers cannot run here (runc: unable to apply caps): the "
        f"capability bounding set lacks {caps}. {fix}; or use --provider podman, which only asks "
        "for capabilities it can have. See `nestkube doctor`."
    )


class DockerLikeProvider(CliProvider):
    """What Docker and nerdctl share: AppArmor opt-out and runc's caps error explained."""

    def security_args(self) -> list[str]:
        # Both confine containers with AppArmor where the host has it; systemd and the kubelet
        # in a node need mounts that the default profile forbids.
        return [
            "--privileged",
            "--security-opt",
            "seccomp=unconfined",
            "--security-opt",
            "apparmor=unconfined",
        ]

    def explain_failure(self, what: str, exc: CommandError) -> NestkubeError | None:
        return explain_caps_error(self._info, what, exc) if is_caps_error(exc) else None


class DockerProvider(DockerLikeProvider):
    name = "docker"

    def endpoint(self) -> str:
        return docker_endpoint(self._info.binary)

    def commit(self, container: str, image: str, changes: Sequence[str]) -> None:
        # Dropping STOPSIGNAL loses nothing: nodes are always run with --stop-signal.
        kept = [c for c in changes if c.split(None, 1)[0].upper() in COMMIT_INSTRUCTIONS]
        super().commit(container, image, kept)

    def ensure_network(self, name: str, cluster: str) -> None:
        if self.network_exists(name):
            return
        super().ensure_network(name, cluster)
        # Docker takes `run --ip` only on a network created with its subnet given: keep the
        # free subnet it just picked, and make the network again naming it.
        subnet = next((s for s in self.network_subnets(name) if ":" not in s), None)
        if subnet is None:
            return
        self._run("network", "rm", name, what=f"removing network {name}", timeout=engine_timeout())
        self._create_network(name, cluster, "--subnet", subnet)

    def fixed_addresses(self, network: str, count: int) -> list[str]:
        # Docker may give a restarted container another address unless it asked for one.
        return top_addresses(self.network_subnets(network), count)

    def engine_info(self) -> str:
        text = super().engine_info()
        endpoint = self.endpoint()
        return f"{text.rstrip()}\n\nendpoint: {endpoint}\n" if endpoint else text
