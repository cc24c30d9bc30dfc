"""Sysctls nodes depend on: inotify limits, unprivileged ports, a readable kernel log."""

from __future__ import annotations

from nestkube.doctor import fixes
from nestkube.doctor.context import DoctorContext
from nestkube.doctor.model import Finding, fail, ok, skip, warn

INOTIFY_WATCHES = 524288
INOTIFY_INSTANCES = 512


def _int(ctx: DoctorContext, name: str) -> int | None:
    value = ctx.sysctls.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def check_inotify(ctx: DoctorContext) -> Finding:
    watches = _int(ctx, "fs.inotify.max_user_watches")
    instances = _int(ctx, "fs.inotify.max_user_instances")
    if watches is None or instances is None:
        return skip("sysctl.inotify", "fs.inotify sysctls not readable")
    low: dict[str, int] = {}
    if watches < INOTIFY_WATCHES:
        low["fs.inotify.max_user_watches"] = INOTIFY_WATCHES
    if instances < INOTIFY_INSTANCES:
        low["fs.inotify.max_user_instances"] = INOTIFY_INSTANCES
    now = f"max_user_watches={watches}, max_user_instances={instances}"
    if not low:
        return ok("sysctl.inotify", now)
    return warn(
        "sysctl.inotify",
        f"{now}: below {INOTIFY_WATCHES}/{INOTIFY_INSTANCES}; pods fail with "
        "'too many open files' (ingress controllers first)",
        fixes.sysctl(ctx, low, "90-nestkube-inotify.conf"),
    )


def check_unprivileged_ports(ctx: DoctorContext) -> Finding:
    low = sorted(p for p in ctx.host_ports if 0 < p < 1024)
    if not low:
        return skip("sysctl.unprivileged-ports", "no host port below 1024 requested")
    if not ctx.rootless:
        return ok("sysctl.unprivileged-ports", "rootful: any host port can be published")
    start = _int(ctx, "net.ipv4.ip_unprivileged_port_start")
    start = 1024 if start is None else start
    blocked = [p for p in low if p < start]
    if not blocked:
        return ok(
            "sysctl.unprivileged-ports",
            f"ports {' '.join(map(str, low))} allowed (ip_unprivileged_port_start={start})",
        )
    return fail(
        "sysctl.unprivileged-ports",
        f"host port(s) {' '.join(map(str, blocked))} below "
        f"net.ipv4.ip_unprivileged_port_start={start}: a rootless engine cannot publish them",
        fixes.sysctl(
            ctx,
            {"net.ipv4.ip_unprivileged_port_start": blocked[0]},
            "90-nestkube-ports.conf",
            note="or map the ports to 1024 and above",
        ),
    )


def check_dmesg(ctx: DoctorContext) -> Finding:
    value = ctx.sysctls.get("kernel.dmesg_restrict")
    if value is None:
        return skip("sysctl.dmesg-restrict", "kernel.dmesg_restrict not readable")
    if value == "0":
        return ok("sysctl.dmesg-restrict", "kernel log readable: OOM kills can be explained")
    readable = ctx.user.uid == 0 and "CAP_SYSLOG" not in ctx.host.missing_capabilities
    if readable:
        return ok("sysctl.dmesg-restrict", "kernel.dmesg_restrict=1, but root can read the log")
    return warn(
        "sysctl.dmesg-restrict",
        "kernel.dmesg_restrict=1: nestkube cannot read the kernel log, so OOM kills of node "
        "processes show only as exit code 137",
        fixes.sysctl(
            ctx,
            {"kernel.dmesg_restrict": 0},
            "90-nestkube-dmesg.conf",
            note="optional: it lets every user read the kernel log",
        ),
    )
