"""Tools that `nestkube runners` needs; only a warning, since clusters themselves do not."""

from __future__ import annotations

from pathlib import Path

from nestkube.defaults import HELM_ENV
from nestkube.doctor import fixes
from nestkube.doctor.context import DoctorContext
from nestkube.doctor.model import Finding, Fix, ok, skip, warn
from nestkube.kit.helm import HELM_BUILD

# Debian and Ubuntu do not package helm; its Go module builds with the distribution's Go.
HELM_MODULE = f"{HELM_BUILD.commands['helm']}@{HELM_BUILD.version}"


def _install_helm(ctx: DoctorContext) -> Fix:
    pm = fixes.package_manager(ctx.os_release)
    if ctx.nixos or pm in ("dnf", "pacman", "zypper"):
        return fixes.install(ctx, "helm")
    return fixes.command(
        ctx,
        f"go install {HELM_MODULE}",
        root=False,
        note='then put "$(go env GOPATH)/bin" on PATH',
    )


def check_helm(ctx: DoctorContext) -> Finding:
    # The same order `nestkube runners` looks in (runners.tools.find_helm): $NESTKUBE_HELM first.
    named = ctx.env.get(HELM_ENV)
    if named:
        if (Path(ctx.root) / named.lstrip("/")).is_file():
            return ok("runners.helm", f"helm at {named} (${HELM_ENV})")
        return warn(
            "runners.helm",
            f"${HELM_ENV} names {named}, which does not exist: `nestkube runners` would fail",
            Fix(note=f"point ${HELM_ENV} at a helm binary, or unset it to use helm on PATH"),
        )
    found = ctx.binary("helm")
    if found:
        return ok("runners.helm", f"helm at {found}")
    if not ctx.runners_defined:
        return skip(
            "runners.helm",
            f"no runner definitions ({ctx.runners_file}); helm is only needed by "
            "`nestkube runners`",
        )
    return warn(
        "runners.helm",
        f"runners are defined in {ctx.runners_file} but helm is not on PATH: "
        "`nestkube runners up` installs ARC with it",
        _install_helm(ctx),
    )
