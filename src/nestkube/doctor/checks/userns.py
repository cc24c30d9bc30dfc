"""What rootless engines need from the kernel and /etc: user namespaces and id ranges."""

from __future__ import annotations

from nestkube.doctor import fixes
from nestkube.doctor.context import DoctorContext, SubIdRange
from nestkube.doctor.model import Finding, Fix, fail, ok, skip, warn

# Enough ids for one user namespace holding a whole distribution (uid 65534 is nobody).
SUBID_NEEDED = 65536
SUBID_FIRST = 100000


def _owned(ranges: tuple[SubIdRange, ...], ctx: DoctorContext) -> int:
    keys = {ctx.user.name, str(ctx.user.uid)}
    return sum(r.count for r in ranges if r.owner in keys)


def _next_free(ctx: DoctorContext) -> int:
    ends = [r.start + r.count for r in (*ctx.subuid, *ctx.subgid)]
    return max([SUBID_FIRST, *ends])


def check_subid(ctx: DoctorContext) -> Finding:
    if not ctx.rootless:
        return skip("userns.subid", "rootful: no subordinate ids needed")
    name = ctx.user.name
    short = []
    for path, ranges in (("/etc/subuid", ctx.subuid), ("/etc/subgid", ctx.subgid)):
        have = _owned(ranges, ctx)
        if path not in ctx.subid_files:
            short.append(f"{path} missing")
        elif have < SUBID_NEEDED:
            short.append(f"{path} has {have} ids for {name}")
    if short:
        start = _next_free(ctx)
        span = f"{start}-{start + SUBID_NEEDED - 1}"
        fix = (
            fixes.nix(f"users.users.{name}.autoSubUidGidRange = true;")
            if ctx.nixos
            else fixes.command(ctx, f"usermod --add-subuids {span} --add-subgids {span} {name}")
        )
        return fail("userns.subid", f"{'; '.join(short)} (need >= {SUBID_NEEDED})", fix)
    helpers = [b for b in ("newuidmap", "newgidmap") if not ctx.binary(b)]
    if helpers:
        return fail(
            "userns.subid",
            f"{' and '.join(helpers)} not found: the engine cannot map {name}'s id ranges",
            fixes.install(ctx, "uidmap"),
        )
    return ok(
        "userns.subid",
        f"{name}: {_owned(ctx.subuid, ctx)} subuids, {_owned(ctx.subgid, ctx)} subgids",
    )


def check_userns(ctx: DoctorContext) -> Finding:
    if not ctx.rootless:
        return skip("userns.enabled", "rootful: user namespaces not needed")
    s = ctx.sysctls
    wrong: dict[str, int] = {}
    why = []
    if s.get("kernel.unprivileged_userns_clone") == "0":
        wrong["kernel.unprivileged_userns_clone"] = 1
        why.append("kernel.unprivileged_userns_clone=0")
    max_ns = s.get("user.max_user_namespaces")
    if max_ns is not None and max_ns.isdigit() and int(max_ns) == 0:
        wrong["user.max_user_namespaces"] = 65536
        why.append("user.max_user_namespaces=0")
    fix_ = fixes.sysctl(ctx, wrong, "90-nestkube-userns.conf") if wrong else Fix()
    if why:
        return fail(
            "userns.enabled", f"unprivileged user namespaces disabled: {', '.join(why)}", fix_
        )
    if s.get("kernel.apparmor_restrict_unprivileged_userns") == "1":
        return warn(
            "userns.enabled",
            "AppArmor restricts unprivileged user namespaces "
            "(kernel.apparmor_restrict_unprivileged_userns=1); engines without an AppArmor "
            "profile that allows userns fail",
            fixes.sysctl(
                ctx,
                {"kernel.apparmor_restrict_unprivileged_userns": 0},
                "90-nestkube-userns.conf",
            ),
        )
    return ok("userns.enabled", f"unprivileged user namespaces allowed (max {max_ns or '?'})")
