"""The external load balancer in front of several control planes.

With two or more control planes, clients (the host's kubeconfig, the kubelets, kubeadm join)
reach the API servers through one HAProxy container, ``<cluster>-external-load-balancer``. It
carries the cluster's labels like a node, so listing, `delete`, stop/start and a failed
create's cleanup find it, but it runs no kubelet: everything that works on Kubernetes nodes
takes :func:`kubernetes_nodes`. Its configuration lists every control plane by address and is
written again whenever those change (create, `start cluster`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, Protocol, TypeVar

from nestkube.providers.base import NodeRole, NodeSpec, Provider
from nestkube.providers.timeouts import CHANGE, engine_timeout

ROLE: Final[NodeRole] = "external-load-balancer"
# HAProxy reads this file (see images.lb_image); create and start replace it and reload.
CONFIG_PATH = "/etc/haproxy/haproxy.cfg"

# Validate, swap in, and have the master process (PID 1) reload: a file HAProxy refuses is
# never put in place, and the running workers keep serving until the new ones start.
_REPLACE = 'cat > "$1.new" && haproxy -c -q -f "$1.new" && mv "$1.new" "$1" && kill -USR2 1'


class _Named(Protocol):
    """Anything with a name and a role: a NodeSpec before create, a Node after."""

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> NodeRole: ...


N = TypeVar("N", bound=_Named)


def load_balancer_name(cluster: str) -> str:
    return f"{cluster}-external-load-balancer"


def needed(control_planes: int) -> bool:
    """One control plane is reached directly; more need one address in front of them."""
    return control_planes >= 2


def plan(cluster: str, network: str, image: str, like: NodeSpec, api_port: int) -> NodeSpec:
    """The load balancer's container: the cluster's API port on the host, ``like``'s rlimits."""
    return NodeSpec(
        name=load_balancer_name(cluster),
        role=ROLE,
        image=image,
        cluster=cluster,
        network=network,
        api_server_address=like.api_server_address,
        api_server_port=api_port,
        nofile=like.nofile,
        nproc=like.nproc,
    )


def find(nodes: Sequence[N]) -> N | None:
    return next((n for n in nodes if n.role == ROLE), None)


def kubernetes_nodes(nodes: Sequence[N]) -> list[N]:
    """The containers that run a kubelet: all but the load balancer."""
    return [n for n in nodes if n.role != ROLE]


def _tcp_preamble(comment: str) -> list[str]:
    """HAProxy's global and default sections for TCP proxying, after a comment line."""
    return [
        comment,
        "global",
        "  maxconn 4096",
        "defaults",
        "  mode tcp",
        "  timeout connect 5s",
        # Watches and other long connections stay open; the servers end them.
        "  timeout client 1h",
        "  timeout server 1h",
    ]


def render_config(servers: dict[str, str], port: int = 6443) -> str:
    """HAProxy's configuration: TCP on ``port`` to each control plane (name -> address).

    A control plane takes traffic only while its API server says it is ready: a stopped one,
    or one still joining (its API server listens before it can serve), gets none.
    """
    lines = [
        *_tcp_preamble("# Written by nestkube; replaced whenever the control planes change."),
        "  retries 3",
        "  option redispatch",
        "frontend control-plane",
        f"  bind *:{port}",
        "  default_backend kube-apiservers",
        "backend kube-apiservers",
        "  option httpchk",
        "  http-check send meth GET uri /readyz",
        "  http-check expect status 200",
        "  default-server check check-ssl verify none inter 1s fall 2 rise 1",
    ]
    for name, address in sorted(servers.items()):
        host = f"[{address}]" if ":" in address else address
        lines.append(f"  server {name} {host}:{port}")
    return "\n".join(lines) + "\n"


def configure(provider: Provider, load_balancer: str, servers: Mapping[str, str]) -> None:
    """Point ``load_balancer`` at ``servers`` (control-plane name -> address) and reload it."""
    replace_config(provider, load_balancer, render_config(dict(servers)))


def replace_config(provider: Provider, container: str, config: str) -> None:
    """HAProxy's configuration in ``container`` (an image of images.lb_image) replaced by
    ``config`` once HAProxy accepts it, and reloaded."""
    provider.exec(
        container,
        ["sh", "-c", _REPLACE, "sh", CONFIG_PATH],
        input=config,
        what=f"configuring HAProxy in {container}",
        timeout=engine_timeout(CHANGE),
    )


def render_forward_config(targets: Mapping[int, str]) -> str:
    """HAProxy's configuration for plain TCP forwarding: each port to ``address:port``."""
    lines = _tcp_preamble(
        "# Written by nestkube (publish services); replaced when the Service changes."
    )
    for port, address in sorted(targets.items()):
        host = f"[{address}]" if ":" in address else address
        lines += [f"listen port-{port}", f"  bind *:{port}", f"  server target {host}:{port}"]
    return "\n".join(lines) + "\n"
