"""cgroups: the hierarchy in use and, for rootless nodes, the controllers delegated to the user."""

from __future__ import annotations

from nestkube.doctor import fixes
from nestkube.doctor.context import DoctorContext
from nestkube.doctor.model import Finding, Fix, fail, ok, skip, warn

REQUIRED_CONTROLLERS = ("cpu", "memory", "pids")
OPTIONAL_CONTROLLERS = ("cpuset", "io")
DELEGATE_DROPIN = "/etc/systemd/system/user@.service.d/delegate.conf"
DELEGATE_CONTENT = "[Service]\nDelegate=yes\n"
NIX_DELEGATE = 'systemd.services."user@".serviceConfig.Delegate = "yes";'
UNIFIED_PARAM = "systemd.unified_cgroup_hierarchy=1"


UNIFIED_KEY = "systemd.unified_cgroup_hierarchy"
# Removes every existing value first: on a kernel command line the last value wins, so
# prepending =1 in front of a later =0 would change nothing.
_DROP_OLD = rf"s/ *{UNIFIED_KEY.replace('.', '[.]')}=[^ \"]*//g"
WSL_CMDLINE = f"cgroup_no_v1=all {UNIFIED_PARAM}"


def _to_v2(ctx: DoctorContext) -> Fix:
    """Boot with cgroup v2, in the way this host's kernel command line is actually set."""
    p = ctx.platform
    note = (
        "takes a reboot; also drop any systemd.legacy_systemd_cgroup_controller from the "
        "kernel command line"
    )
    if p.boot == "container":
        return Fix(
            note=f"this host is a {p.container} container: cgroups are its host's. Switch "
            "the machine running it to cgroup v2, then restart this container"
        )
    if p.boot == "wsl2":
        return _wsl_fix(ctx)
    if p.init != "systemd":
        return _non_systemd_fix(ctx)
    if ctx.nixos:
        return fixes.nix(fixes.nix_list("boot.kernelParams", [UNIFIED_PARAM]), note)
    if p.boot == "grub":
        if fixes.package_manager(ctx.os_release) == "dnf":
            return _grubby(ctx, note)
        return fixes.command(ctx, _grub_command(ctx), note=note)
    if p.grubby and (p.bls or p.boot == "none"):
        # RHEL/Fedora family booting BLS entries (root-only /boot/loader/entries) without
        # /etc/default/grub: grubby is the tool that edits every entry.
        return _grubby(ctx, note)
    if p.boot == "systemd-boot":
        files = list(p.loader_entries)
        edit = f"sed -i -E '{_DROP_OLD}; s/^options .*/& {UNIFIED_PARAM}/' {' '.join(files)}"
        if p.kernel_cmdline_file:
            edit += f" && sed -i -E '{_DROP_OLD}; s/$/ {UNIFIED_PARAM}/' /etc/kernel/cmdline"
        return fixes.command(ctx, f"{edit} && reboot", note=note)
    current = p.param(UNIFIED_KEY)
    replace = f", replacing the {UNIFIED_KEY}={current} it passes now" if current else ""
    return Fix(
        note="no boot loader configuration here (a micro-VM, or a machine booted directly by "
        "its hypervisor): the kernel command line comes from whatever starts it. Add "
        f"{UNIFIED_PARAM} to the kernel arguments there{replace}, then restart it"
    )


def _grubby(ctx: DoctorContext, note: str) -> Fix:
    return fixes.command(
        ctx,
        f"grubby --update-kernel=ALL --remove-args={UNIFIED_KEY} --args={UNIFIED_PARAM} && reboot",
        note=note,
    )


def _grub_command(ctx: DoctorContext) -> str:
    p = ctx.platform
    files = " ".join(p.grub_files)
    if p.grub_cmdline_line:
        add = f's/^GRUB_CMDLINE_LINUX="/&{UNIFIED_PARAM} /'
        edit = f"sed -i -E '{_DROP_OLD}; {add}' {files}"
    else:
        edit = (
            f"sed -i -E '{_DROP_OLD}' {files} && "
            f"sed -i '$a GRUB_CMDLINE_LINUX=\"{UNIFIED_PARAM}\"' /etc/default/grub"
        )
    if fixes.package_manager(ctx.os_release) == "apt":
        update = "update-grub"
    elif p.grub2:
        update = "grub2-mkconfig -o /boot/grub2/grub.cfg"
    else:
        update = "grub-mkconfig -o /boot/grub/grub.cfg"
    return f"{edit} && {update} && reboot"


def _wsl_fix(ctx: DoctorContext) -> Fix:
    """WSL2's kernel takes its command line from .wslconfig on the Windows side."""
    steps = (
        f"in Windows, put `kernelCommandLine = {WSL_CMDLINE}` under [wsl2] in "
        "%UserProfile%\\.wslconfig, then run `wsl --shutdown` and start the distribution again"
    )
    if ctx.platform.init == "systemd":
        return Fix(note=steps)
    return fixes.wsl_systemd(ctx, then=steps)


