"""What Podman, Docker and nerdctl share: a docker-compatible CLI driven with argument lists.

Subclasses override only what differs (info parsing, a few flags). Cluster state lives in the
engine as labels; nothing is remembered between calls.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, ClassVar, Self

from nestkube import _exec
from nestkube._exec import Result
from nestkube.errors import CommandError, CommandTimeout, NestkubeError, ProviderError
from nestkube.providers.base import (
    LABEL_API_ADDRESS,
    LABEL_API_PORT,
    LABEL_CLUSTER,
    LABEL_NETWORK,
    LABEL_REGISTRY,
    LABEL_ROLE,
    LABEL_ROOTLESS,
    Mount,
    Node,
    NodeRole,
    NodeSpec,
    ProviderInfo,
    ProviderName,
    Service,
    ServiceSpec,
    rlimit_args,
)
from nestkube.providers.timeouts import CHANGE as CHANGE
from nestkube.providers.timeouts import DEFAULT_ENGINE_TIMEOUT as DEFAULT_ENGINE_TIMEOUT
from nestkube.providers.timeouts import ENGINE_TIMEOUT_ENV as ENGINE_TIMEOUT_ENV
from nestkube.providers.timeouts import LONG as LONG
from nestkube.providers.timeouts import QUERY as QUERY
from nestkube.providers.timeouts import engine_hint as engine_hint
from nestkube.providers.timeouts import engine_timeout as engine_timeout

API_SERVER_PORT = 6443

# systemd's "halt now" signal: with it `stop` is quick instead of a 10 s wait for SIGKILL.
STOP_SIGNAL = "SIGRTMIN+3"
# Seconds `stop` waits for a node to halt before the engine kills it.
STOP_GRACE = 30


def free_port(address: str = "127.0.0.1") -> int:
    """A port free right now on ``address``, so each cluster's API server gets its own."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((address if address not in ("0.0.0.0", "::") else "", 0))
        return int(sock.getsockname()[1])


