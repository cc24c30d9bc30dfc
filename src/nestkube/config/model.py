"""The resolved cluster configuration: defaulted, normalised and validated.

This is what the create pipeline consumes. A :class:`ClusterConfig` validates itself when it is
constructed, so one that exists is one that can be acted on (short of host checks, which need
the engine: :func:`nestkube.config.host_check.check_against_host`). Error paths use the file
format's camelCase keys, because that is what the user has to find and edit.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Literal, NoReturn

import yaml

from nestkube.config._paths import format_error, render_path, yaml_problem
from nestkube.config.values import IPFamily, KubeProxyMode, ProviderChoice
from nestkube.errors import ConfigError
from nestkube.host import CAPABILITIES
from nestkube.kubeadm.proxy import Proxy
from nestkube.kubeadm.registries import check_mirror_url, check_registry_name
from nestkube.names import DEFAULT_NAME as DEFAULT_NAME
from nestkube.nodeops import loadbalancer
from nestkube.providers.base import Mount, NodeRole, PortMapping

# Node names become container host names, which are DNS labels.
NODE_NAME_MAX = 63
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_K8S_VERSION_RE = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")
_LABEL_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_KNOWN_CAPABILITIES = frozenset(CAPABILITIES.values())
# A node runs systemd, containerd, kube-proxy and a CNI: without these nothing starts.
_REQUIRED_CAPABILITIES = frozenset({"CAP_SYS_ADMIN", "CAP_NET_ADMIN"})

_DEFAULT_SUBNETS: dict[str, tuple[str, str]] = {
    "ipv4": ("10.244.0.0/16", "10.96.0.0/16"),
    "ipv6": ("fd00:10:244::/56", "fd00:10:96::/112"),
    "dual": ("10.244.0.0/16,fd00:10:244::/56", "10.96.0.0/16,fd00:10:96::/112"),
}


def default_subnets(ip_family: IPFamily) -> tuple[str, str]:
    """kind's default (pod subnet, service subnet) for an IP family."""
    return _DEFAULT_SUBNETS[ip_family]


def default_api_server_address(ip_family: IPFamily) -> str:
    return "::1" if ip_family == "ipv6" else "127.0.0.1"


def default_listen_address(ip_family: IPFamily) -> str:
    return "::" if ip_family == "ipv6" else "0.0.0.0"


def normalize_capability(name: str) -> str:
    """``sys_module`` and ``SYS_MODULE`` both mean ``CAP_SYS_MODULE``, as engines accept."""
    upper = name.strip().upper()
    return upper if upper.startswith("CAP_") else f"CAP_{upper}"


@dataclass(frozen=True)
class PatchJSON6902:
    """An RFC 6902 patch for the kubeadm object of this group, version and kind."""

    group: str
    version: str
    kind: str
    patch: str


@dataclass(frozen=True)
class ExtraMount(Mount):
    """A node's extra mount; it is a :class:`Mount` already, ``to_mount`` drops the subclass."""

    def to_mount(self) -> Mount:
        return Mount(
            host_path=self.host_path,
            container_path=self.container_path,
            read_only=self.read_only,
            selinux_relabel=self.selinux_relabel,
            propagation=self.propagation,
        )


@dataclass(frozen=True)
class ExtraPortMapping(PortMapping):
    """A node's extra port mapping; host port -1 (kind's "engine picks") is stored as 0."""

    def __post_init__(self) -> None:
        if self.host_port == -1:
            object.__setattr__(self, "host_port", 0)

    def to_port_mapping(self) -> PortMapping:
        return PortMapping(
            container_port=self.container_port,
            host_port=self.host_port,
            listen_address=self.listen_address,
            protocol=self.protocol,
        )


@dataclass(frozen=True)
class NodeConfig:
    role: NodeRole = "control-plane"
    image: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    extra_mounts: list[ExtraMount] = field(default_factory=list)
    extra_port_mappings: list[ExtraPortMapping] = field(default_factory=list)
    kubeadm_config_patches: list[str] = field(default_factory=list)
    kubeadm_config_patches_json6902: list[PatchJSON6902] = field(default_factory=list)
    # The file format's runtimes; the validator says which this image has.
    runtime: Literal["containerd", "cri-o"] = "containerd"


