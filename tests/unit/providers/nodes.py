"""The node the provider tests start on a fake CLI: its spec, and the `run` flags every engine
must pass for it (Docker and nerdctl alike)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from nestkube.providers.base import NodeRole, NodeSpec

NODE_IMAGE = "localhost/nestkube/node:v1.20.2"
# A privileged systemd container with its own cgroup namespace, whatever the engine.
COMMON_RUN_FLAGS = (
    "--privileged",
    "--security-opt seccomp=unconfined",
    "--security-opt apparmor=unconfined",
    "--cgroupns=private",
    "--stop-signal SIGRTMIN+3",
)


def node_spec(cluster: str, api_server_port: int, role: NodeRole = "control-plane") -> NodeSpec:
    """Node ``<cluster>-control-plane`` or ``<cluster>-worker`` on network nestkube-<cluster>."""
    return NodeSpec(
        name=f"{cluster}-{role}",
        role=role,
        image=NODE_IMAGE,
        cluster=cluster,
        network=f"nestkube-{cluster}",
        api_server_port=api_server_port,
    )


def assert_node_run_args(args: Sequence[str], flags: Iterable[str]) -> None:
    """`run … NODE_IMAGE` holding COMMON_RUN_FLAGS and ``flags``, and no Podman-only --systemd."""
    joined = " ".join(args)
    assert args[0] == "run"
    assert args[-1] == NODE_IMAGE
    for flag in (*COMMON_RUN_FLAGS, *flags):
        assert flag in joined, flag
    assert "--systemd" not in joined
