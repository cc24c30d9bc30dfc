"""The provider interface: everything nestkube asks of a container engine.

Providers turn node specs into engine commands and read cluster state back from labels: the
engine is the only state store. Providers know nothing about kubeadm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal, Protocol

from nestkube._exec import Result
from nestkube.errors import ProviderError
from nestkube.host import HostFacts
from nestkube.providers.facts import ENGINES as ENGINES
from nestkube.providers.facts import EngineFacts
from nestkube.providers.facts import ProviderName as ProviderName

# The external load balancer (HAProxy in front of several control planes) carries the
# cluster's labels like a node, so listing, stop/start and delete find it; it runs no kubelet.
NodeRole = Literal["control-plane", "worker", "external-load-balancer"]

LABEL_CLUSTER = "io.nestkube.cluster"
LABEL_ROLE = "io.nestkube.role"
# The host port the API server is published on, so `get kubeconfig` needs no inspection.
LABEL_API_PORT = "io.nestkube.api-port"
LABEL_API_ADDRESS = "io.nestkube.api-address"
LABEL_NETWORK = "io.nestkube.network"
# Whether the engine ran the node rootless, so listing clusters needs no engine probe.
LABEL_ROOTLESS = "io.nestkube.rootless"
# Every container the cluster was made with (comma-separated names), on each of them: a node
# removed outside nestkube is then known to be missing from what is left.
LABEL_NODES = "io.nestkube.nodes"
# A registry container (`nestkube registry create`): its name, and where it is published.
LABEL_REGISTRY = "io.nestkube.registry"
LABEL_REGISTRY_ADDRESS = "io.nestkube.registry-address"
LABEL_REGISTRY_PORT = "io.nestkube.registry-port"


@dataclass(frozen=True)
class ProviderInfo:
    """How nodes run on this engine and host: decided once from the engine's facts (see
    :mod:`nestkube.providers.facts`) and the host's, and passed down."""

    name: ProviderName
    binary: str
    version: str
    rootless: bool
    host: HostFacts
    # The OCI runtime to ask for explicitly (crun refuses hybrid cgroups), or None.
    runtime: str | None = None
    cgroup_driver: Literal["cgroupfs", "systemd"] = "cgroupfs"
    storage_driver: str = ""
    # What the engine reported, when it was asked (None for an info made by hand).
    engine_facts: EngineFacts | None = field(default=None, compare=False, repr=False)

    @property
    def facts(self) -> EngineFacts:
        """The engine's facts; for an info made by hand, what the info itself says."""
        if self.engine_facts is not None:
            return self.engine_facts
        return EngineFacts(
            provider=self.name,
            binary=self.binary,
            info_ok=True,
            version=self.version,
            rootless=self.rootless,
            storage_driver=self.storage_driver,
            default_runtime=self.runtime or "",
        )

    @classmethod
    def decided(
        cls,
        facts: EngineFacts,
        host: HostFacts,
        *,
        runtime: str | None = None,
        cgroup_driver: Literal["cgroupfs", "systemd"] = "cgroupfs",
        version: str | None = None,
    ) -> ProviderInfo:
        """The info of an engine that answered, with the engine's decisions about nodes; a
        ProviderError naming why when it did not answer."""
        if not facts.info_ok:
            raise ProviderError(f"{facts.provider} does not answer: {facts.error}")
        return cls(
            name=facts.provider,
            binary=facts.binary or facts.provider,
            version=facts.version if version is None else version,
            rootless=bool(facts.rootless),
            host=host,
            runtime=runtime,
            cgroup_driver=cgroup_driver,
            storage_driver=facts.storage_driver,
            engine_facts=facts,
        )

    @property
    def cgroup_v2(self) -> bool:
        return self.host.cgroup_v2

    @property
    def ipv6(self) -> bool:
        # Published ports are bound on the host, so the host's IPv6 is what counts.
        return self.host.ipv6


@dataclass(frozen=True)
class Mount:
    host_path: str
    container_path: str
    read_only: bool = False
    selinux_relabel: bool = False
    propagation: Literal["None", "HostToContainer", "Bidirectional"] = "None"


@dataclass(frozen=True)
class PortMapping:
    container_port: int
    host_port: int = 0  # 0 = a free port picked by the engine
    listen_address: str = "0.0.0.0"
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"


