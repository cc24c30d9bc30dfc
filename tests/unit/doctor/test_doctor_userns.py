"""subuid/subgid ranges, user namespaces, /dev/fuse, /dev/net/tun and the kernel version."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from doctor_fixtures import FakeHost, check, context, podman_info


def test_subid_missing_for_user_gives_next_free_range(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.write("/etc/subuid", "bob:100000:65536\ncarol:165536:65536\n")
    h.write("/etc/subgid", "bob:100000:65536\n")
    f = check(context(h), "userns.subid")
    assert f.status == "fail"
    assert "/etc/subuid has 0 ids for alice" in f.summary
    assert "/etc/subgid has 0 ids for alice" in f.summary
    assert f.fix.command == (
        "sudo usermod --add-subuids 231072-296607 --add-subgids 231072-296607 alice"
    )


def test_subid_by_uid_counts(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.write("/etc/subuid", "1000:100000:65536\n")
    h.write("/etc/subgid", "alice:100000:30000\nalice:200000:40000\n")
    f = check(context(h), "userns.subid")
    assert f.status == "ok" and "65536 subuids, 70000 subgids" in f.summary


def test_subid_range_too_small(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.write("/etc/subgid", "alice:100000:1000\n")
    f = check(context(h), "userns.subid")
    assert f.status == "fail" and "/etc/subgid has 1000 ids for alice" in f.summary


def test_subid_files_missing_and_nixos_fix(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.remove("/etc/subuid")
    h.nixos()
    f = check(context(h), "userns.subid")
    assert f.status == "fail" and "/etc/subuid missing" in f.summary
    assert f.fix.kind == "nix" and f.fix.content == "users.users.alice.autoSubUidGidRange = true;"


def test_newuidmap_missing(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.remove("/usr/bin/newuidmap")
    f = check(context(h), "userns.subid")
    assert f.status == "fail" and "newuidmap not found" in f.summary
    assert f.fix.command == "sudo apt-get install -y uidmap"


def test_userns_clone_disabled(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.sysctl("kernel.unprivileged_userns_clone", 0)
    f = check(context(h), "userns.enabled")
    assert f.status == "fail" and "kernel.unprivileged_userns_clone=0" in f.summary
    assert f.fix.path == "/etc/sysctl.d/90-nestkube-userns.conf"
    assert f.fix.content == "kernel.unprivileged_userns_clone = 1\n"
    assert f.fix.then == "sudo sysctl --system"


def test_max_user_namespaces_zero(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.sysctl("user.max_user_namespaces", 0)
    h.nixos()
    f = check(context(h), "userns.enabled")
    assert f.status == "fail" and "user.max_user_namespaces=0" in f.summary
    assert f.fix.kind == "nix"
    assert '"user.max_user_namespaces" = 65536;' in f.fix.content
    assert f.fix.content.startswith("boot.kernel.sysctl = {")


def test_apparmor_userns_restriction_warns(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.sysctl("kernel.apparmor_restrict_unprivileged_userns", 1)
    f = check(context(h), "userns.enabled")
    assert f.status == "warn" and "AppArmor" in f.summary


def test_userns_ok_and_rootful_skip(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    assert check(context(h), "userns.enabled").status == "ok"
    rootful = context(h, uid=0, info=podman_info(rootless=False))
    for cid in ("userns.enabled", "userns.subid", "device.fuse", "device.tun"):
        assert check(rootful, cid).status == "skip"


def test_fuse_not_usable_is_a_warning_on_new_kernels(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.device("/dev/fuse", 0o600)
    f = check(context(h), "device.fuse")
    assert f.status == "warn" and "/dev/fuse (mode 0600) not usable by alice" in f.summary
    assert f.fix.command == "sudo chmod 0666 /dev/fuse"


def test_fuse_needed_on_old_kernels(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.kernel("5.4.0-150-generic")
    h.remove("/usr/bin/fuse-overlayfs")
    f = check(context(h), "device.fuse")
    assert f.status == "fail"
    assert "fuse-overlayfs not installed" in f.summary and "kernel 5.4.0-150" in f.summary
    assert f.fix.command == "sudo apt-get install -y fuse-overlayfs"


def test_fuse_device_missing_suggests_modprobe(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.remove("/dev/fuse")
    f = check(context(h), "device.fuse")
    assert "/dev/fuse missing" in f.summary and f.fix.command == "sudo modprobe fuse"


def test_tun_not_usable(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.device("/dev/net/tun", 0o600)
    f = check(context(h), "device.tun")
    assert f.status == "fail" and "/dev/net/tun (mode 0600) not usable by alice" in f.summary
    assert f.fix.command == "sudo chmod 0666 /dev/net/tun"
    assert 'KERNEL=="tun"' in f.fix.note


@pytest.mark.skipif(os.geteuid() != 0, reason="giving the fixture file a group needs root")
def test_tun_usable_through_group_membership(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.device("/dev/net/tun", 0o660)
    # alice is a member of kvm (gid 104) in the fixture's /etc/group.
    os.chown(h.p("/dev/net/tun"), 0, 104)
    ctx = context(h)
    assert 104 in ctx.user.gids
    assert check(ctx, "device.tun").status == "ok"
    os.chown(h.p("/dev/net/tun"), 0, 105)
    assert check(context(h), "device.tun").status == "fail"


def test_tun_missing_and_no_network_helper(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.remove("/dev/net/tun")
    f = check(context(h), "device.tun")
    assert f.status == "fail" and f.fix.command == "sudo modprobe tun"
    h.device("/dev/net/tun", 0o666)
    h.remove("/usr/bin/slirp4netns")
    f = check(context(h), "device.tun")
    assert f.status == "fail" and "neither slirp4netns nor pasta" in f.summary
    h.binary("pasta")
    assert check(context(h), "device.tun").status == "ok"


def test_old_kernel_rootless(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.kernel("5.10.0-28-amd64")
    h.os_release(ID="fedora", PRETTY_NAME="Fedora")
    f = check(context(h), "kernel.version")
    assert f.status == "warn" and "< 5.11" in f.summary
    h.os_release(ID="debian", PRETTY_NAME="Debian 11")
    f = check(context(h), "kernel.version")
    assert f.status == "ok" and "debian kernels allow overlayfs" in f.summary
    h.kernel("6.8.0-45-generic")
    assert check(context(h), "kernel.version").status == "ok"
