"""Builders for the fixes checks suggest, with the NixOS variants in one place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from nestkube.doctor.context import DoctorContext
from nestkube.doctor.model import Fix

NIX_REBUILD = "sudo nixos-rebuild switch"

# Package names per distribution family, for the tools checks find missing.
_PACKAGES: dict[str, dict[str, str]] = {
    "podman": {"apt": "podman", "dnf": "podman", "pacman": "podman", "zypper": "podman"},
    "docker": {"apt": "docker.io", "dnf": "moby-engine", "pacman": "docker", "zypper": "docker"},
    "nerdctl": {"dnf": "nerdctl", "pacman": "nerdctl", "zypper": "nerdctl"},
    "fuse-overlayfs": {
        "apt": "fuse-overlayfs",
        "dnf": "fuse-overlayfs",
        "pacman": "fuse-overlayfs",
        "zypper": "fuse-overlayfs",
    },
    "slirp4netns": {
        "apt": "slirp4netns",
        "dnf": "slirp4netns",
        "pacman": "slirp4netns",
        "zypper": "slirp4netns",
    },
    "uidmap": {"apt": "uidmap", "dnf": "shadow-utils", "pacman": "shadow", "zypper": "shadow"},
    "runc": {"apt": "runc", "dnf": "runc", "pacman": "runc", "zypper": "runc"},
    "helm": {"dnf": "helm", "pacman": "helm", "zypper": "helm"},
}
_INSTALL = {
    "apt": "apt-get install -y",
    "dnf": "dnf install -y",
    "pacman": "pacman -S --noconfirm",
    "zypper": "zypper install -y",
}
_NIX_PACKAGES = {
    "podman": "virtualisation.podman.enable = true;",
    "docker": "virtualisation.docker.enable = true;",
    "nerdctl": "environment.systemPackages = [ pkgs.nerdctl ];\n"
    "virtualisation.containerd.enable = true;",
    "fuse-overlayfs": "environment.systemPackages = [ pkgs.fuse-overlayfs ];",
    "slirp4netns": "environment.systemPackages = [ pkgs.slirp4netns ];",
    "uidmap": "# newuidmap and newgidmap come with NixOS's shadow setuid wrappers",
    "runc": "environment.systemPackages = [ pkgs.runc ];",
    "helm": "environment.systemPackages = [ pkgs.kubernetes-helm ];",
}


def package_manager(os_release: Mapping[str, str]) -> str | None:
    ids = {os_release.get("ID", ""), *os_release.get("ID_LIKE", "").split()}
    if ids & {"debian", "ubuntu"}:
        return "apt"
    if ids & {"fedora", "rhel", "centos"}:
        return "dnf"
    if ids & {"arch"}:
        return "pacman"
    if ids & {"suse", "opensuse", "opensuse-leap", "opensuse-tumbleweed", "sles"}:
        return "zypper"
    return None


def install(ctx: DoctorContext, tool: str, *, note: str = "") -> Fix:
    """Install ``tool`` with the host's package manager (or configuration.nix on NixOS)."""
    if ctx.nixos:
        return nix(_NIX_PACKAGES.get(tool, f"environment.systemPackages = [ pkgs.{tool} ];"), note)
    pm = package_manager(ctx.os_release)
    pkg = _PACKAGES.get(tool, {}).get(pm or "")
    if pm is None or pkg is None:
        return Fix(note=f"install {tool} from your distribution. {note}".strip())
    return command(ctx, f"{_INSTALL[pm]} {pkg}", note=note)


def command(ctx: DoctorContext, cmd: str, *, root: bool = True, note: str = "") -> Fix:
    """A command; each ``&&``-joined part needing root gets sudo when the user is not root."""
    if root and ctx.sudo:
        cmd = " && ".join(_sudo(ctx, part.strip()) for part in cmd.split(" && "))
    return Fix("command", command=cmd, needs_root=root, note=note)


def _sudo(ctx: DoctorContext, part: str) -> str:
    return part if part.startswith("sudo ") else ctx.sudo + part


def root_file(
    ctx: DoctorContext, path: str, content: str, *, then: str = "", note: str = ""
) -> Fix:
    """A file only root may write (under /etc, say)."""
    then = " && ".join(_sudo(ctx, p.strip()) for p in then.split(" && ")) if then else ""
    return Fix("file", path=path, content=content, then=then, note=note, needs_root=True)


def nix(snippet: str, note: str = "") -> Fix:
    return Fix("nix", content=snippet, then=NIX_REBUILD, note=note, needs_root=True)


