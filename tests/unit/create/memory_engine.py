"""An in-memory engine for create-pipeline tests: containers, volumes and networks in dicts.

Shared by the pipeline tests of this folder (imported as ``from memory_engine import ...``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fakes_engine import UnusedEngine

from nestkube._exec import Result
from nestkube.config import default_config
from nestkube.create import plan, provision, workers
from nestkube.create.context import CreateContext
from nestkube.images.node_image import LABEL_K8S_VERSION
from nestkube.providers.base import LABEL_CLUSTER, Node, NodeSpec, Service
from nestkube.status import SILENT, Status

ADMIN = """\
apiVersion: v1
kind: Config
clusters:
- name: kubernetes
  cluster: {server: "https://x:6443", certificate-authority-data: Q0E=}
users:
- name: kubernetes-admin
  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}
contexts:
- name: kubernetes-admin@kubernetes
  context: {cluster: kubernetes, user: kubernetes-admin}
current-context: kubernetes-admin@kubernetes
"""


class Warnings(Status):
    """A quiet status that keeps what create warned of."""

    def __init__(self) -> None:
        super().__init__(quiet=True)
        self.said: list[str] = []

    def warn(self, message: str) -> None:
        self.said.append(message)


class MemoryEngine(UnusedEngine):
    """Just enough of a provider to hold containers, volumes and networks in memory."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: dict[str, Node] = {}
        self.volumes: dict[str, str] = {}
        self.networks: set[str] = set()

    def create_node(self, spec: NodeSpec) -> Node:
        node = Node(spec.name, spec.role, spec.cluster, "running", {LABEL_CLUSTER: spec.cluster})
        self.volumes[f"{spec.name}-var"] = spec.cluster
        self.nodes[spec.name] = node
        return node

    def node_ip(self, node: str, network: str) -> str:
        return f"10.0.0.{sorted(self.nodes).index(node) + 2}"

    def list_clusters(self) -> list[str]:
        return sorted({n.cluster for n in self.nodes.values()})

    def list_nodes(self, cluster: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.cluster == cluster]

    def delete_nodes(self, nodes: Sequence[Node]) -> None:
        for node in nodes:
            self.nodes.pop(node.name, None)

    def cluster_volumes(self, cluster: str) -> list[str]:
        return [v for v, c in self.volumes.items() if c == cluster]

    def remove_volume(self, name: str) -> None:
        self.volumes.pop(name, None)

    def volume_name(self, node: str) -> str:
        return f"{node}-var"

    def network_exists(self, name: str) -> bool:
        return name in self.networks

    def services(self, label: str) -> list[Service]:
        return []

    def ensure_network(self, name: str, cluster: str) -> None:
        self.networks.add(name)

    def delete_network_if_unused(self, name: str) -> None:
        self.networks.discard(name)

    def fixed_addresses(self, network: str, count: int) -> list[str]:
        return []

    def image_exists(self, image: str) -> bool:
        return True

    def image_labels(self, image: str) -> dict[str, str]:
        return {LABEL_K8S_VERSION: "v1.20.2"}

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
        """Every command in a node succeeds; systemd has booted."""
        return Result(list(args), 0, "running\n", "")


def provision_all(ctx: CreateContext) -> None:
    """provision_nodes, and the workers it prepares beside made and set up (the joins wait
    for them too), so the steps after it find every node."""
    provision.provision_nodes(ctx)
    workers.prepared_workers(ctx)


def context(
    engine: MemoryEngine, name: str, kubeconfig_path: Path, *, retain: bool = False
) -> CreateContext:
    ctx = CreateContext(
        config=default_config(name, workers=1),
        provider=engine,
        status=SILENT,
        kubeconfig=str(kubeconfig_path),
        retain=retain,
    )
    plan.plan_nodes(ctx, "localhost/nestkube/node:v1.20.2")
    return ctx
