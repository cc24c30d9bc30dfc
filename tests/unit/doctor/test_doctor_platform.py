"""Doctor on realistic hosts whose boot, init, container or engine setup differs from a stock
Debian VM: no false alarm where nothing bites, and fixes that fit the host actually present.

Each host is a fixture tree (doctor_fixtures.FakeHost) changed in the way the real host differs.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from doctor_fixtures import (
    FULL_CAPS,
    HOME,
    FakeHost,
    FakeRunner,
    check,
    context,
    docker_down,
    facts,
    podman_info,
)

from nestkube.doctor import preflight
from nestkube.host import HostFacts
from nestkube.providers.base import ProviderInfo
from nestkube.providers.podman import crun_refuses, parse_podman_info

# CapBnd without CAP_SYS_MODULE (bit 16): an unprivileged LXC container's bounding set.
NO_SYS_MODULE = f"{int(FULL_CAPS, 16) & ~(1 << 16):016x}"
NIX_HELPERS = "/nix/store/0a1b2c-podman-5.2.3/libexec/podman"
NIX_FUSE = "/nix/store/3d4e5f-fuse-overlayfs-1.13/bin/fuse-overlayfs"


def _hybrid(h: FakeHost) -> None:
    h.remove("/sys/fs/cgroup/cgroup.controllers")
    h.cgroup_hybrid()


# --- host.rlimits: only where the limits bite ----------------------------------------------
def test_rlimits_rootless_podman_clamps_to_the_hard_limit(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    f = check(context(h, host_facts=facts(h, nofile=524288, nproc=62000)), "host.rlimits")
    assert f.status == "ok" and "rootless Podman clamps" in f.summary


def test_rlimits_root_with_cap_sys_resource_raises_them(tmp_path: Path) -> None:
    """systemd's default hard nofile of 524288 on an ordinary host is no problem for root."""
    h = FakeHost.healthy(tmp_path)
    f = check(context(h, uid=0, host_facts=facts(h, uid=0, nofile=524288)), "host.rlimits")
    assert f.status == "ok" and "CAP_SYS_RESOURCE raises them" in f.summary