def _non_systemd_fix(ctx: DoctorContext) -> Fix:
    """systemd.unified_cgroup_hierarchy is read by systemd only; other inits mount cgroups
    their own way."""
    if ctx.platform.init == "openrc":
        return fixes.command(
            ctx,
            "sed -i -E '/^#? *rc_cgroup_mode=/d' /etc/rc.conf && "
            "sed -i '$a rc_cgroup_mode=\"unified\"' /etc/rc.conf && reboot",
            note="OpenRC mounts the cgroups itself: rc_cgroup_mode=unified makes it cgroup v2",
        )
    return Fix(
        note=f"PID 1 here is {ctx.pid1 or 'not systemd'}, which ignores {UNIFIED_KEY}: have it "
        "mount cgroup2 on /sys/fs/cgroup instead of the v1 hierarchies "
        "(`mount -t cgroup2 none /sys/fs/cgroup` early in its start-up), or boot an image "
        "whose init does"
    )


def check_version(ctx: DoctorContext) -> Finding:
    mode = ctx.host.cgroup_mode
    if mode == "v2":
        ctrl = " ".join(sorted(ctx.host.cgroup2_controllers)) or "none listed"
        return ok("cgroup.version", f"cgroup v2 (root controllers: {ctrl})")
    if mode == "hybrid":
        unified = " ".join(sorted(ctx.host.cgroup2_controllers)) or "no controllers"
        what = f"hybrid cgroups (v1, plus cgroup2 at /sys/fs/cgroup/unified with {unified})"
    else:
        what = "cgroup v1"
    if ctx.rootless:
        return fail(
            "cgroup.version",
            f"{what}: rootless clusters cannot run here, a rootless kubelet needs cgroup v2 "
            "with controllers delegated to the user",
            _to_v2(ctx),
        )
    return warn(
        "cgroup.version",
        f"{what}: rootful nodes work (nestkube uses the cgroupfs driver and runc, and sets the "
        "kubelet's failCgroupV1: false); rootless ones would not. cgroup v1 is deprecated "
        "upstream: kubelets refuse it by default from Kubernetes 1.35 and runc and containerd "
        "will drop it, so move the host to cgroup v2",
        _to_v2(ctx),
    )


def delegate_fix(ctx: DoctorContext) -> Fix:
    if ctx.platform.wsl and not ctx.systemd_running:
        # A user@.service drop-in is read by nothing until systemd runs WSL's distribution.
        return fixes.wsl_systemd(ctx)
    uid = ctx.user.uid
    note = f"then log out and in again (or: {ctx.sudo}systemctl restart user@{uid}.service)"
    if ctx.nixos:
        return fixes.nix(NIX_DELEGATE, note)
    return fixes.root_file(
        ctx, DELEGATE_DROPIN, DELEGATE_CONTENT, then="systemctl daemon-reload", note=note
    )


def check_delegation(ctx: DoctorContext) -> Finding:
    if not ctx.rootless:
        return skip("cgroup.delegation", "rootful: no delegation needed")
    if ctx.host.cgroup_mode != "v2":
        return skip("cgroup.delegation", "no cgroup v2 to delegate (see cgroup.version)")
    uid, name = ctx.user.uid, ctx.user.name
    service = f"user@{uid}.service"
    got = ctx.delegated_controllers
    if got is None:
        if not ctx.systemd_running:
            return fail(
                "cgroup.delegation",
                f"systemd is not running (PID 1 is {ctx.pid1 or 'unknown'}), so no {service} "
                "exists to delegate cgroup controllers to",
                fixes.wsl_systemd(ctx)
                if ctx.platform.wsl
                else Fix(note="rootless nodes need a systemd host with user sessions"),
            )
        return fail(
            "cgroup.delegation",
            f"no {service} cgroup: {name} has no systemd user manager (su/sudo sessions "
            "start none)",
            fixes.command(
                ctx,
                f"loginctl enable-linger {name}",
                note="or log in through ssh or `machinectl shell " + name + "@`",
            ),
        )
    # Exact tokens: "cpuset" must never count as "cpu".
    missing = [c for c in REQUIRED_CONTROLLERS if c not in got]
    extra_missing = [c for c in OPTIONAL_CONTROLLERS if c not in got]
    listed = " ".join(sorted(got)) or "none"
    if missing:
        return fail(
            "cgroup.delegation",
            f"{service} is missing controller(s) {' '.join(missing)} (has: {listed})",
            delegate_fix(ctx),
        )
    note = f"; not delegated (optional): {' '.join(extra_missing)}" if extra_missing else ""
    return ok("cgroup.delegation", f"{service} has {listed}{note}")
