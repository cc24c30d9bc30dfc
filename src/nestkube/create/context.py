"""State shared by the create steps: what was asked, what exists so far, what was learned."""

from __future__ import annotations

import secrets
import string
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field

from nestkube.config import ClusterConfig
from nestkube.providers.base import NodeSpec, Provider
from nestkube.status import Status


def bootstrap_token() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return (
        "".join(secrets.choice(alphabet) for _ in range(6))
        + "."
        + "".join(secrets.choice(alphabet) for _ in range(16))
    )


@dataclass
class CreateContext:
    config: ClusterConfig
    provider: Provider
    status: Status
    kubeconfig: str | None = None
    wait_seconds: float = 300.0
    retain: bool = False
    network: str = ""
    kubernetes_version: str = ""
    missing_images: tuple[str, ...] = ()
    preloaded_images: tuple[str, ...] = ()
    # From the node image's labels: images tagged with their own version rather than
    # kubeadm's (component -> tag).
    image_tags: dict[str, str] = field(default_factory=dict)
    # Node name -> the runtime its image runs ("containerd", "cri-o"), from the image's label.
    node_runtimes: dict[str, str] = field(default_factory=dict)
    # Set when some node's resolver is on its loopback (see kubeadm.node_dns).
    pod_resolv_conf: str | None = None
    specs: list[NodeSpec] = field(default_factory=list)
    node_ips: dict[str, str] = field(default_factory=dict)
    pod_cidrs: dict[str, str] = field(default_factory=dict)
    token: str = field(default_factory=bootstrap_token)
    # With several control planes: HAProxy in front of them (see nodeops.loadbalancer), and
    # the key `kubeadm init --upload-certs` encrypts their shared certificates with.
    load_balancer: NodeSpec | None = None
    certificate_key: str = field(default_factory=lambda: secrets.token_hex(32))
    # The joins started while `kubeadm init` still runs (see create.joins).
    joining: Future[None] | None = None
    # The workers made and set up beside the control plane (workers.prepare_workers): each
    # worker's resolv.conf; how long it took; set to stop it when the create fails.
    workers_prepared: Future[dict[str, str]] | None = None
    workers_prepared_seconds: float = 0.0
    cancelled: threading.Event = field(default_factory=threading.Event)
    # The objects create applies through the API (objects.apply_cluster_objects): the
    # agents' kubeconfig. Started by the joins or the step after init, whichever is first.
    cluster_objects: Future[str] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    kubeconfig_written: bool = False
    network_created: bool = False
    # Set before the first node is created: from then on cleanup removes this run's nodes.
    provisioning_started: bool = False

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def control_planes(self) -> list[NodeSpec]:
        return [s for s in self.specs if s.role == "control-plane"]

    @property
    def workers(self) -> list[NodeSpec]:
        return [s for s in self.specs if s.role == "worker"]

    @property
    def bootstrap_node(self) -> str:
        return self.control_planes[0].name

    @property
    def containers(self) -> list[NodeSpec]:
        """Every container this create makes: the nodes and the load balancer."""
        return [*self.specs, *([self.load_balancer] if self.load_balancer else [])]