def test_rlimits_docker_daemon_uses_its_own(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.binary("docker")
    ctx = context(h, provider="docker", uid=0, host_facts=facts(h, uid=0, nofile=524288))
    f = check(ctx, "host.rlimits")
    assert f.status == "ok" and "daemon" in f.summary


# --- helpers found the way the engine finds them ---------------------------------------------
def _stock_nixos_podman(h: FakeHost) -> None:
    """virtualisation.podman.enable = true: helpers in the Nix store, not on the user's PATH."""
    h.nixos()
    for name in ("slirp4netns", "fuse-overlayfs"):
        h.remove(f"/usr/bin/{name}")
    h.binary("slirp4netns", NIX_HELPERS)
    h.binary("pasta", NIX_HELPERS)
    h.write(
        "/etc/containers/containers.conf",
        f'[engine]\nhelper_binaries_dir = ["{NIX_HELPERS}"]\n',
    )
    h.write(
        "/etc/containers/storage.conf",
        f'[storage]\ndriver = "overlay"\n[storage.options.overlay]\nmount_program = "{NIX_FUSE}"\n',
    )


def test_nixos_podman_helpers_from_its_helper_directories(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    _stock_nixos_podman(h)
    ctx = context(h)
    tun = check(ctx, "device.tun")
    assert tun.status == "ok" and f"{NIX_HELPERS}/slirp4netns" in tun.summary
    fuse = check(ctx, "device.fuse")
    assert fuse.status == "ok" and NIX_FUSE in fuse.summary


def test_nixos_podman_helpers_from_its_info(tmp_path: Path) -> None:
    """What `podman info` says it runs wins over any search."""
    h = FakeHost.healthy(tmp_path)
    _stock_nixos_podman(h)
    h.remove("/etc/containers/containers.conf")
    h.remove("/etc/containers/storage.conf")
    info = podman_info()
    info["host"]["pasta"] = {"executable": "/nix/store/9z-passt/bin/pasta"}
    info["store"]["graphOptions"] = {"overlay.mount_program": {"Path": NIX_FUSE}}
    ctx = context(h, info=info)
    assert check(ctx, "device.tun").status == "ok"
    assert "/nix/store/9z-passt/bin/pasta" in check(ctx, "device.tun").summary
    assert check(ctx, "device.fuse").status == "ok"


def test_a_stock_nixos_podman_host_passes_create_preflight(tmp_path: Path) -> None:
    """Preflight runs no command (no info JSON): the helper directories alone must do."""
    h = FakeHost.healthy(tmp_path)
    _stock_nixos_podman(h)
    info = ProviderInfo("podman", "/usr/bin/podman", "5.2.3", True, facts(h))
    env = {"HOME": HOME, "PATH": "/run/wrappers/bin:/usr/bin"}
    findings = preflight(info, nodes=1, root=h.root, env=env)
    assert [f.id for f in findings if f.status == "fail"] == []


def test_helpers_missing_everywhere_still_fail(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.remove("/usr/bin/slirp4netns")
    assert check(context(h), "device.tun").status == "fail"


# --- the cgroup v2 fix fits the boot setup and replaces the old value ----------------------
def _run_sed_parts(command: str, root: Path) -> None:
    """Run the sed parts of a fix against the fixture tree (paths re-rooted)."""
    for part in command.split(" && "):
        if part.startswith("sed "):
            rooted = part.replace(" /etc/", f" {root}/etc/").replace(" /boot/", f" {root}/boot/")
            subprocess.run(["sh", "-c", rooted], check=True, timeout=10)


def test_grub_fix_replaces_a_later_zero(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    _hybrid(h)
    h.write(
        "/etc/default/grub",
        'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX="quiet systemd.unified_cgroup_hierarchy=0"\n',
    )
    h.write(
        "/etc/default/grub.d/50-cloud.cfg",
        'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT '
        'systemd.unified_cgroup_hierarchy=false"\n',
    )
    h.cmdline("root=/dev/sda1 quiet systemd.unified_cgroup_hierarchy=0")
    f = check(context(h, uid=0), "cgroup.version")
    assert f.fix.kind == "command" and f.fix.command.endswith("update-grub && reboot")
    _run_sed_parts(f.fix.command, tmp_path)
    grub = h.p("/etc/default/grub").read_text()
    assert 'GRUB_CMDLINE_LINUX="systemd.unified_cgroup_hierarchy=1 quiet"' in grub
    assert "=0" not in grub.replace("GRUB_DEFAULT=0", "")
    assert "unified_cgroup_hierarchy" not in h.p("/etc/default/grub.d/50-cloud.cfg").read_text()


def test_grub_fix_adds_the_line_when_there_is_none(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    _hybrid(h)
    h.write("/etc/default/grub", "GRUB_DEFAULT=0\n")
    h.os_release(ID="arch", NAME="Arch Linux")
    f = check(context(h, uid=0), "cgroup.version")
    assert "grub-mkconfig -o /boot/grub/grub.cfg" in f.fix.command
    _run_sed_parts(f.fix.command, tmp_path)
    assert (
        h.p("/etc/default/grub")
        .read_text()
        .endswith('GRUB_CMDLINE_LINUX="systemd.unified_cgroup_hierarchy=1"\n')
    )


def test_fedora_grubby_removes_the_old_value(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    _hybrid(h)
    h.os_release(ID="fedora", PRETTY_NAME="Fedora Linux 40")
    f = check(context(h, uid=0), "cgroup.version")
    assert "--remove-args=systemd.unified_cgroup_hierarchy" in f.fix.command
    assert "--args=systemd.unified_cgroup_hierarchy=1" in f.fix.command


def test_systemd_boot_fix_edits_the_loader_entries(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    _hybrid(h)
    h.no_grub()
    h.write(
        "/boot/loader/entries/arch.conf",
        "title Arch\nlinux /vmlinuz-linux\n"
        "options root=/dev/sda2 systemd.unified_cgroup_hierarchy=0\n",
    )
    h.write("/etc/kernel/cmdline", "root=/dev/sda2 systemd.unified_cgroup_hierarchy=0\n")
    f = check(context(h, uid=0), "cgroup.version")
    assert "grub" not in f.fix.command
    assert "/boot/loader/entries/arch.conf" in f.fix.command
    _run_sed_parts(f.fix.command, tmp_path)
    entry = h.p("/boot/loader/entries/arch.conf").read_text()
    assert "options root=/dev/sda2 systemd.unified_cgroup_hierarchy=1\n" in entry
    cmdline = h.p("/etc/kernel/cmdline").read_text()
    assert cmdline == "root=/dev/sda2 systemd.unified_cgroup_hierarchy=1\n"


def test_wsl2_fix_is_wslconfig_and_systemd_in_wsl_conf(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    _hybrid(h)
    h.wsl2(systemd=False)
    f = check(context(h, uid=0), "cgroup.version")
    assert f.fix.kind == "file" and f.fix.path == "/etc/wsl.conf"
    assert "systemd=true" in f.fix.content
    assert ".wslconfig" in f.fix.note and "kernelCommandLine = cgroup_no_v1=all" in f.fix.note
    assert "wsl --shutdown" in f.fix.note
    # With systemd already PID 1, only the Windows side is left.
    h2 = FakeHost.healthy(tmp_path / "b")
    _hybrid(h2)
    h2.wsl2(systemd=True)
    f2 = check(context(h2, uid=0), "cgroup.version")
    assert f2.fix.kind == "none" and ".wslconfig" in f2.fix.note and "grub" not in f2.fix.note


def test_micro_vm_without_bootloader_gets_no_grub(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    _hybrid(h)
    h.no_grub()
    h.cmdline("console=ttyS0 reboot=k panic=1 systemd.unified_cgroup_hierarchy=0")
    f = check(context(h, uid=0), "cgroup.version")
    assert f.fix.kind == "none" and "grub" not in f.fix.note.lower()
    assert "kernel arguments" in f.fix.note
    assert "replacing the systemd.unified_cgroup_hierarchy=0" in f.fix.note


def test_micro_vm_whose_init_is_not_systemd(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    _hybrid(h)
    h.no_grub()
    h.write("/proc/1/comm", "fc-init\n")
    h.p("/run/systemd/system/.keep").unlink()
    h.p("/run/systemd/system").rmdir()
    f = check(context(h, uid=0), "cgroup.version")
    assert "fc-init" in f.fix.note and "mount -t cgroup2" in f.fix.note


# --- the init system --------------------------------------------------------------------------
def test_openrc_host_gets_openrc_fixes(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.openrc()
    _hybrid(h)
    f = check(context(h, uid=0), "cgroup.version")
    assert "rc_cgroup_mode" in f.fix.command and "systemctl" not in f.fix.command
    h.write("/etc/rc.conf", 'rc_parallel="NO"\n#rc_cgroup_mode="hybrid"\n')
    _run_sed_parts(f.fix.command, tmp_path)
    assert h.p("/etc/rc.conf").read_text() == 'rc_parallel="NO"\nrc_cgroup_mode="unified"\n'
    h.binary("docker")
    runner = FakeRunner()
    runner.add(["docker", "info", "--format", "{{json .}}"], json.dumps(docker_down()), rc=1)
    ctx = context(h, provider="docker", info=None, runner=runner, uid=0)
    assert check(ctx, "engine.present").fix.command == (
        "rc-update add docker default && rc-service docker start"
    )
    h.write("/proc/modules", "overlay 16384 1 - Live 0x0\n")
    modules = check(context(h, uid=0), "kernel.iptables-modules")
    # OpenRC loads /etc/modules through its modules service (issue #27).
    assert modules.fix.command.endswith("rc-update add modules boot && rc-service modules restart")


# --- hosts that are containers --------------------------------------------------------------
def test_unprivileged_lxc_is_told_to_load_modules_on_its_host(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.lxc(NO_SYS_MODULE)
    h.write("/proc/modules", "overlay 16384 1 - Live 0x0\n")
    f = check(context(h, uid=0), "kernel.iptables-modules")
    assert f.fix.kind == "none"
    assert "lxc container without CAP_SYS_MODULE" in f.fix.note
    assert "modprobe -a ip_tables iptable_nat ip6_tables ip6table_nat" in f.fix.note
    h.remove("/dev/net/tun")
    tun = check(context(h), "device.tun")
    assert tun.fix.kind == "none" and "`modprobe tun`" in tun.fix.note
    _hybrid(h)
    cg = check(context(h, uid=0), "cgroup.version")
    assert "container" in cg.fix.note and "grub" not in cg.fix.note


def test_privileged_lxc_may_load_modules_itself(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.lxc(FULL_CAPS)
    h.write("/proc/modules", "overlay 16384 1 - Live 0x0\n")
    f = check(context(h, uid=0), "kernel.iptables-modules")
    assert f.fix.kind == "file" and f.fix.path == "/etc/modules-load.d/nestkube.conf"


# --- WSL2 with crun ----------------------------------------------------------------------------
def test_wsl2_rootless_crun_is_fine_on_hybrid(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.wsl2()
    _hybrid(h)
    f = check(context(h, info=podman_info(runtime="crun", cgroup="v1")), "host.oci-runtime")
    assert f.status == "ok" and "refuses" not in f.summary
    rootful = context(h, uid=0, info=podman_info(rootless=False, runtime="crun", cgroup="v1"))
    assert check(rootful, "host.oci-runtime").status == "ok"  # runc is passed by itself


def test_rootless_podman_on_hybrid_keeps_crun_unless_cgroup2_holds_controllers() -> None:
    """One rule for doctor and create: rootless crun is kept where it works (a hybrid host
    whose cgroup2 mount has no controllers, like WSL2) and swapped for runc where crun
    refuses (controllers on the hybrid cgroup2 mount, like this project's CI host)."""
    bare = HostFacts(cgroup_mode="hybrid")
    with_hugetlb = HostFacts(cgroup_mode="hybrid", cgroup2_controllers=frozenset({"hugetlb"}))

    def info(rootless: bool) -> dict[str, Any]:
        return {"host": {"security": {"rootless": rootless}, "ociRuntime": {"name": "crun"}}}

    assert parse_podman_info(info(True), "podman", bare).runtime is None
    assert parse_podman_info(info(False), "podman", bare).runtime == "runc"
    assert parse_podman_info(info(True), "podman", with_hugetlb).runtime == "runc"
    assert parse_podman_info(info(False), "podman", with_hugetlb).runtime == "runc"
    assert crun_refuses("v1", True, frozenset()) is False
    assert crun_refuses("v2", False, frozenset({"cpu"})) is False


def test_rootless_crun_on_hybrid_with_cgroup2_controllers_is_reported(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.remove("/sys/fs/cgroup/cgroup.controllers")
    h.cgroup_hybrid("hugetlb")
    f = check(context(h, info=podman_info(runtime="crun", cgroup="v1")), "host.oci-runtime")
    assert f.status == "ok" and "refuses" in f.summary and "--runtime runc" in f.summary


def test_a_micro_vm_from_a_container_image_is_not_a_container(tmp_path: Path) -> None:
    """A Firecracker VM whose rootfs was a Docker image keeps /.dockerenv; its / is a disk,
    and its PID 1 is the VM's own init: the fix is about that init, not a container host."""
    h = FakeHost.healthy(tmp_path)
    _hybrid(h)
    h.no_grub()
    h.write("/.dockerenv", "")
    h.write("/proc/1/comm", "process_api\n")
    h.p("/run/systemd/system/.keep").unlink()
    h.p("/run/systemd/system").rmdir()
    ctx = context(h, uid=0)
    assert ctx.platform.container == "" and ctx.platform.boot == "none"
    f = check(ctx, "cgroup.version")
    assert "PID 1 here is process_api" in f.fix.note and "container" not in f.fix.note
    h.mounts(("/", "overlay", "overlay"))
    assert context(h, uid=0).platform.container == "docker"


# --- host.proxy: which proxy the nodes will use -------------------------------------------
def test_proxy_says_which_proxy_nodes_use(tmp_path: Path) -> None:
    from dataclasses import replace

    from nestkube.doctor.checks.host import check_proxy

    base = context(FakeHost.healthy(tmp_path))
    none = check_proxy(replace(base, env={}))
    assert none.status == "ok" and "none" in none.summary
    found = check_proxy(replace(base, env={"https_proxy": "http://p:3128", "NO_PROXY": "corp"}))
    assert "HTTPS_PROXY=http://p:3128" in found.summary
    assert "NO_PROXY=corp" in found.summary