@dataclass(frozen=True)
class NodeSpec:
    """One node container to create."""

    name: str
    role: NodeRole
    image: str
    cluster: str
    network: str
    labels: dict[str, str] = field(default_factory=dict)
    mounts: tuple[Mount, ...] = ()
    port_mappings: tuple[PortMapping, ...] = ()
    # Control planes publish the API server (6443) on this host address and port.
    api_server_address: str = "127.0.0.1"
    api_server_port: int = 0
    # Container rlimits; None: just below the host's hard limit (see rlimit_args).
    nofile: int | None = None
    nproc: int | None = None
    # DNS search domains for the node's resolv.conf; None: the engine's default (the host's).
    dns_search: tuple[str, ...] | None = None
    # A fixed address on the cluster network (see Provider.fixed_addresses); None: the
    # engine picks one, which may change when the container restarts.
    ip: str | None = None


@dataclass(frozen=True)
class ServiceSpec:
    """A long-running helper container that is not a node (a registry): restarted with the
    engine, published on the host, storage in named volumes."""

    name: str
    image: str
    labels: dict[str, str] = field(default_factory=dict)
    network: str | None = None
    port_mappings: tuple[PortMapping, ...] = ()
    # Named volume -> path in the container.
    volumes: tuple[tuple[str, str], ...] = ()
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Service:
    """A helper container that exists: its name, state, labels and networks."""

    name: str
    state: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    networks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Node:
    """A node container that exists."""

    name: str
    role: NodeRole
    cluster: str
    state: str = ""
    labels: dict[str, str] = field(default_factory=dict)


class EngineAccess(Protocol):
    """What every part of nestkube asks of an engine: who it is and running in a container."""

    @property
    def name(self) -> ProviderName:
        """The engine, known without asking it (its facts are probed on first use)."""
        ...

    @property
    def info(self) -> ProviderInfo: ...

    def exec(
        self,
        node: str,
        args: Sequence[str],
        *,
        input: str | bytes | None = None,
        check: bool = True,
        what: str | None = None,
        timeout: float | None = None,
    ) -> Result:
        """Run ``args`` in the container ``node`` (a node, or an image build's container)."""
        ...

    def engine_info(self) -> str:
        """Raw engine info output, for logs."""
        ...


class NodeProvider(EngineAccess, Protocol):
    """Node lifecycle: the containers, volumes and networks of clusters."""

    def node_run_args(self, spec: NodeSpec) -> list[str]:
        """The full engine argv that creates ``spec`` (used by create and --dry-run)."""
        ...

    def create_node(self, spec: NodeSpec) -> Node: ...

    def list_clusters(self) -> list[str]: ...

    def cluster_nodes(self) -> dict[str, list[Node]]:
        """Every cluster's nodes by cluster name (sorted), from one listing of the engine."""
        ...

    def list_nodes(self, cluster: str) -> list[Node]: ...

    def delete_nodes(self, nodes: Sequence[Node]) -> None:
        """Remove the containers and their volumes."""
        ...

    def cluster_volumes(self, cluster: str) -> list[str]:
        """Volumes labelled with ``cluster`` (left behind when a node was never started)."""
        ...

    def remove_volume(self, name: str) -> None: ...

    def record_removed_node(self, cluster: str, node: str) -> None:
        """Record that ``node`` left ``cluster`` through nestkube (`delete node`): the other
        containers' LABEL_NODES still name it, and labels cannot change."""
        ...

    def removed_nodes(self, cluster: str) -> list[str]:
        """The nodes :meth:`record_removed_node` recorded for ``cluster``."""
        ...

    def stop_nodes(self, nodes: Sequence[Node]) -> None:
        """Stop the containers, keeping them and their volumes."""
        ...

    def start_node(self, node: Node) -> None: ...

    def fixed_addresses(self, network: str, count: int) -> list[str]:
        """``count`` addresses on ``network`` to pin nodes to, or [] if the engine cannot.

        A node keeps a pinned address across restarts; etcd, the API server's certificate,
        the kubelet and the routes between nodes all name it.
        """
        ...

    def volume_name(self, node: str) -> str:
        """The name of the volume holding ``node``'s /var."""
        ...

    def exec_stream_in(self, node: str, args: Sequence[str], source: IO[bytes]) -> Result:
        """Run ``args`` in ``node`` with ``source`` on its stdin (an image archive, say)."""
        ...

    def node_ip(self, node: str, network: str) -> str: ...

    def api_server_endpoint(self, node: Node) -> tuple[str, int]:
        """Host address and port the node's API server is published on."""
        ...

    def copy_to(self, node: str, src: Path, dest: str) -> None: ...

    def inspect_node(self, node: str) -> str:
        """Raw inspect JSON of the node container, for logs."""
        ...

    # --- networks -------------------------------------------------------------
    def ensure_network(self, name: str, cluster: str) -> None: ...

    def delete_network_if_unused(self, name: str) -> None: ...

    def network_exists(self, name: str) -> bool: ...

    def network_subnets(self, name: str) -> list[str]:
        """The network's subnets, as CIDRs."""
        ...


