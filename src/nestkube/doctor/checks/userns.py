"""What rootless engines need from the kernel and /etc: user namespaces, id ranges, devices."""

from __future__ import annotations

from nestkube.doctor import fixes
from nestkube.doctor.context import DoctorContext, SubIdRange
from nestkube.doctor.model import Finding, Fix, fail, ok, skip, warn

# Enough ids for one user namespace holding a whole distribution (uid 65534 is nobody).
SUBID_NEEDED = 65536
SUBID_FIRST = 100000
# Linux 5.11 allowed overlayfs mounts inside user namespaces.
ROOTLESS_OVERLAY_KERNEL = (5, 11)


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


def _kernel(ctx: DoctorContext) -> tuple[int, ...] | None:
    parts = []
    for piece in ctx.kernel_release.split("-", 1)[0].split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts) if len(parts) >= 2 else None


def _device_fix(ctx: DoctorContext, dev: str, module: str) -> Fix:
    if not ctx.devices[dev].exists:
        outside = fixes.on_container_host(
            ctx, f"modprobe {module}", f"{dev} (and passing it into the container)"
        )
        if outside is not None:
            return outside
        if ctx.nixos:
            return fixes.nix(fixes.nix_list("boot.kernelModules", [module]))
        return fixes.command(ctx, f"modprobe {module}")
    return fixes.command(
        ctx,
        f"chmod 0666 {dev}",
        note=f'lasts until reboot; to keep it, a udev rule: KERNEL=="{dev.rsplit("/", 1)[1]}",'
        ' MODE="0666" in /etc/udev/rules.d/90-nestkube.rules',
    )


def check_fuse(ctx: DoctorContext) -> Finding:
    if not ctx.rootless:
        return skip("device.fuse", "rootful: native overlayfs is used")
    kernel = _kernel(ctx)
    # Without overlayfs in user namespaces, fuse-overlayfs is the only copy-on-write option.
    needed = kernel is not None and kernel < ROOTLESS_OVERLAY_KERNEL
    dev = ctx.devices["/dev/fuse"]
    problems = []
    if not dev.exists:
        problems.append("/dev/fuse missing")
    elif not dev.usable_by(ctx.user):
        problems.append(f"/dev/fuse (mode {dev.mode:04o}) not usable by {ctx.user.name}")
    if not ctx.binary("fuse-overlayfs"):
        problems.append("fuse-overlayfs not installed")
    if not problems:
        return ok(
            "device.fuse", f"/dev/fuse usable and fuse-overlayfs at {ctx.binary('fuse-overlayfs')}"
        )
    fix_ = (
        _device_fix(ctx, "/dev/fuse", "fuse")
        if problems[0].startswith("/dev/fuse")
        else fixes.install(ctx, "fuse-overlayfs")
    )
    text = "; ".join(problems)
    if needed:
        return fail(
            "device.fuse",
            f"{text}: kernel {ctx.kernel_release} has no overlayfs in user namespaces, so "
            "nodes need fuse-overlayfs",
            fix_,
        )
    return warn(
        "device.fuse",
        f"{text}: only a fallback on this kernel (native overlayfs works in user namespaces)",
        fix_,
    )


def check_tun(ctx: DoctorContext) -> Finding:
    if not ctx.rootless:
        return skip("device.tun", "rootful: the engine's own bridge networking is used")
    dev = ctx.devices["/dev/net/tun"]
    if not dev.exists:
        return fail(
            "device.tun",
            "/dev/net/tun missing: rootless networking (slirp4netns/pasta) cannot start",
            _device_fix(ctx, "/dev/net/tun", "tun"),
        )
    if not dev.usable_by(ctx.user):
        return fail(
            "device.tun",
            f"/dev/net/tun (mode {dev.mode:04o}) not usable by {ctx.user.name}: "
            "slirp4netns/pasta cannot create the network",
            _device_fix(ctx, "/dev/net/tun", "tun"),
        )
    helper = ctx.binary("slirp4netns") or ctx.binary("pasta")
    if not helper:
        return fail(
            "device.tun",
            "neither slirp4netns nor pasta is installed: no rootless networking",
            fixes.install(ctx, "slirp4netns"),
        )
    return ok("device.tun", f"/dev/net/tun usable by {ctx.user.name}; network helper {helper}")


def check_kernel(ctx: DoctorContext) -> Finding:
    kernel = _kernel(ctx)
    if kernel is None:
        return skip("kernel.version", f"kernel release {ctx.kernel_release!r} not understood")
    if not ctx.rootless or kernel >= ROOTLESS_OVERLAY_KERNEL:
        return ok("kernel.version", f"kernel {ctx.kernel_release}")
    distro = ctx.os_release.get("ID", "")
    if distro in ("debian", "ubuntu"):
        return ok(
            "kernel.version",
            f"kernel {ctx.kernel_release} < 5.11, but {distro} kernels allow overlayfs in "
            "user namespaces",
        )
    return warn(
        "kernel.version",
        f"kernel {ctx.kernel_release} < 5.11: no overlayfs in user namespaces; rootless "
        "engines fall back to fuse-overlayfs (slower) or vfs (much slower, more disk)",
        Fix(note="upgrade to a 5.11 or newer kernel"),
    )
