"""Podman's own settings that limit nodes: the per-container pids limit."""

from __future__ import annotations

from nestkube.doctor.context import DoctorContext
from nestkube.doctor.model import Finding, Fix, ok, skip, warn

# Enough for an ingress controller and a few busy pods per node.
PIDS_WANTED = 65536


def check_pids_limit(ctx: DoctorContext) -> Finding:
    if ctx.provider != "podman" or ctx.pids_limit is None:
        return skip("podman.pids-limit", f"{ctx.provider} sets no per-container pids limit")
    pl = ctx.pids_limit
    where = pl.source or "Podman's built-in default"
    # 0 and negative values mean unlimited.
    if pl.value <= 0 or pl.value >= PIDS_WANTED:
        shown = "unlimited" if pl.value <= 0 else str(pl.value)
        return ok("podman.pids-limit", f"pids_limit = {shown} ({where})")
    in_home = ctx.user.uid != 0 and pl.target.startswith(ctx.user.home.rstrip("/") + "/")
    fix_ = Fix(
        "file",
        path=pl.target,
        content=f"[containers]\npids_limit = {PIDS_WANTED}\n",
        action="merge",
        note="merged into the [containers] table; applies to nodes created afterwards",
        needs_root=not in_home,
    )
    return warn(
        "podman.pids-limit",
        f"pids_limit = {pl.value} ({where}): a node's pods share that many processes; "
        "ingress controllers hit it",
        fix_,
        auto=in_home,
    )