class ImageProvider(EngineAccess, Protocol):
    """Images in the engine's store, and image builds (a container committed to an image)."""

    def image_exists(self, image: str) -> bool: ...

    def image_id(self, image: str) -> str | None: ...

    def image_labels(self, image: str) -> dict[str, str]: ...

    def image_size(self, image: str) -> int | None:
        """The image's size in bytes as the engine reports it, or None."""
        ...

    def pull_image(self, image: str, timeout: float | None = None) -> None:
        """Pull ``image`` from its registry (CommandError when it cannot be had)."""
        ...

    def save_image(self, images: Sequence[str], dest: IO[bytes]) -> None: ...

    def load_image_archive(self, path: Path) -> None: ...

    def import_rootfs(self, tarball: Path, image: str) -> None:
        """A root filesystem tarball as an image of one layer."""
        ...

    def remove_image(self, image: str) -> None: ...

    def remove_unused_image(self, image: str) -> None:
        """Remove ``image`` only if no container uses it."""
        ...

    def run_build_container(self, image: str, name: str, mounts: Sequence[Mount]) -> None: ...

    def commit(self, container: str, image: str, changes: Sequence[str]) -> None: ...

    def remove_container(self, name: str) -> None: ...


class ServiceProvider(EngineAccess, Protocol):
    """Helper containers beside the nodes (registries), found by a label."""

    def container_exists(self, name: str) -> bool: ...

    def run_service(self, spec: ServiceSpec) -> None:
        """Create ``spec``'s volumes (labelled like it) and run it."""
        ...

    def services(self, label: str) -> list[Service]:
        """The containers carrying ``label`` (any value), with their networks."""
        ...

    def remove_service(self, service: Service, volumes: Sequence[str]) -> None: ...

    def connect_network(self, network: str, container: str, ip: str | None = None) -> None:
        """Join ``container`` to ``network``, at ``ip`` when given (kept across restarts)."""
        ...

    def disconnect_network(self, network: str, container: str) -> None: ...

    def container_logs(self, name: str) -> str: ...


class Provider(NodeProvider, ImageProvider, ServiceProvider, Protocol):
    """What nestkube needs from a container engine: nodes, images and builds, helpers."""


def rlimit_args(
    info: ProviderInfo,
    wanted: int = 1 << 20,
    *,
    nofile: int | None = None,
    nproc: int | None = None,
) -> list[str]:
    """--ulimit flags: ``nofile`` / ``nproc`` when given, else safely below the hard limits.

    Engines ask for more than restricted hosts allow and fail with "setrlimit: operation not
    permitted". Asking for exactly the hard limit is not enough either: on such hosts an NPROC
    limit above about half the ceiling was refused (the engine's own processes count against
    it), so NPROC takes the largest power of two under half the ceiling.
    """
    # Explicit values were checked against the hard limits (config.host_check).
    if nofile is None:
        nofile = min(wanted, _power_of_two_below(info.host.nofile_hard))
    if nproc is None:
        nproc = min(wanted, _power_of_two_below(info.host.nproc_hard // 2))
    return [
        "--ulimit",
        f"nofile={nofile}:{nofile}",
        "--ulimit",
        f"nproc={nproc}:{nproc}",
    ]


def _power_of_two_below(limit: int) -> int:
    return max(1024, 1 << (max(limit, 1).bit_length() - 1))