def sysctl(ctx: DoctorContext, values: Mapping[str, int], filename: str, note: str = "") -> Fix:
    """Persist sysctl values: a sysctl.d file, or boot.kernel.sysctl on NixOS."""
    if ctx.nixos:
        body = "".join(f'  "{k}" = {v};\n' for k, v in values.items())
        return nix("boot.kernel.sysctl = {\n" + body + "};", note)
    content = "".join(f"{k} = {v}\n" for k, v in values.items())
    return root_file(ctx, f"/etc/sysctl.d/{filename}", content, then="sysctl --system", note=note)


def nix_list(option: str, items: Sequence[str]) -> str:
    return f"{option} = [ " + " ".join(f'"{i}"' for i in items) + " ];"


def start_service(ctx: DoctorContext, service: str, *, fallback: str = "") -> Fix:
    """Start ``service`` now and at boot, with the host's init system's own tools."""
    init = ctx.platform.init
    if init == "systemd":
        return command(ctx, f"systemctl enable --now {service}")
    if init == "openrc":
        return command(ctx, f"rc-update add {service} default && rc-service {service} start")
    if fallback:
        return command(ctx, fallback, note="no service manager runs here, so start it by hand")
    return Fix(note=f"start {service} with this host's init system")


WSL_CONF = "/etc/wsl.conf"
WSL_SYSTEMD = "[boot]\nsystemd=true\n"


def wsl_systemd(ctx: DoctorContext, *, then: str = "") -> Fix:
    """WSL2 without systemd: have WSL start systemd as PID 1 (wsl.conf's [boot] systemd=true),
    then restart the WSL VM. ``then``: what is left to do after that."""
    after = f"; then {then}" if then else ""
    return Fix(
        "file",
        path=WSL_CONF,
        content=WSL_SYSTEMD,
        then="wsl.exe --shutdown",
        note="merge into an existing wsl.conf; `wsl.exe --shutdown` stops every WSL "
        "distribution (from Windows: `wsl --shutdown`), and the next one starts with systemd "
        f"as PID 1{after}",
        needs_root=True,
    )


OPENRC_MODULES = "/etc/modules"


def openrc_modules(ctx: DoctorContext, modules: Sequence[str]) -> Fix:
    """OpenRC (Alpine): modules listed in /etc/modules, loaded at boot by the ``modules``
    service; each name is appended once, then the service is enabled and run now."""
    names = " ".join(modules)
    append = (
        f'sh -c \'for m in {names}; do grep -qx "$m" {OPENRC_MODULES} 2>/dev/null '
        f'|| echo "$m" >> {OPENRC_MODULES}; done\''
    )
    return command(
        ctx,
        f"{append} && rc-update add modules boot && rc-service modules restart",
        note=f"or now, until reboot: {ctx.sudo}modprobe -a {names}",
    )


def modules_reload(ctx: DoctorContext) -> str:
    """The command that loads /etc/modules-load.d now, per init system."""
    if ctx.platform.init == "openrc":
        return "rc-service modules restart"
    return "systemctl restart systemd-modules-load.service"


def proxmox_fuse(ctx: DoctorContext) -> Fix:
    """/dev/fuse in an LXC container (Proxmox VE): a device only the host can pass in."""
    return Fix(
        note=f"this host is an {ctx.platform.container} container without /dev/fuse; loading "
        "the module in here does not pass the device in. On the Proxmox host run "
        "`pct set <CTID> --features fuse=1` (or add `features: fuse=1` to "
        "/etc/pve/lxc/<CTID>.conf; `pct list` shows the CTID), then restart this container "
        "(`pct reboot <CTID>`). On plain LXC, add "
        "`lxc.mount.entry = /dev/fuse dev/fuse none bind,create=file 0 0` to its config "
        "instead"
    )


def on_container_host(ctx: DoctorContext, cmd: str, why: str) -> Fix | None:
    """A fix for the kernel of a host that is itself a container, which it cannot change.

    Modules and kernel parameters are the container host's: without CAP_SYS_MODULE (any
    unprivileged LXC or engine container) ``cmd`` must run there. None when this is no
    container, or one that may load modules.
    """
    kind = ctx.platform.container
    if not kind:
        return None
    lacking = ctx.host.missing_capabilities | ctx.host.ineffective_capabilities
    if "CAP_SYS_MODULE" not in lacking:
        return None
    return Fix(
        note=f"this host is a {kind} container without CAP_SYS_MODULE, so {why} is up to "
        f"the machine running it: there, run `{cmd}` (and list the modules in its "
        "/etc/modules-load.d to keep them), then restart this container"
    )
