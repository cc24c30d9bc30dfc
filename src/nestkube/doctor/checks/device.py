"""Devices rootless engines need: /dev/fuse (fuse-overlayfs) and /dev/net/tun (networking)."""

from __future__ import annotations

from nestkube.doctor import fixes
from nestkube.doctor.checks.kernel import ROOTLESS_OVERLAY_KERNEL, kernel_version
from nestkube.doctor.context import DoctorContext
from nestkube.doctor.model import Finding, Fix, fail, ok, skip, warn


def _device_fix(ctx: DoctorContext, dev: str, module: str) -> Fix:
    if not ctx.devices[dev].exists:
        if dev == "/dev/fuse" and ctx.platform.container == "lxc":
            return fixes.proxmox_fuse(ctx)
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
    kernel = kernel_version(ctx)
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