class CliProvider:
    """A provider driving a docker-compatible engine CLI."""

    # Each engine's subclass names its engine.
    name: ClassVar[ProviderName]

    def __init__(self, info: ProviderInfo) -> None:
        self._probed: ProviderInfo | None = info
        self._probe: Callable[[], ProviderInfo] | None = None
        self._binary = info.binary

    @classmethod
    def unprobed(cls, binary: str, probe: Callable[[], ProviderInfo]) -> Self:
        """A provider that probes the engine (``probe``) only when a fact is first asked for.

        Listing containers needs only the binary, so `get clusters` is one engine call.
        """
        provider = cls.__new__(cls)
        provider._probed, provider._probe, provider._binary = None, probe, binary
        return provider

    @property
    def _info(self) -> ProviderInfo:
        if self._probed is None:
            assert self._probe is not None
            self._probed = self._probe()
        return self._probed

    @property
    def info(self) -> ProviderInfo:
        return self._info

    # --- running the engine ----------------------------------------------------
    def _cmd(self, *args: str) -> list[str]:
        return [self._binary, *args]

    def _run(
        self,
        *args: str,
        input: str | bytes | None = None,
        check: bool = True,
        what: str | None = None,
        timeout: float | None = None,
        stdout: IO[bytes] | None = None,
        stdin: IO[bytes] | None = None,
        hint: str | None = None,
    ) -> Result:
        """Run the engine; ``timeout`` defaults to the QUERY limit."""
        return _exec.run(
            self._cmd(*args),
            input=input,
            check=check,
            what=what,
            timeout=engine_timeout() if timeout is None else timeout,
            stdout=stdout,
            stdin=stdin,
            hint=engine_hint(self._binary) if hint is None else hint,
        )

    def explain_failure(self, what: str, exc: CommandError) -> NestkubeError | None:
        """An error that says why ``exc`` happened and what to change, if the engine knows."""
        return None

    @contextmanager
    def _explained(self, what: str) -> Iterator[None]:
        """Turn a failure that :meth:`explain_failure` recognises into its explanation."""
        try:
            yield
        except CommandTimeout:
            raise
        except CommandError as exc:
            explained = self.explain_failure(what, exc)
            if explained is None:
                raise
            raise explained from exc

    # --- node flags -------------------------------------------------------------
    def volume_name(self, node: str) -> str:
        return f"{node}-var"

    def security_args(self) -> list[str]:
        return ["--privileged", "--security-opt", "seccomp=unconfined"]

    def runtime_args(self) -> list[str]:
        return ["--runtime", self._info.runtime] if self._info.runtime else []

    def _labelled_run_args(self, spec: NodeSpec) -> list[str]:
        """`run` with the container's name and the labels that make it one of the cluster's."""
        labels = {LABEL_CLUSTER: spec.cluster, LABEL_ROLE: spec.role, **spec.labels}
        labels[LABEL_NETWORK] = spec.network
        labels[LABEL_ROOTLESS] = "true" if self._info.rootless else "false"
        args = ["run", "--detach", "--tty", "--name", spec.name, "--hostname", spec.name]
        if _publishes_api(spec):
            labels[LABEL_API_ADDRESS] = spec.api_server_address
            labels[LABEL_API_PORT] = str(spec.api_server_port)
        for key, value in sorted(labels.items()):
            args += ["--label", f"{key}={value}"]
        return args

    def _api_publish_args(self, spec: NodeSpec) -> list[str]:
        # Only the container clients reach from the host publishes 6443: the one control
        # plane, or the load balancer in front of several.
        if not _publishes_api(spec):
            return []
        address = bracket_ipv6(spec.api_server_address)
        return ["--publish", f"{address}:{spec.api_server_port}:{API_SERVER_PORT}/tcp"]

    def load_balancer_run_args(self, spec: NodeSpec) -> list[str]:
        """A plain container (HAProxy): no privileges, systemd or /var volume of a node.
        It comes back after engine and host restarts like the nodes behind it."""
        args = self._labelled_run_args(spec)
        args += self.restart_args()
        args += self.runtime_args()
        args += ["--network", spec.network]
        args += rlimit_args(self._info, nofile=spec.nofile, nproc=spec.nproc)
        if spec.ip is not None:
            args += ["--ip", spec.ip]
        args += self._api_publish_args(spec)
        args.append(spec.image)
        return args

    def node_run_args(self, spec: NodeSpec) -> list[str]:
        if spec.role == "external-load-balancer":
            return self.load_balancer_run_args(spec)
        args = self._labelled_run_args(spec)
        args += self.security_args()
        args += self.runtime_args()
        args += self.restart_args()
        args += [
            "--cgroupns=private",
            "--tmpfs",
            "/tmp",
            "--tmpfs",
            "/run",
            "--volume",
            f"{self.volume_name(spec.name)}:/var",
            "--stop-signal",
            STOP_SIGNAL,
            "--network",
            spec.network,
            "--env",
            "container=" + self.name,
        ]
        if Path("/lib/modules").is_dir():
            # kube-proxy and kubelet look for kernel modules; some hosts have none.
            args += ["--volume", "/lib/modules:/lib/modules:ro"]
        args += rlimit_args(self._info, nofile=spec.nofile, nproc=spec.nproc)
        if spec.dns_search is not None:
            # "." is the engines' way to say "no search domains at all".
            for domain in spec.dns_search or (".",):
                args += ["--dns-search", domain]
        if spec.ip is not None:
            args += ["--ip", spec.ip]
        if self._info.rootless:
            args += ["--device", "/dev/fuse"]
        for mount in spec.mounts:
            args += ["--volume", self.mount_arg(mount)]
        args += self._api_publish_args(spec)
        for pm in spec.port_mappings:
            host_port = str(pm.host_port) if pm.host_port else ""
            args += [
                "--publish",
                f"{bracket_ipv6(pm.listen_address)}:{host_port}:{pm.container_port}/{pm.protocol.lower()}",
            ]
        args += self.extra_node_args(spec)
        args.append(spec.image)
        return args

    def extra_node_args(self, spec: NodeSpec) -> list[str]:
        return []

    def restart_args(self) -> list[str]:
        """The restart policy that brings a running node back after the engine or the host
        restarts (see docs/restarts.md); a node stopped by `nestkube stop` stays stopped
        where the engine can tell."""
        policy = RESTART_POLICIES.get(self.name)
        return ["--restart", policy] if policy else []

    def mount_arg(self, mount: Mount) -> str:
        options = ["ro" if mount.read_only else "rw"]
        if mount.selinux_relabel:
            options.append("z")
        propagation = {"HostToContainer": "rslave", "Bidirectional": "rshared"}.get(
            mount.propagation
        )
        if propagation:
            options.append(propagation)
        return f"{mount.host_path}:{mount.container_path}:{','.join(options)}"

    # --- node lifecycle -----------------------------------------------------------
    def create_node(self, spec: NodeSpec) -> Node:
        if spec.role != "external-load-balancer":
            self._run(
                "volume",
                "create",
                "--label",
                f"{LABEL_CLUSTER}={spec.cluster}",
                self.volume_name(spec.name),
                what=f"creating volume for {spec.name}",
                timeout=engine_timeout(CHANGE),
            )
        with self._explained(f"creating node {spec.name}"):
            self._run(
                *self.node_run_args(spec),
                what=f"creating node {spec.name}",
                timeout=engine_timeout(CHANGE),
            )
        return Node(spec.name, spec.role, spec.cluster, "running", dict(spec.labels))

    def _ps(self, *filters: str) -> list[dict[str, Any]]:
        args = ["ps", "--all", "--no-trunc", "--format", "{{json .}}"]
        for flt in filters:
            args += ["--filter", flt]
        out = self._run(*args, what="listing containers").stdout
        return _json_lines(out)

    def _names_and_labels(self, entry: dict[str, Any]) -> tuple[str, dict[str, str], str]:
        names = entry.get("Names")
        name = names[0] if isinstance(names, list) else str(names or "")
        labels = entry.get("Labels") or {}
        if isinstance(labels, str):
            labels = dict(item.split("=", 1) for item in labels.split(",") if "=" in item)
        return name, {str(k): str(v) for k, v in labels.items()}, str(entry.get("State", ""))

    def _nodes(self, *filters: str) -> list[Node]:
        """The nestkube nodes among the containers ``filters`` select, in one `ps`."""
        nodes = []
        for entry in self._ps(*filters):
            name, labels, state = self._names_and_labels(entry)
            cluster = labels.get(LABEL_CLUSTER, "")
            if not cluster:
                continue
            role = _ROLES.get(labels.get(LABEL_ROLE, ""), "worker")
            nodes.append(Node(name, role, cluster, state, labels))
        # Control planes first (start order), the load balancer last (stop order).
        order = {"control-plane": 0, "worker": 1, "external-load-balancer": 2}
        return sorted(nodes, key=lambda n: (order[n.role], n.name))

    def cluster_nodes(self) -> dict[str, list[Node]]:
        by_cluster: dict[str, list[Node]] = {}
        for node in self._nodes(f"label={LABEL_CLUSTER}"):
            by_cluster.setdefault(node.cluster, []).append(node)
        return dict(sorted(by_cluster.items()))

    def list_clusters(self) -> list[str]:
        return list(self.cluster_nodes())

    def list_nodes(self, cluster: str) -> list[Node]:
        # The engine's filter is a prefilter only: an empty value matches any value.
        nodes = self._nodes(f"label={LABEL_CLUSTER}={cluster}")
        return [n for n in nodes if n.cluster == cluster]

    def delete_nodes(self, nodes: Sequence[Node]) -> None:
        names = [n.name for n in nodes]
        if names:
            try:
                self._remove_containers(names)
            except CommandTimeout:
                raise
            except CommandError:
                # On a busy host Podman's `rm --force` gives up when the killed processes of a
                # node take more than a few seconds to go ("given PIDs did not die within
                # timeout"); they were killed, so removing what is left again finishes.
                left = {n.name for c in {n.cluster for n in nodes} for n in self.list_nodes(c)}
                remaining = [name for name in names if name in left]
                if remaining:
                    self._remove_containers(remaining)
        for node in nodes:
            self.remove_volume(self.volume_name(node.name))

    def _remove_containers(self, names: Sequence[str]) -> None:
        self._run(
            "rm",
            "--force",
            "--volumes",
            *names,
            what="removing nodes",
            timeout=engine_timeout(CHANGE),
        )

    def remove_volume(self, name: str) -> None:
        self._run("volume", "rm", "--force", name, check=False, timeout=engine_timeout(CHANGE))

    def record_removed_node(self, cluster: str, node: str) -> None:
        # An empty volume with the cluster's label: listed with the cluster's volumes, and
        # removed with them by `delete cluster`.
        self._run(
            "volume",
            "create",
            "--label",
            f"{LABEL_CLUSTER}={cluster}",
            removed_record(node),
            what=f"recording that {node} was removed",
            timeout=engine_timeout(CHANGE),
        )

    def removed_nodes(self, cluster: str) -> list[str]:
        suffix = removed_record("")
        return sorted(
            v[: -len(suffix)] for v in self.cluster_volumes(cluster) if v.endswith(suffix)
        )

    def cluster_volumes(self, cluster: str) -> list[str]:
        out = self._run(
            "volume",
            "ls",
            "--quiet",
            "--filter",
            f"label={LABEL_CLUSTER}={cluster}",
            what="listing volumes",
        ).stdout
        names = [v for v in out.split() if v]
        if not names:
            return []
        # The engine's filter is a prefilter only (an empty value matches any value): keep
        # the volumes whose label is exactly ``cluster``.
        res = self._run("volume", "inspect", *names, check=False, what="inspecting volumes")
        try:
            entries = json.loads(res.stdout) if res.stdout.strip() else []
        except ValueError:
            entries = []
        exact = {
            str(e.get("Name", ""))
            for e in entries
            if isinstance(e, dict) and (e.get("Labels") or {}).get(LABEL_CLUSTER) == cluster
        }
        return [v for v in names if v in exact]

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
        """Run ``args`` in ``node``; without ``timeout`` the LONG limit applies (build scripts
        run through here too), so callers with quick commands pass a shorter one."""
        flags = ["-i"] if input is not None else []
        # A runtime wrapper that filters `create` but not `exec` lets nodes start and then
        # fails every exec into them: the explanation is the same as for create.
        with self._explained(f"exec in {node}"):
            return self._run(
                "exec",
                *flags,
                node,
                *args,
                input=input,
                check=check,
                what=what,
                timeout=engine_timeout(LONG) if timeout is None else timeout,
                hint=self.node_hint(node),
            )

    def node_hint(self, node: str) -> str:
        name = Path(self._binary).name
        return f"is node {node} or the engine hung? check `{name} ps --all` and `{name} info`"

    def exec_stream_in(self, node: str, args: Sequence[str], source: IO[bytes]) -> Result:
        with self._explained(f"exec in {node}"):
            return self._run(
                "exec",
                "-i",
                node,
                *args,
                stdin=source,
                what=f"streaming into {args[0] if args else 'a command'} in {node}",
                timeout=engine_timeout(LONG),
                hint=self.node_hint(node),
            )

    def _inspect(self, kind: str, name: str) -> dict[str, Any]:
        out = self._run(kind, "inspect", name, what=f"inspecting {name}").stdout
        data = json.loads(out)
        return dict(data[0] if isinstance(data, list) else data)

    def node_ip(self, node: str, network: str) -> str:
        data = self._inspect("container", node)
        networks = data.get("NetworkSettings", {}).get("Networks", {}) or {}
        entry: dict[str, Any] = networks.get(network) or next(iter(networks.values()), {})
        ip = str(entry.get("IPAddress", ""))
        if not ip:
            raise ProviderError(f"node {node} has no address on network {network}")
        return ip

    def api_server_endpoint(self, node: Node) -> tuple[str, int]:
        port = node.labels.get(LABEL_API_PORT)
        address = node.labels.get(LABEL_API_ADDRESS, "127.0.0.1")
        if port and port != "0":
            return client_address(address), int(port)
        data = self._inspect("container", node.name)
        ports = data.get("NetworkSettings", {}).get("Ports", {}) or {}
        for binding in ports.get(f"{API_SERVER_PORT}/tcp") or []:
            return client_address(binding.get("HostIp") or address), int(binding["HostPort"])
        raise ProviderError(f"node {node.name} publishes no API server port")

    def copy_to(self, node: str, src: Path, dest: str) -> None:
        self._run(
            "cp",
            str(src),
            f"{node}:{dest}",
            what=f"copying {src} into {node}",
            timeout=engine_timeout(LONG),
        )

    def inspect_node(self, node: str) -> str:
        return self._run("inspect", node, what=f"inspecting {node}").stdout

    def engine_info(self) -> str:
        return self._run("info", check=False).stdout

    # --- networks -----------------------------------------------------------------
    def network_exists(self, name: str) -> bool:
        return self._run("network", "inspect", name, check=False).ok

    def ensure_network(self, name: str, cluster: str) -> None:
        if self.network_exists(name):
            return
        self._create_network(name, cluster)

    def _create_network(self, name: str, cluster: str, *extra: str) -> None:
        self._run(
            "network",
            "create",
            "--label",
            f"{LABEL_CLUSTER}={cluster}",
            *self.network_create_args(),
            *extra,
            name,
            what=f"creating network {name}",
            timeout=engine_timeout(CHANGE),
        )

    def network_create_args(self) -> list[str]:
        return []

    def network_users(self, name: str) -> list[str]:
        entries = self._ps(f"network={name}")
        return [self._names_and_labels(e)[0] for e in entries]

    def delete_network_if_unused(self, name: str) -> None:
        """Remove ``name`` unless a container other than a registry is on it; registries
        (shared by clusters, see nestkube.registry) leave it first and stay on their others."""
        if not self.network_exists(name):
            return
        users = [self._names_and_labels(e) for e in self._ps(f"network={name}")]
        if any(LABEL_REGISTRY not in labels for _, labels, _ in users):
            return
        for registry, _, _ in users:
            self.disconnect_network(name, registry)
        self._run("network", "rm", name, check=False, timeout=engine_timeout(CHANGE))

    # --- images -------------------------------------------------------------------
    def image_exists(self, image: str) -> bool:
        return self._run("image", "inspect", image, check=False).ok

    def image_id(self, image: str) -> str | None:
        res = self._run("image", "inspect", "--format", "{{.Id}}", image, check=False)
        if not res.ok:
            return None
        value = res.stdout.strip()
        return value if value.startswith("sha256:") else f"sha256:{value}"

    def image_labels(self, image: str) -> dict[str, str]:
        data = self._inspect("image", image)
        labels = (data.get("Config") or {}).get("Labels") or data.get("Labels") or {}
        return {str(k): str(v) for k, v in labels.items()}

    def save_image(self, images: Sequence[str], dest: IO[bytes]) -> None:
        self._run(
            "save",
            *self.save_args(),
            *images,
            stdout=dest,
            what="saving image",
            timeout=engine_timeout(LONG),
        )

    def save_args(self) -> list[str]:
        return []

    def load_image_archive(self, path: Path) -> None:
        self._run(
            "load", "--input", str(path), what=f"loading {path}", timeout=engine_timeout(LONG)
        )

    def remove_image(self, image: str) -> None:
        self._run("rmi", "--force", image, check=False, timeout=engine_timeout(CHANGE))

    def image_size(self, image: str) -> int | None:
        res = self._run("image", "inspect", "--format", "{{.Size}}", image, check=False)
        size = res.stdout.strip()
        return int(size) if res.ok and size.isdigit() else None

    def pull_image(self, image: str, timeout: float | None = None) -> None:
        self._run(
            "pull",
            image,
            what=f"pulling {image}",
            timeout=engine_timeout(LONG) if timeout is None else timeout,
        )

    def remove_unused_image(self, image: str) -> None:
        """Remove ``image`` only if no container uses it (the engine refuses otherwise)."""
        self._run("rmi", image, check=False, timeout=engine_timeout(CHANGE))

    def import_rootfs(self, tarball: Path, image: str) -> None:
        self._run(
            "import",
            str(tarball),
            image,
            what=f"importing {tarball} as {image}",
            timeout=engine_timeout(LONG),
        )

    # --- image builds -------------------------------------------------------------
    def run_build_container(self, image: str, name: str, mounts: Sequence[Mount]) -> None:
        args = ["run", "--detach", "--name", name, "--network", "host"]
        args += self.runtime_args()
        args += rlimit_args(self._info)
        for mount in mounts:
            args += ["--volume", self.mount_arg(mount)]
        args += ["--entrypoint", "sleep", image, "infinity"]
        with self._explained(f"starting {name}"):
            self._run(*args, what=f"starting {name} from {image}", timeout=engine_timeout(CHANGE))

    def commit(self, container: str, image: str, changes: Sequence[str]) -> None:
        args = ["commit"]
        for change in changes:
            args += ["--change", change]
        self._run(*args, container, image, what=f"committing {image}", timeout=engine_timeout(LONG))

    def remove_container(self, name: str) -> None:
        self._run("rm", "--force", name, check=False, timeout=engine_timeout(CHANGE))

    # --- helper containers (registries) --------------------------------------------
    def container_exists(self, name: str) -> bool:
        return self._run("container", "inspect", name, check=False).ok

    def service_run_args(self, spec: ServiceSpec) -> list[str]:
        args = ["run", "--detach", "--name", spec.name, *self.restart_args()]
        args += self.runtime_args()
        args += rlimit_args(self._info, 1 << 16)
        for key, value in spec.labels.items():
            args += ["--label", f"{key}={value}"]
        if spec.network:
            args += ["--network", spec.network]
        for pm in spec.port_mappings:
            host_port = str(pm.host_port) if pm.host_port else ""
            address = bracket_ipv6(pm.listen_address)
            args += ["--publish", f"{address}:{host_port}:{pm.container_port}/tcp"]
        for volume, path in spec.volumes:
            args += ["--volume", f"{volume}:{path}"]
        for key, value in spec.env.items():
            args += ["--env", f"{key}={value}"]
        args.append(spec.image)
        return args

    def run_service(self, spec: ServiceSpec) -> None:
        for volume, _ in spec.volumes:
            labels = [a for k, v in spec.labels.items() for a in ("--label", f"{k}={v}")]
            self._run(
                "volume",
                "create",
                *labels,
                volume,
                what=f"creating volume {volume}",
                timeout=engine_timeout(CHANGE),
            )
        with self._explained(f"starting {spec.name}"):
            self._run(
                *self.service_run_args(spec),
                what=f"starting {spec.name}",
                timeout=engine_timeout(CHANGE),
            )

    def services(self, label: str) -> list[Service]:
        found = []
        entries = [self._names_and_labels(e) for e in self._ps(f"label={label}")]
        names = [name for name, labels, _ in entries if label in labels]
        networks: dict[str, tuple[str, ...]] = {}
        if names:
            out = self._run("container", "inspect", *names, check=False).stdout
            try:
                data = json.loads(out) if out.strip() else []
            except ValueError:
                data = []
            for item in data:
                nets = ((item.get("NetworkSettings") or {}).get("Networks")) or {}
                networks[str(item.get("Name", "")).lstrip("/")] = tuple(sorted(nets))
        for name, labels, state in entries:
            if label in labels:
                found.append(Service(name, state, labels, networks.get(name, ())))
        return sorted(found, key=lambda s: s.name)

    def remove_service(self, service: Service, volumes: Sequence[str]) -> None:
        self._run(
            "rm",
            "--force",
            service.name,
            what=f"removing {service.name}",
            timeout=engine_timeout(CHANGE),
        )
        for volume in volumes:
            self.remove_volume(volume)

    def connect_network(self, network: str, container: str, ip: str | None = None) -> None:
        self._run(
            "network",
            "connect",
            *(["--ip", ip] if ip else []),
            network,
            container,
            what=f"connecting {container} to {network}",
            timeout=engine_timeout(CHANGE),
        )

    def disconnect_network(self, network: str, container: str) -> None:
        self._run(
            "network",
            "disconnect",
            network,
            container,
            check=False,
            what=f"disconnecting {container} from {network}",
            timeout=engine_timeout(CHANGE),
        )

    def container_logs(self, name: str) -> str:
        res = self._run("logs", name, check=False, what=f"reading the logs of {name}")
        return res.stdout + res.stderr

    # --- stop and start -----------------------------------------------------------
    def stop_nodes(self, nodes: Sequence[Node]) -> None:
        if not nodes:
            return
        # The node's stop signal makes systemd halt at once; the grace is for its units.
        self._run(
            "stop",
            "--time",
            str(STOP_GRACE),
            *[n.name for n in nodes],
            what="stopping nodes",
            timeout=engine_timeout(CHANGE) + STOP_GRACE,
        )

    def start_node(self, node: Node) -> None:
        self._run(
            "start", node.name, what=f"starting node {node.name}", timeout=engine_timeout(CHANGE)
        )

    def fixed_addresses(self, network: str, count: int) -> list[str]:
        return []

    def network_subnets(self, name: str) -> list[str]:
        """The network's subnets (Podman's ``subnets`` or Docker's ``IPAM.Config``)."""
        data = self._inspect("network", name)
        found = [str(s.get("subnet", "")) for s in data.get("subnets") or []]
        found += [str(c.get("Subnet", "")) for c in (data.get("IPAM") or {}).get("Config") or []]
        return [s for s in found if s]


