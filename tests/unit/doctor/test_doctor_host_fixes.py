"""Fixes that fit the host's own tools (issue #27), each on a host description of that kind,
and no warning that asks nothing of the user."""

from __future__ import annotations

import subprocess
from pathlib import Path

from doctor_fixtures import FULL_CAPS, FakeHost, check, context, facts, podman_info

from nestkube.doctor.checks import CHECKS
from nestkube.doctor.render import text_report

NO_SYS_MODULE = f"{int(FULL_CAPS, 16) & ~(1 << 16):016x}"
NO_SYS_RESOURCE = "000001fffeffffff"
UNIFIED = "systemd.unified_cgroup_hierarchy=1"


def _hybrid(h: FakeHost, unified: str = "") -> None:
    h.remove("/sys/fs/cgroup/cgroup.controllers")
    h.cgroup_hybrid(unified)


def test_bls_host_with_grubby_and_no_grub_defaults_uses_grubby(tmp_path: Path) -> None:
    """RHEL 9 / Fedora: BLS entries under /boot/loader/entries (root-only), grubby, and no
    /etc/default/grub: grubby edits every entry."""
    h = FakeHost.healthy(tmp_path)
    _hybrid(h)
    h.no_grub()
    h.os_release(ID="rhel", ID_LIKE="fedora", PRETTY_NAME="Red Hat Enterprise Linux 9.4")
    h.binary("grubby", "/usr/sbin")
    h.p("/boot/loader/entries").mkdir(parents=True)  # unreadable to the user: no entries seen
    f = check(context(h, rootless=False), "cgroup.version")
    assert f.fix.kind == "command"
    assert f.fix.command == (
        "sudo grubby --update-kernel=ALL --remove-args=systemd.unified_cgroup_hierarchy "
        f"--args={UNIFIED} && sudo reboot"
    )
    assert "no boot loader configuration" not in f.fix.note


def test_grubby_without_bls_or_on_a_grub_host_is_not_used(tmp_path: Path) -> None:
    """A Debian host with GRUB defaults keeps update-grub even with grubby installed."""
    h = FakeHost.healthy(tmp_path)
    _hybrid(h)
    h.binary("grubby", "/usr/sbin")
    f = check(context(h, uid=0), "cgroup.version")
    assert "update-grub" in f.fix.command and "grubby" not in f.fix.command