@dataclass(frozen=True)
class Networking:
    ip_family: IPFamily = "ipv4"
    api_server_address: str = "127.0.0.1"
    # 0: a free port is picked at create time. kind's -1 is stored as 0 too.
    api_server_port: int = 0
    pod_subnet: str = "10.244.0.0/16"
    service_subnet: str = "10.96.0.0/16"
    disable_default_cni: bool = False
    kube_proxy_mode: KubeProxyMode = "iptables"
    # None: nodes inherit the host's search domains; [] means none at all.
    dns_search: list[str] | None = None

    def __post_init__(self) -> None:
        if self.api_server_port == -1:
            object.__setattr__(self, "api_server_port", 0)

    @classmethod
    def for_family(cls, ip_family: IPFamily) -> Networking:
        """The defaults for ``ip_family`` (addresses and subnets differ per family)."""
        pod, service = default_subnets(ip_family)
        return cls(
            ip_family=ip_family,
            api_server_address=default_api_server_address(ip_family),
            pod_subnet=pod,
            service_subnet=service,
        )


@dataclass(frozen=True)
class Ulimits:
    """Limits for node containers; None means "just below the host's hard limit"."""

    nofile: int | None = None
    nproc: int | None = None


@dataclass(frozen=True)
class ImageBuild:
    """Where the node image's Kubernetes comes from: exactly one of the first three."""

    kubernetes_version: str | None = None
    kubernetes_binaries: str | None = None
    kubernetes_source: str | None = None
    base_image: str | None = None

    def __post_init__(self) -> None:
        version = self.kubernetes_version
        if version and version[0].isdigit():
            # Releases are tagged with a leading v; "1.31.2" is a common way to write one.
            object.__setattr__(self, "kubernetes_version", f"v{version}")


@dataclass(frozen=True)
class ClusterConfig:
    """A cluster configuration, defaulted and validated (construction raises ConfigError)."""

    name: str = DEFAULT_NAME
    provider: ProviderChoice | None = None
    rootless: bool | None = None
    nodes: list[NodeConfig] = field(default_factory=lambda: [NodeConfig()])
    networking: Networking = field(default_factory=Networking)
    feature_gates: dict[str, bool] = field(default_factory=dict)
    runtime_config: dict[str, str] = field(default_factory=dict)
    kubeadm_config_patches: list[str] = field(default_factory=list)
    kubeadm_config_patches_json6902: list[PatchJSON6902] = field(default_factory=list)
    containerd_config_patches: list[str] = field(default_factory=list)
    containerd_config_patches_json6902: list[str] = field(default_factory=list)
    restrict_oom_score_adj: bool | None = None
    ulimits: Ulimits | None = None
    drop_capabilities: list[str] = field(default_factory=list)
    image_build: ImageBuild | None = None
    # False: no CoreDNS, and pods get a nameserver that never answers (see create.plan).
    dns_addon: bool = True
    # The local-path provisioner as the default StorageClass (kind installs one too).
    default_storage_class: bool = True
    # metrics-server (`kubectl top`), with kubelet serving certificates the cluster CA signs.
    metrics_server: bool = False
    # MetalLB: an address on the cluster's network for each LoadBalancer Service.
    load_balancer_services: bool = True
    # nestkube registries (`nestkube registry create`) the nodes pull from, by name.
    registries: list[str] = field(default_factory=list)
    # The nodes' HTTP proxy; unset parts come from the environment at create.
    proxy: Proxy | None = None
    # Registry name ("docker.io", "localhost:5001") -> the URL nodes pull it through.
    registry_mirrors: dict[str, str] = field(default_factory=dict)
    source_kind: Literal["kind", "nestkube"] = "nestkube"
    # Where the config came from ("cluster.yaml (document 2)", "<stdin>"), for messages.
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        caps = list(dict.fromkeys(normalize_capability(c) for c in self.drop_capabilities))
        object.__setattr__(self, "drop_capabilities", caps)
        _Validator(self.source).cluster(self)

    def with_overrides(
        self,
        *,
        name: str | None = None,
        image: str | None = None,
        registries: list[str] | None = None,
        registry_mirrors: dict[str, str] | None = None,
    ) -> ClusterConfig:
        """A copy with the CLI's ``--name`` / ``--image`` applied (``--image`` sets every node),
        and ``--registry`` / ``--registry-mirror`` added to the config's.

        The overriding values are checked first so an error names the override, not the file.
        """
        check = _Validator(None)
        nodes = self.nodes
        if name is not None:
            check.name(name, self.nodes)
        if image is not None:
            check.image(image, "image")
            nodes = [replace(node, image=image) for node in self.nodes]
        return replace(
            self,
            name=self.name if name is None else name,
            nodes=nodes,
            registries=list(dict.fromkeys([*self.registries, *(registries or [])])),
            registry_mirrors={**self.registry_mirrors, **(registry_mirrors or {})},
        )

    def node_names(self) -> list[str]:
        """Container names of the nodes, in order: name-control-plane, name-control-plane2, ..."""
        return _node_names(self.name, self.nodes)


