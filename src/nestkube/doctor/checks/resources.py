"""Room for the cluster asked for: memory, and disk under the engine's data dir."""

from __future__ import annotations

from nestkube.doctor.context import DoctorContext
from nestkube.doctor.model import Finding, Fix, ok, skip, warn

GIB = 1 << 30
# The control plane runs etcd, the API server, controller manager, scheduler and CoreDNS;
# a worker only the kubelet, kube-proxy and its pods. Disk covers the node's writable layer,
# containerd's image store inside it and etcd's data; the node image is counted once.
FIRST_NODE_MEMORY = 2 * GIB
WORKER_MEMORY = 1 * GIB
FIRST_NODE_DISK = 4 * GIB
WORKER_DISK = 2 * GIB


def _gib(n: int) -> str:
    return f"{n / GIB:.1f} GiB"


def _nodes(n: int) -> str:
    return "1 node needs" if n == 1 else f"{n} nodes need"


def memory_needed(nodes: int) -> int:
    return FIRST_NODE_MEMORY + WORKER_MEMORY * (max(1, nodes) - 1)


def disk_needed(nodes: int) -> int:
    return FIRST_NODE_DISK + WORKER_DISK * (max(1, nodes) - 1)


def check_memory(ctx: DoctorContext) -> Finding:
    need = memory_needed(ctx.nodes)
    total, avail = ctx.mem_total, ctx.mem_available
    if total is None:
        return skip("resources.memory", "/proc/meminfo not readable")
    nodes = _nodes(ctx.nodes)
    if total < need:
        return Finding(
            "resources.memory",
            "fail",
            f"{_gib(total)} of memory in total; {nodes} about {_gib(need)}",
            Fix(note="create fewer nodes, or give the machine more memory"),
        )
    if avail is not None and avail < need:
        return warn(
            "resources.memory",
            f"{_gib(avail)} available of {_gib(total)}; {nodes} about {_gib(need)}",
            Fix(note="stop other workloads or create fewer nodes"),
        )
    shown = _gib(avail) if avail is not None else _gib(total)
    return ok("resources.memory", f"{shown} available; {nodes} ~{_gib(need)}")


def check_disk(ctx: DoctorContext) -> Finding:
    need = disk_needed(ctx.nodes)
    free = ctx.disk_free
    if free is None:
        return skip("resources.disk", f"free space under {ctx.data_dir} unknown")
    nodes = _nodes(ctx.nodes)
    if free < need:
        return Finding(
            "resources.disk",
            "fail",
            f"{_gib(free)} free under {ctx.data_dir}; {nodes} about {_gib(need)}",
            Fix(
                note=f"free space there (`{ctx.provider} system prune` removes unused images), "
                "or move the engine's data dir"
            ),
        )
    return ok(
        "resources.disk",
        f"{_gib(free)} free under {ctx.data_dir}; {nodes} ~{_gib(need)}",
    )
