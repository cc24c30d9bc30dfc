"""The kernel: its version (overlayfs in user namespaces) and the modules nodes depend on."""

from __future__ import annotations

from nestkube.doctor import fixes
from nestkube.doctor.context import IPTABLES_MODULES, MODULE_CONFIG, DoctorContext
from nestkube.doctor.model import Finding, Fix, fail, ok, skip, warn

MODULES_FILE = "/etc/modules-load.d/nestkube.conf"


# Linux 5.11 allowed overlayfs mounts inside user namespaces.
ROOTLESS_OVERLAY_KERNEL = (5, 11)


def kernel_version(ctx: DoctorContext) -> tuple[int, ...] | None:
    parts = []
    for piece in ctx.kernel_release.split("-", 1)[0].split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts) if len(parts) >= 2 else None


def check_kernel(ctx: DoctorContext) -> Finding:
    kernel = kernel_version(ctx)
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


def _module_state(ctx: DoctorContext, name: str) -> str:
    """'loaded', 'builtin', 'assumed' (cannot tell, no module support), or 'missing'."""
    m = ctx.modules
    if name in m.loaded:
        return "loaded"
    config = (m.kernel_config or {}).get(MODULE_CONFIG[name])
    if config == "y" or (name in m.sys_module and config != "m"):
        return "builtin"
    if name in m.sys_module:
        return "loaded"
    if not m.proc_modules:
        # No /proc/modules: the kernel cannot load modules, so whatever it has is built in.
        return "assumed" if config is None else "missing"
    return "missing"


def check_modules(ctx: DoctorContext) -> Finding:
    states = {name: _module_state(ctx, name) for name in IPTABLES_MODULES}
    missing = [n for n, s in states.items() if s == "missing"]
    if not missing:
        kinds = sorted(set(states.values()))
        how = {
            "loaded": "loaded",
            "builtin": "built into the kernel",
            "assumed": "assumed built in (kernel without loadable-module support)",
        }
        return ok(
            "kernel.iptables-modules",
            f"{' '.join(IPTABLES_MODULES)}: {', '.join(how[k] for k in kinds)}",
        )
    names = " ".join(missing)
    if not ctx.modules.proc_modules:
        return fail(
            "kernel.iptables-modules",
            f"kernel built without {names} and cannot load modules: no iptables NAT in nodes",
            Fix(note="use a kernel with CONFIG_IP_NF_NAT and CONFIG_IP6_NF_NAT"),
        )
    outside = fixes.on_container_host(
        ctx, f"modprobe -a {' '.join(IPTABLES_MODULES)}", "loading kernel modules"
    )
    if outside is not None:
        fix_ = outside
    elif ctx.nixos:
        fix_ = fixes.nix(fixes.nix_list("boot.kernelModules", list(IPTABLES_MODULES)))
    elif ctx.platform.init == "openrc":
        fix_ = fixes.openrc_modules(ctx, IPTABLES_MODULES)
    else:
        fix_ = fixes.root_file(
            ctx,
            MODULES_FILE,
            "".join(f"{n}\n" for n in IPTABLES_MODULES),
            then=fixes.modules_reload(ctx),
            note=f"or now, until reboot: {ctx.sudo}modprobe -a {' '.join(IPTABLES_MODULES)}",
        )
    if ctx.rootless:
        return fail(
            "kernel.iptables-modules",
            f"{names} not loaded: rootless nodes cannot load them, so kube-proxy, ingress and "
            "Service NAT break",
            fix_,
        )
    return warn(
        "kernel.iptables-modules",
        f"{names} not loaded (a rootful engine usually loads them on first use)",
        fix_,
    )
