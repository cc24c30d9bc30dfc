"""systemd: whether its version delegates cgroup controllers to users by itself."""

from __future__ import annotations

from nestkube.doctor.checks.cgroup import delegate_fix
from nestkube.doctor.context import DoctorContext
from nestkube.doctor.model import Finding, ok, skip, warn

# systemd 252 started delegating the cpu controller to user@.service by default.
SYSTEMD_CPU_DELEGATION = 252


def check_systemd(ctx: DoctorContext) -> Finding:
    if not ctx.rootless:
        return skip("systemd.version", "rootful: systemd delegation not needed")
    v = ctx.systemd_version
    if v is None:
        return skip("systemd.version", "systemd not found")
    running = "" if ctx.systemd_running else f" (installed, but PID 1 is {ctx.pid1 or '?'})"
    if v >= SYSTEMD_CPU_DELEGATION:
        return ok("systemd.version", f"systemd {v} delegates cpu by default{running}")
    if ctx.delegate_dropins:
        return ok("systemd.version", f"systemd {v} with {', '.join(ctx.delegate_dropins)}")
    return warn(
        "systemd.version",
        f"systemd {v} < {SYSTEMD_CPU_DELEGATION} does not delegate cpu to users by default and "
        f"no Delegate= drop-in exists{running}",
        delegate_fix(ctx),
    )
