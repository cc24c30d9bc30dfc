"""Local registries: ``nestkube registry create|delete|list``.

A registry is one container of the distribution registry (:mod:`nestkube.images.registry_image`)
labelled ``io.nestkube.registry=<name>``, published on the host (``127.0.0.1:5001`` unless
asked otherwise), its storage in the named volume ``<name>-data`` that is removed with it. It
starts on the engine's default network; each cluster that uses it connects it to the cluster's
network at create (:mod:`nestkube.create.registries`) and disconnects it when deleted, so one
registry serves several clusters. Nodes reach it as ``http://<name>:5000``.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

from nestkube.errors import ClusterError, ConfigError
from nestkube.images.registry_image import STORAGE, ensure_registry_image
from nestkube.kubeadm.registries import REGISTRY_PORT, check_mirror_url
from nestkube.providers.base import (
    LABEL_REGISTRY,
    LABEL_REGISTRY_ADDRESS,
    LABEL_REGISTRY_PORT,
    PortMapping,
    Provider,
    Service,
    ServiceSpec,
)
from nestkube.status import SILENT, Status

DEFAULT_REGISTRY = "nestkube-registry"
DEFAULT_PORT = 5001
DEFAULT_ADDRESS = "127.0.0.1"
# Cluster networks are named nestkube-<cluster> (create.plan).
CLUSTER_NETWORK_PREFIX = "nestkube-"
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")


@dataclass(frozen=True)
class Registry:
    name: str
    address: str
    port: int
    state: str
    networks: tuple[str, ...]

    @property
    def host(self) -> str:
        """Where the host pushes: ``localhost:5001`` (the name the nodes resolve it by too)."""
        address = "localhost" if self.address in ("127.0.0.1", "0.0.0.0", "") else self.address
        return f"{address}:{self.port}"

    @property
    def endpoint(self) -> str:
        """Where nodes on a network it joined reach it."""
        return f"http://{self.name}:{REGISTRY_PORT}"

    @property
    def clusters(self) -> tuple[str, ...]:
        return tuple(
            n.removeprefix(CLUSTER_NETWORK_PREFIX)
            for n in self.networks
            if n.startswith(CLUSTER_NETWORK_PREFIX)
        )


def volume_name(name: str) -> str:
    return f"{name}-data"


def _registry(service: Service) -> Registry:
    labels = service.labels
    port = labels.get(LABEL_REGISTRY_PORT, "")
    return Registry(
        name=labels.get(LABEL_REGISTRY) or service.name,
        address=labels.get(LABEL_REGISTRY_ADDRESS, DEFAULT_ADDRESS),
        port=int(port) if port.isdigit() else 0,
        state=service.state,
        networks=service.networks,
    )


def list_registries(provider: Provider) -> list[Registry]:
    return [_registry(s) for s in provider.services(LABEL_REGISTRY)]


def find_registry(provider: Provider, name: str) -> Registry | None:
    return next((r for r in list_registries(provider) if r.name == name), None)


def check_name(name: str) -> str:
    if not _NAME_RE.fullmatch(name):
        raise ConfigError(
            f"invalid registry name {name!r}: use lowercase letters, digits, '.', '_' and '-'"
        )
    return name


def _check_port_free(address: str, port: int) -> None:
    if not 1 <= port <= 65535:
        raise ConfigError(f"invalid registry port {port}: expected 1-65535")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address, port))
        except OSError as exc:
            raise ClusterError(
                f"cannot publish the registry on {address}:{port}: {exc.strerror or exc} "
                "(choose another with --port)"
            ) from None


def create_registry(
    provider: Provider,
    name: str = DEFAULT_REGISTRY,
    *,
    port: int = DEFAULT_PORT,
    address: str = DEFAULT_ADDRESS,
    proxy_remote_url: str | None = None,
    status: Status = SILENT,
) -> Registry:
    """Run a registry; every check is made before anything is, and a failed run removes what
    it made (the volume)."""
    check_name(name)
    if proxy_remote_url is not None:
        proxy_remote_url = check_mirror_url(proxy_remote_url, "--proxy-remote-url")
    if provider.container_exists(name):
        raise ClusterError(f"a container named {name!r} exists already (registry or not)")
    _check_port_free(address, port)
    image = ensure_registry_image(provider, status)
    labels = {
        LABEL_REGISTRY: name,
        LABEL_REGISTRY_ADDRESS: address,
        LABEL_REGISTRY_PORT: str(port),
    }
    env = {"REGISTRY_PROXY_REMOTEURL": proxy_remote_url} if proxy_remote_url else {}
    spec = ServiceSpec(
        name=name,
        image=image.image,
        labels=labels,
        port_mappings=(PortMapping(REGISTRY_PORT, port, address),),
        volumes=((volume_name(name), STORAGE),),
        env=env,
    )
    with status.step(f"Starting registry {name!r} on {address}:{port}"):
        try:
            provider.run_service(spec)
        except BaseException:
            provider.remove_service(Service(name), [volume_name(name)])
            raise
    return Registry(name, address, port, "running", ())


def delete_registry(provider: Provider, name: str, *, status: Status = SILENT) -> bool:
    """Remove the registry, its volume, and the networks of deleted clusters it kept alive.
    Deleting a registry that does not exist succeeds (False)."""
    found = next((s for s in provider.services(LABEL_REGISTRY) if _registry(s).name == name), None)
    if found is None:
        return False
    with status.step(f"Deleting registry {name!r}"):
        provider.remove_service(found, [volume_name(name)])
        for network in found.networks:
            if network.startswith(CLUSTER_NETWORK_PREFIX):
                provider.delete_network_if_unused(network)
    return True


def registry_logs(provider: Provider, name: str) -> str:
    if find_registry(provider, name) is None:
        raise ClusterError(f"no registry named {name!r}")
    return provider.container_logs(name)