def test_wsl2_without_systemd_is_told_to_enable_systemd_not_a_dropin(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.wsl2(systemd=False)
    h.remove(f"/sys/fs/cgroup/user.slice/user-{1000}.slice/user@{1000}.service/cgroup.controllers")
    ctx = context(h, systemd="systemd 249 (249.11-0ubuntu3)")
    for check_id in ("cgroup.delegation", "systemd.version"):
        f = check(ctx, check_id)
        assert f.status in ("fail", "warn"), check_id
        assert f.fix.kind == "file" and f.fix.path == "/etc/wsl.conf", check_id
        assert f.fix.content == "[boot]\nsystemd=true\n"
        assert f.fix.then == "wsl.exe --shutdown"
        assert "user@" not in f.fix.path + f.fix.content + f.fix.then


def test_openrc_host_loads_modules_through_etc_modules(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.openrc()
    h.write("/proc/modules", "overlay 16384 1 - Live 0x0\n")
    f = check(context(h, uid=0), "kernel.iptables-modules")
    assert f.fix.kind == "command"
    assert "systemd-modules-load" not in f.fix.command
    assert "modules-load.d" not in f.fix.command
    assert f.fix.command.endswith("&& rc-update add modules boot && rc-service modules restart")
    # The append part, run twice on a copy of Alpine's /etc/modules: each name once, kept lines.
    append = f.fix.command.split(" && ")[0]
    modules = h.write("/etc/modules", "af_packet\nipv6\nip_tables\n")
    for _ in range(2):
        subprocess.run(
            ["sh", "-c", append.replace("/etc/modules", str(modules))], check=True, timeout=10
        )
    assert modules.read_text().split() == [
        "af_packet",
        "ipv6",
        "ip_tables",
        "iptable_nat",
        "ip6_tables",
        "ip6table_nat",
    ]
    as_user = check(context(h, uid=1000, rootless=False), "kernel.iptables-modules")
    assert as_user.fix.command.startswith("sudo sh -c ")
    assert "&& sudo rc-update add modules boot && sudo rc-service modules restart" in (
        as_user.fix.command
    )


def test_proxmox_lxc_without_dev_fuse_is_fixed_on_the_proxmox_host(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.lxc(NO_SYS_MODULE)
    h.kernel("5.4.0-150-generic")  # old kernel: fuse-overlayfs is required, a fail
    h.os_release(ID="alpine", PRETTY_NAME="Alpine Linux v3.20")
    h.remove("/dev/fuse")
    f = check(context(h), "device.fuse")
    assert f.status == "fail" and "/dev/fuse missing" in f.summary
    assert f.fix.kind == "none"
    assert "pct set <CTID> --features fuse=1" in f.fix.note
    assert "features: fuse=1" in f.fix.note and "/etc/pve/lxc/<CTID>.conf" in f.fix.note
    assert "restart this container" in f.fix.note
    assert "`modprobe fuse`" not in f.fix.note


NIX_WRAPPER = "/nix/store/7q8r9s-podman-helper-binary-wrapper/bin"
NIX_PODMAN = """#! /nix/store/1a2b-bash-5.2p26/bin/bash -e
PATH=${PATH:+':'$PATH':'}
PATH=${PATH/':''WRAP'':'/':'}
PATH='WRAP'$PATH
PATH=${PATH#':'}
PATH=${PATH%':'}
export PATH
exec -a "$0" "/nix/store/4c5d-podman-5.2.3/bin/.podman-wrapped"  "$@"
""".replace("WRAP", NIX_WRAPPER)


def test_nixos_podman_wrapper_path_holds_fuse_overlayfs(tmp_path: Path) -> None:
    """No helper_binaries_dir, no mount_program, no info: the wrapper's PATH is where Podman
    finds fuse-overlayfs."""
    h = FakeHost.healthy(tmp_path)
    h.nixos()
    h.remove("/usr/bin/fuse-overlayfs")
    h.remove("/usr/bin/podman")
    h.write("/run/current-system/sw/bin/podman", NIX_PODMAN, 0o755)
    h.binary("fuse-overlayfs", NIX_WRAPPER)
    env = {"PATH": "/run/wrappers/bin:/run/current-system/sw/bin"}
    f = check(context(h, env=env), "device.fuse")
    assert f.status == "ok", f.summary
    assert f"{NIX_WRAPPER}/fuse-overlayfs" in f.summary


def _this_machine(tmp_path: Path) -> FakeHost:
    """The project's CI host: rootful Podman as root on hybrid cgroups with hugetlb, crun by
    default and runc installed, CAP_SYS_RESOURCE missing, hard nofile 20000."""
    h = FakeHost.healthy(tmp_path)
    _hybrid(h, "hugetlb")
    h.capbnd(NO_SYS_RESOURCE)
    return h


def test_no_warning_that_asks_nothing_of_the_user(tmp_path: Path) -> None:
    h = _this_machine(tmp_path)
    ctx = context(
        h,
        uid=0,
        info=podman_info(rootless=False, runtime="crun", cgroup="v1"),
        host_facts=facts(h, uid=0, nofile=20000, nproc=96367, oom=False),
    )
    findings = [run(ctx) for run in CHECKS.values()]
    by_id = {f.id: f for f in findings}
    for check_id in ("host.capabilities", "host.oom-score-adj", "host.rlimits"):
        assert by_id[check_id].status == "ok", by_id[check_id]
    assert by_id["host.oci-runtime"].status == "ok"
    noise = [f.id for f in findings if f.status == "warn" and "nothing to change" in f.fix.note]
    assert noise == []
    # The ok keeps its note, printed under it.
    report = text_report(ctx, findings)
    assert "note: nothing to change: the workaround is automatic" in report
    assert "WARN  host." not in report
