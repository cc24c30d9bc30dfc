"""State shared by the create steps: what was asked, the plan, what was learned, what was made.

kind's action context holds the config, the provider, the status and a node cache; nestkube's
has, besides what was asked:

- :class:`CreatePlan`, the containers to make: an immutable value :func:`create.plan.plan_nodes`
  makes, replaced (never changed) when the network pins the addresses and when the load
  balancer's image is known;
- what the steps learn on the way (the node image's facts, the nodes' addresses, the pods'
  resolver) and the handles of the background tasks (see :func:`create.pipeline.background`);
- :class:`Made`, the progress record cleanup reads: what this run has made so far.
"""

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


@dataclass(frozen=True)
class CreatePlan:
    """The containers a create makes, decided before any is: the network, the nodes (and
    their pod CIDRs), the load balancer with several control planes."""

    network: str = ""
    specs: tuple[NodeSpec, ...] = ()
    # Node name -> its pod CIDR, with nestkube's pod network (see kubeadm.pod_cidrs).
    pod_cidrs: dict[str, str] = field(default_factory=dict)
    # With several control planes: HAProxy in front of them (see nodeops.loadbalancer).
    load_balancer: NodeSpec | None = None


@dataclass
class Made:
    """What this create has made so far: what a failed create's cleanup removes."""

    # Set before the engine makes it: an interrupt while it does must still remove it.
    network: bool = False
    # Set before the first node is created: from then on cleanup removes this run's nodes.
    nodes: bool = False
    kubeconfig: bool = False


@dataclass
class CreateContext:
    config: ClusterConfig
    provider: Provider
    status: Status
    kubeconfig: str | None = None
    wait_seconds: float = 300.0
    retain: bool = False
    plan: CreatePlan = field(default_factory=CreatePlan)
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
    node_ips: dict[str, str] = field(default_factory=dict)
    # Registry name the nodes pull as ("localhost:5001") -> the attached registry's endpoint.
    registry_hosts: dict[str, str] = field(default_factory=dict)
    # Attached registry's name -> its address on the cluster's network.
    registry_addresses: dict[str, str] = field(default_factory=dict)
    token: str = field(default_factory=bootstrap_token)
    # With several control planes: the key `kubeadm init --upload-certs` encrypts their
    # shared certificates with.
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
    # MetalLB and its address pool applied beside the last steps (create.service_lb): the
    # pool's addresses, or None when LoadBalancer Services get none.
    service_lb: Future[str | None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    made: Made = field(default_factory=Made)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def network(self) -> str:
        return self.plan.network

    @property
    def specs(self) -> tuple[NodeSpec, ...]:
        return self.plan.specs

    @property
    def pod_cidrs(self) -> dict[str, str]:
        return self.plan.pod_cidrs

    @property
    def load_balancer(self) -> NodeSpec | None:
        return self.plan.load_balancer

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