# Role labels as roles; any other value is a worker, as nestkube always labelled them.
_ROLES: dict[str, NodeRole] = {
    "control-plane": "control-plane",
    "external-load-balancer": "external-load-balancer",
}


def _publishes_api(spec: NodeSpec) -> bool:
    """A control plane or load balancer planned with a host port (several control planes
    behind a load balancer have none: a port of 0 made `podman run` fail)."""
    return spec.role != "worker" and spec.api_server_port != 0


# Docker restarts `unless-stopped` containers that were running when its daemon starts.
# Podman has no daemon: podman-restart.service starts the `always` containers at boot (Podman
# 4.3's unit filters on that policy alone); `podman stop` still keeps one stopped until then.
# nerdctl's restart support differs between releases, and nothing here tests it: none.
RESTART_POLICIES = {"docker": "unless-stopped", "podman": "always"}


def removed_record(node: str) -> str:
    """The name of the volume that records ``node``'s removal (see record_removed_node)."""
    return f"{node}-removed"


def top_addresses(subnets: Sequence[str], count: int) -> list[str]:
    """``count`` addresses from the top of the first IPv4 subnet with room, for nodes pinned
    to their address: the network is the cluster's own and engines hand addresses out from
    the bottom, so the top is free. [] when no subnet has room."""
    for subnet in subnets:
        net = ipaddress.ip_network(subnet, strict=False)
        if net.version == 4 and net.num_addresses - 3 >= count:
            top = net.broadcast_address - 1
            return [str(top - i) for i in range(count)]
    return []


def bracket_ipv6(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def client_address(address: str) -> str:
    """Where a client on the host connects for a bind address (0.0.0.0 means loopback)."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(address, address)


def _json_lines(out: str) -> list[dict[str, Any]]:
    """`--format '{{json .}}'` prints one object per line (Docker) or one array (Podman)."""
    text = out.strip()
    if not text:
        return []
    if text.startswith("["):
        return [dict(e) for e in json.loads(text)]
    return [dict(json.loads(line)) for line in text.splitlines() if line.strip()]