def _node_names(cluster: str, nodes: list[NodeConfig]) -> list[str]:
    counts: dict[str, int] = {}
    names = []
    for node in nodes:
        counts[node.role] = counts.get(node.role, 0) + 1
        n = counts[node.role]
        names.append(f"{cluster}-{node.role}{'' if n == 1 else n}")
    return names


def default_config(
    name: str = DEFAULT_NAME,
    *,
    workers: int = 0,
    control_planes: int = 1,
    image: str | None = None,
) -> ClusterConfig:
    """The config used when no file is given: ``control_planes`` + ``workers`` nodes."""
    if workers < 0:
        raise ConfigError(f"workers: must be 0 or more, got {workers}")
    if control_planes < 1:
        raise ConfigError(
            f"control planes: at least one control-plane node is required, got {control_planes}"
        )
    check = _Validator(None)
    check.name(name, [])
    if image is not None:
        check.image(image, "image")
    nodes = [NodeConfig(role="control-plane", image=image) for _ in range(control_planes)]
    nodes += [NodeConfig(role="worker", image=image) for _ in range(workers)]
    return ClusterConfig(name=name, nodes=nodes)


_Net = ipaddress.IPv4Network | ipaddress.IPv6Network
_Addr = ipaddress.IPv4Address | ipaddress.IPv6Address


