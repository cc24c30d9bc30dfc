"""Bases for unit-test engines: commands answered in Python, never run.

:class:`UnusedEngine` is the whole provider interface with nothing expected of it (in-memory
engines build on it); :class:`AnsweringProvider` is a real provider whose node commands a
test answers. Shared by the tests of this folder and its subfolders (imported as
``from fakes_engine import ...``: tests/unit is not a package; pytest's ``pythonpath`` and
mypy both put this folder on the import path).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO

from nestkube._exec import Result
from nestkube.host import HostFacts
from nestkube.providers.base import (
    Mount,
    Node,
    NodeSpec,
    Provider,
    ProviderInfo,
    ProviderName,
    Service,
    ServiceSpec,
)
from nestkube.providers.podman import PodmanProvider


class AnsweringProvider(PodmanProvider):
    """A Podman provider whose ``exec`` hands ``(node, argv)`` to ``answer`` (flags ignored)."""

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
        return self.answer(node, list(args))

    def answer(self, node: str, argv: list[str]) -> Result:
        """What the command ``argv`` in ``node`` returns (or raises); subclasses say."""
        raise NotImplementedError


class UnusedEngine:
    """Every :class:`Provider` method, each failing the test if called: a fake engine
    subclasses this and answers only what its test expects to be asked."""

    name: ProviderName = "podman"

    def __init__(self, info: ProviderInfo | None = None) -> None:
        self.info = info or ProviderInfo("podman", "podman", "4.3.1", False, HostFacts())

    def _unexpected(self, what: str) -> AssertionError:
        return AssertionError(f"{type(self).__name__}: {what} was not expected in this test")

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
        raise self._unexpected("exec")

    def engine_info(self) -> str:
        raise self._unexpected("engine_info")

    # --- nodes ------------------------------------------------------------------------
    def node_run_args(self, spec: NodeSpec) -> list[str]:
        raise self._unexpected("node_run_args")

    def create_node(self, spec: NodeSpec) -> Node:
        raise self._unexpected("create_node")

    def list_clusters(self) -> list[str]:
        raise self._unexpected("list_clusters")

    def cluster_nodes(self) -> dict[str, list[Node]]:
        raise self._unexpected("cluster_nodes")

    def list_nodes(self, cluster: str) -> list[Node]:
        raise self._unexpected("list_nodes")

    def delete_nodes(self, nodes: Sequence[Node]) -> None:
        raise self._unexpected("delete_nodes")

    def cluster_volumes(self, cluster: str) -> list[str]:
        raise self._unexpected("cluster_volumes")

    def remove_volume(self, name: str) -> None:
        raise self._unexpected("remove_volume")

    def stop_nodes(self, nodes: Sequence[Node]) -> None:
        raise self._unexpected("stop_nodes")

    def start_node(self, node: Node) -> None:
        raise self._unexpected("start_node")

    def fixed_addresses(self, network: str, count: int) -> list[str]:
        raise self._unexpected("fixed_addresses")

    def volume_name(self, node: str) -> str:
        raise self._unexpected("volume_name")

    def exec_stream_in(self, node: str, args: Sequence[str], source: IO[bytes]) -> Result:
        raise self._unexpected("exec_stream_in")

    def node_ip(self, node: str, network: str) -> str:
        raise self._unexpected("node_ip")

    def api_server_endpoint(self, node: Node) -> tuple[str, int]:
        raise self._unexpected("api_server_endpoint")

    def copy_to(self, node: str, src: Path, dest: str) -> None:
        raise self._unexpected("copy_to")

    def inspect_node(self, node: str) -> str:
        raise self._unexpected("inspect_node")

    def ensure_network(self, name: str, cluster: str) -> None:
        raise self._unexpected("ensure_network")

    def delete_network_if_unused(self, name: str) -> None:
        raise self._unexpected("delete_network_if_unused")

    def network_exists(self, name: str) -> bool:
        raise self._unexpected("network_exists")

    def network_subnets(self, name: str) -> list[str]:
        raise self._unexpected("network_subnets")

    def record_removed_node(self, cluster: str, node: str) -> None:
        raise self._unexpected("record_removed_node")

    def removed_nodes(self, cluster: str) -> list[str]:
        return []

    # --- images and builds ------------------------------------------------------------
    def image_exists(self, image: str) -> bool:
        raise self._unexpected("image_exists")

    def image_id(self, image: str) -> str | None:
        raise self._unexpected("image_id")

    def image_labels(self, image: str) -> dict[str, str]:
        raise self._unexpected("image_labels")

    def image_size(self, image: str) -> int | None:
        raise self._unexpected("image_size")

    def pull_image(self, image: str, timeout: float | None = None) -> None:
        raise self._unexpected("pull_image")

    def save_image(self, images: Sequence[str], dest: IO[bytes]) -> None:
        raise self._unexpected("save_image")

    def load_image_archive(self, path: Path) -> None:
        raise self._unexpected("load_image_archive")

    def import_rootfs(self, tarball: Path, image: str) -> None:
        raise self._unexpected("import_rootfs")

    def remove_image(self, image: str) -> None:
        raise self._unexpected("remove_image")

    def remove_unused_image(self, image: str) -> None:
        raise self._unexpected("remove_unused_image")

    def run_build_container(self, image: str, name: str, mounts: Sequence[Mount]) -> None:
        raise self._unexpected("run_build_container")

    def commit(self, container: str, image: str, changes: Sequence[str]) -> None:
        raise self._unexpected("commit")

    def remove_container(self, name: str) -> None:
        raise self._unexpected("remove_container")

    # --- helper containers ------------------------------------------------------------
    def container_exists(self, name: str) -> bool:
        raise self._unexpected("container_exists")

    def run_service(self, spec: ServiceSpec) -> None:
        raise self._unexpected("run_service")

    def services(self, label: str) -> list[Service]:
        raise self._unexpected("services")

    def remove_service(self, service: Service, volumes: Sequence[str]) -> None:
        raise self._unexpected("remove_service")

    def connect_network(self, network: str, container: str, ip: str | None = None) -> None:
        raise self._unexpected("connect_network")

    def disconnect_network(self, network: str, container: str) -> None:
        raise self._unexpected("disconnect_network")

    def container_logs(self, name: str) -> str:
        raise self._unexpected("container_logs")


def _is_a_provider(engine: UnusedEngine) -> Provider:
    # mypy checks here that the base of every fake engine is the whole interface.
    return engine


def unwrapped(argv: list[str]) -> list[str]:
    """The command a `sh -c SCRIPT sh ARG...` (or bash) wrapper runs as "$@"; else ``argv``."""
    if len(argv) > 3 and argv[0] in ("sh", "bash") and argv[1] == "-c" and argv[3] == argv[0]:
        return argv[4:]
    return argv


CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def join_material_answer(argv: list[str]) -> Result | None:
    """The answer to create's join-material exec (`timeout N sh -c <script>` reading init's
    output): the CA, then a kubelet kubeconfig for each worker the script signs one for; None
    for any other command."""
    from nestkube.create import joins

    if argv[:1] != ["timeout"] or joins.INIT_OUTPUT not in argv[-1]:
        return None
    signed = argv[-1].count("kubeadm kubeconfig user")
    conf = "users:\n- user:\n    client-certificate-data: x\n"
    parts = [CA_PEM, *[conf] * signed]
    return Result(argv, 0, "".join(p + joins.SEPARATOR + "\n" for p in parts), "")