class _Validator:
    """The rules a resolved config must satisfy; each failure is one ConfigError line."""

    def __init__(self, where: str | None) -> None:
        self.where = where

    def fail(self, path: str, message: str) -> NoReturn:
        raise ConfigError(format_error(self.where, path, message))

    # --- the whole cluster ------------------------------------------------------------
    def registries(self, cfg: ClusterConfig) -> None:
        for i, name in enumerate(cfg.registries):
            if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,62}", name):
                self.fail(render_path(("registries", i)), f"{name!r} is not a registry's name")
        if cfg.proxy is not None:
            for key, url in (("httpProxy", cfg.proxy.http), ("httpsProxy", cfg.proxy.https)):
                if url:
                    try:
                        check_mirror_url(url, "value")
                    except ConfigError as exc:
                        self.fail(f"proxy.{key}", str(exc))
        for upstream, url in cfg.registry_mirrors.items():
            path = render_path(("registryMirrors", upstream))
            try:
                check_registry_name(upstream, "key")
                check_mirror_url(url, "value")
            except ConfigError as exc:
                self.fail(path, str(exc))

    def cluster(self, cfg: ClusterConfig) -> None:
        self.name(cfg.name, cfg.nodes)
        if not any(node.role == "control-plane" for node in cfg.nodes):
            self.fail("nodes", "at least one control-plane node is required")
        for i, node in enumerate(cfg.nodes):
            self.node(node, ("nodes", i), cfg.networking.ip_family)
        self.runtimes(cfg)
        self.networking(cfg.networking)
        self.host_ports(cfg)
        self.patches(cfg.kubeadm_config_patches, cfg.kubeadm_config_patches_json6902, ())
        for i, text in enumerate(cfg.containerd_config_patches):
            self.toml(text, render_path(("containerdConfigPatches", i)))
        for i, text in enumerate(cfg.containerd_config_patches_json6902):
            self.json6902(text, render_path(("containerdConfigPatchesJSON6902", i)))
        for i, cap in enumerate(cfg.drop_capabilities):
            path = render_path(("dropCapabilities", i))
            if cap not in _KNOWN_CAPABILITIES:
                self.fail(path, f'unknown capability "{cap}"')
            if cap in _REQUIRED_CAPABILITIES:
                self.fail(path, f"node containers cannot work without {cap}; it cannot be dropped")
        if cfg.drop_capabilities:
            # Nodes run privileged, and Podman (4.x) and Docker give a privileged container
            # every capability the host has whatever --cap-drop says: accepting the key would
            # promise a drop that does not happen.
            self.fail(
                "dropCapabilities",
                "not supported yet: node containers run privileged and engines ignore "
                "--cap-drop there; remove the key",
            )
        self.registries(cfg)
        if cfg.ulimits is not None:
            for key in ("nofile", "nproc"):
                value = getattr(cfg.ulimits, key)
                if value is not None and value < 1:
                    self.fail(f"ulimits.{key}", f"must be 1 or more, or null; got {value}")
        if cfg.image_build is not None:
            self.image_build(cfg.image_build)
            # create does not build images: the key would be silently ignored.
            self.fail(
                "imageBuild",
                "not supported yet: build the node image with `nestkube build node-image` and "
                "set nodes[].image (or create cluster --image)",
            )

    def name(self, name: str, nodes: list[NodeConfig]) -> None:
        if not _NAME_RE.match(name):
            self.fail(
                "name",
                f'"{name}" is not a valid cluster name: use lowercase letters, digits and "-", '
                "starting and ending with a letter or digit",
            )
        containers = _node_names(name, nodes or [NodeConfig()])
        if loadbalancer.needed(sum(node.role == "control-plane" for node in nodes)):
            containers.append(loadbalancer.load_balancer_name(name))
        longest = max(containers, key=len)
        if len(longest) > NODE_NAME_MAX:
            room = NODE_NAME_MAX - (len(longest) - len(name))
            self.fail(
                "name",
                f'"{name}" is too long: node name "{longest}" would have {len(longest)} '
                f"characters and the limit is {NODE_NAME_MAX}; use at most {room} characters",
            )

    def image(self, image: str, path: str) -> None:
        if not image or any(c.isspace() for c in image):
            self.fail(path, f'"{image}" is not an image reference')

    def runtimes(self, cfg: ClusterConfig) -> None:
        """One runtime per cluster; CRI-O only where a CRI-O of the Kubernetes minor exists."""
        from nestkube.kit.releases import CRIO, crio_version_for

        first = cfg.nodes[0].runtime if cfg.nodes else "containerd"
        for i, node in enumerate(cfg.nodes):
            if node.runtime != first:
                self.fail(
                    render_path(("nodes", i, "runtime")),
                    f"{node.runtime}, but nodes[0] runs {first}: every node of a cluster runs "
                    "one runtime (their Kubernetes releases differ)",
                )
        version = cfg.image_build.kubernetes_version if cfg.image_build else None
        if first == "cri-o" and version and crio_version_for(version) is None:
            minors = ", ".join(f"v1.{m}" for m in sorted(CRIO))
            self.fail(
                "nodes[0].runtime",
                f"cri-o needs a CRI-O of Kubernetes {version}'s minor; the Go module proxy "
                f"serves a buildable CRI-O only for {minors}",
            )

    # --- nodes ------------------------------------------------------------------------
    def node(self, node: NodeConfig, at: tuple[str | int, ...], ip_family: IPFamily) -> None:
        if node.image is not None:
            self.image(node.image, render_path((*at, "image")))
        for key, value in node.labels.items():
            self.label(key, value, render_path((*at, "labels", key)))
        for i, mount in enumerate(node.extra_mounts):
            here = (*at, "extraMounts", i)
            for key, value in (
                ("hostPath", mount.host_path),
                ("containerPath", mount.container_path),
            ):
                if not value:
                    self.fail(render_path((*here, key)), "must not be empty")
            if not Path(mount.host_path).is_absolute():
                self.fail(render_path((*here, "hostPath")), f'"{mount.host_path}" must be absolute')
            if not PurePosixPath(mount.container_path).is_absolute():
                self.fail(
                    render_path((*here, "containerPath")),
                    f'"{mount.container_path}" must be an absolute path',
                )
        for i, pm in enumerate(node.extra_port_mappings):
            here = (*at, "extraPortMappings", i)
            if not 1 <= pm.container_port <= 65535:
                self.fail(
                    render_path((*here, "containerPort")),
                    f"must be between 1 and 65535, got {pm.container_port}",
                )
            self.host_port(pm.host_port, render_path((*here, "hostPort")))
            self.address(pm.listen_address, render_path((*here, "listenAddress")))
        self.patches(node.kubeadm_config_patches, node.kubeadm_config_patches_json6902, at)

    def label(self, key: str, value: str, path: str) -> None:
        prefix, _, name = key.rpartition("/")
        if (
            not _LABEL_NAME_RE.match(name)
            or len(name) > 63
            or (prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN_RE.match(prefix)))
            or key.count("/") > 1
        ):
            self.fail(
                path,
                f'"{key}" is not a valid label key: a name of up to 63 letters, digits, "-", '
                '"_" and ".", optionally after a DNS subdomain prefix and "/"',
            )
        if value and (len(value) > 63 or not _LABEL_NAME_RE.match(value)):
            self.fail(
                path,
                f'"{value}" is not a valid label value: up to 63 letters, digits, "-", "_" and '
                '".", starting and ending with a letter or digit',
            )

    def host_port(self, port: int, path: str) -> None:
        if not 0 <= port <= 65535:
            self.fail(path, f"must be 1 to 65535, or 0 or -1 for a random port; got {port}")

    def address(self, address: str, path: str) -> _Addr:
        try:
            return ipaddress.ip_address(address)
        except ValueError:
            self.fail(path, f'"{address}" is not an IP address')

    def host_ports(self, cfg: ClusterConfig) -> None:
        """No two fixed host ports may bind the same port, protocol and address."""
        used: list[tuple[str, _Addr, int, str]] = []
        net = cfg.networking
        if net.api_server_port:
            api_address = ipaddress.ip_address(net.api_server_address)
            used.append(("networking.apiServerPort", api_address, net.api_server_port, "TCP"))
        for i, node in enumerate(cfg.nodes):
            for j, pm in enumerate(node.extra_port_mappings):
                if pm.host_port == 0:
                    continue
                path = render_path(("nodes", i, "extraPortMappings", j))
                address = ipaddress.ip_address(pm.listen_address)
                for other, other_address, port, protocol in used:
                    if (
                        port == pm.host_port
                        and protocol == pm.protocol
                        and _addresses_clash(address, other_address)
                    ):
                        also = "" if other_address == address else f" on {other_address}"
                        self.fail(
                            path,
                            f"host port {port}/{protocol} on {address} is already used by "
                            f"{other}{also}",
                        )
                used.append((path, address, pm.host_port, pm.protocol))

    # --- networking -------------------------------------------------------------------
    def networking(self, net: Networking) -> None:
        if net.ip_family != "ipv4":
            # The pod network (bridge CNI, routes, masquerading) and kubeadm's config are
            # IPv4 only, so such a cluster would come up without a working IPv6 pod network.
            self.fail(
                "networking.ipFamily",
                f"{net.ip_family} is not supported yet: the pod network is IPv4 only; use ipv4",
            )
        self.address(net.api_server_address, "networking.apiServerAddress")
        if not 0 <= net.api_server_port <= 65535:
            self.fail(
                "networking.apiServerPort",
                f"must be 1 to 65535, or 0 or -1 for a random port; got {net.api_server_port}",
            )
        pods = self.subnets(net.pod_subnet, net.ip_family, "networking.podSubnet")
        services = self.subnets(net.service_subnet, net.ip_family, "networking.serviceSubnet")
        for pod in pods:
            for service in services:
                if pod.version == service.version and pod.overlaps(service):
                    self.fail(
                        "networking.serviceSubnet",
                        f"{service} overlaps networking.podSubnet {pod}",
                    )
        for i, domain in enumerate(net.dns_search or []):
            if not domain or any(c.isspace() for c in domain):
                path = render_path(("networking", "dnsSearch", i))
                self.fail(path, f'"{domain}" is not a domain')

    def subnets(self, value: str, ip_family: IPFamily, path: str) -> list[_Net]:
        nets: list[_Net] = []
        for part in (p.strip() for p in value.split(",")):
            try:
                if "/" not in part:
                    raise ValueError(part)
                nets.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                self.fail(path, f'"{part}" is not a CIDR such as 10.244.0.0/16')
        if ip_family == "dual":
            if len(nets) != 2 or {n.version for n in nets} != {4, 6}:
                self.fail(
                    path,
                    "ipFamily dual needs one IPv4 and one IPv6 CIDR, comma-separated; "
                    f'got "{value}"',
                )
            return nets
        if len(nets) != 1:
            self.fail(path, f'ipFamily {ip_family} needs exactly one CIDR; got "{value}"')
        want = 4 if ip_family == "ipv4" else 6
        if nets[0].version != want:
            self.fail(path, f'"{value}" is IPv{nets[0].version} but ipFamily is {ip_family}')
        return nets

    # --- patches ----------------------------------------------------------------------
    def patches(
        self, merge: list[str], json6902: list[PatchJSON6902], at: tuple[str | int, ...]
    ) -> None:
        for i, text in enumerate(merge):
            path = render_path((*at, "kubeadmConfigPatches", i))
            docs = self.yaml(text, path, all_docs=True)
            if not docs or not all(isinstance(d, dict) for d in docs):
                self.fail(path, "must be a YAML mapping (a partial kubeadm config object)")
        for i, patch in enumerate(json6902):
            here = (*at, "kubeadmConfigPatchesJSON6902", i)
            if not patch.version:
                self.fail(render_path((*here, "version")), "must not be empty")
            if not patch.kind:
                self.fail(render_path((*here, "kind")), "must not be empty")
            self.json6902(patch.patch, render_path((*here, "patch")))

    def json6902(self, text: str, path: str) -> None:
        ops = self.yaml(text, path)
        if not isinstance(ops, list) or not all(
            isinstance(op, dict) and "op" in op and "path" in op for op in ops
        ):
            self.fail(path, "must be a list of JSON patch operations, each with op and path")

    def yaml(self, text: str, path: str, *, all_docs: bool = False) -> Any:
        try:
            if all_docs:
                return [d for d in yaml.safe_load_all(text) if d is not None]
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            self.fail(path, f"invalid YAML: {yaml_problem(exc)}")

    def toml(self, text: str, path: str) -> None:
        try:
            tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            self.fail(path, f"invalid TOML: {exc}")

    # --- nestkube's additions ---------------------------------------------------------
    def image_build(self, build: ImageBuild) -> None:
        sources = {
            "kubernetesVersion": build.kubernetes_version,
            "kubernetesBinaries": build.kubernetes_binaries,
            "kubernetesSource": build.kubernetes_source,
        }
        given = [key for key, value in sources.items() if value]
        if len(given) != 1:
            got = f"got {' and '.join(given)}" if given else "got none"
            self.fail(
                "imageBuild",
                "set exactly one of kubernetesVersion, kubernetesBinaries, kubernetesSource "
                f"({got})",
            )
        version = build.kubernetes_version
        if version is not None and not _K8S_VERSION_RE.match(version):
            self.fail(
                "imageBuild.kubernetesVersion",
                f'"{version}" is not a Kubernetes release such as v1.31.2',
            )
        for key, value in (
            ("kubernetesBinaries", build.kubernetes_binaries),
            ("kubernetesSource", build.kubernetes_source),
        ):
            if value is not None and not Path(value).is_absolute():
                self.fail(f"imageBuild.{key}", f'"{value}" must be absolute')
        if build.base_image is not None:
            self.image(build.base_image, "imageBuild.baseImage")


def _addresses_clash(a: _Addr, b: _Addr) -> bool:
    # A wildcard bind holds the port on every address of its family.
    return a.version == b.version and (a == b or a.is_unspecified or b.is_unspecified)
