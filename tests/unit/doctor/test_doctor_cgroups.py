"""cgroup version, delegation to user@UID.service and systemd's version."""

from __future__ import annotations

from pathlib import Path

import pytest
from doctor_fixtures import FakeHost, check, context, podman_info


def _hybrid(tmp_path: Path) -> FakeHost:
    h = FakeHost.healthy(tmp_path)
    h.remove("/sys/fs/cgroup/cgroup.controllers")
    h.cgroup_hybrid("hugetlb")
    return h


def test_cgroup_v2_ok(tmp_path: Path) -> None:
    f = check(context(FakeHost.healthy(tmp_path)), "cgroup.version")
    assert f.status == "ok" and f.summary.startswith("cgroup v2")
    assert "cpuset" in f.summary


def test_hybrid_rootless_fails_with_kernel_parameter(tmp_path: Path) -> None:
    ctx = context(_hybrid(tmp_path))
    assert ctx.host.cgroup_mode == "hybrid"
    f = check(ctx, "cgroup.version")
    assert f.status == "fail"
    assert "hybrid cgroups" in f.summary and "rootless clusters cannot run here" in f.summary
    assert "/sys/fs/cgroup/unified with hugetlb" in f.summary
    assert f.fix.kind == "command"
    assert "systemd.unified_cgroup_hierarchy=1" in f.fix.command
    assert "/etc/default/grub" in f.fix.command and "update-grub" in f.fix.command
    # One cause, one failure: delegation is skipped rather than failed a second time.
    assert check(ctx, "cgroup.delegation").status == "skip"


def test_hybrid_rootful_is_a_warning(tmp_path: Path) -> None:
    ctx = context(_hybrid(tmp_path), uid=0)
    f = check(ctx, "cgroup.version")
    assert f.status == "warn" and "rootful nodes work" in f.summary


def test_cgroup_v1_rootless_fails(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.remove("/sys/fs/cgroup/cgroup.controllers")
    h.cgroup_v1()
    f = check(context(h), "cgroup.version")
    assert f.status == "fail" and f.summary.startswith("cgroup v1:")


def test_cgroup_fix_on_fedora_uses_grubby_and_on_nixos_kernel_params(tmp_path: Path) -> None:
    h = _hybrid(tmp_path)
    h.os_release(ID="fedora", PRETTY_NAME="Fedora Linux 40")
    f = check(context(h), "cgroup.version")
    assert f.fix.command.startswith("sudo grubby --update-kernel=ALL")
    h.nixos()
    f = check(context(h), "cgroup.version")
    assert f.fix.kind == "nix"
    assert f.fix.content == 'boot.kernelParams = [ "systemd.unified_cgroup_hierarchy=1" ];'


def test_partial_delegation_cpuset_is_not_cpu(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.delegate("cpuset io memory pids")
    f = check(context(h), "cgroup.delegation")
    assert f.status == "fail"
    assert "missing controller(s) cpu " in f.summary
    assert "user@1000.service" in f.summary
    assert f.fix.kind == "file"
    assert f.fix.path == "/etc/systemd/system/user@.service.d/delegate.conf"
    assert f.fix.content == "[Service]\nDelegate=yes\n"
    assert f.fix.then == "sudo systemctl daemon-reload"
    assert f.fix.needs_root and not f.auto_fixable


def test_delegation_reads_the_service_not_the_slice(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.slice_controllers("cpuset cpu io memory pids")
    h.delegate("memory pids")
    f = check(context(h), "cgroup.delegation")
    assert f.status == "fail" and "cpu" in f.summary and "(has: memory pids)" in f.summary


@pytest.mark.parametrize(
    ("controllers", "note"),
    [
        ("cpu cpuset io memory pids", ""),
        ("cpu memory pids", "not delegated (optional): cpuset io"),
    ],
)
def test_full_delegation_ok(tmp_path: Path, controllers: str, note: str) -> None:
    h = FakeHost.healthy(tmp_path)
    h.delegate(controllers)
    f = check(context(h), "cgroup.delegation")
    assert f.status == "ok"
    assert note in f.summary


def test_delegation_fix_on_nixos(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.nixos()
    h.delegate("memory pids")
    f = check(context(h), "cgroup.delegation")
    assert f.fix.kind == "nix"
    assert f.fix.content == 'systemd.services."user@".serviceConfig.Delegate = "yes";'


def test_no_user_manager_suggests_linger(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.remove("/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/cgroup.controllers")
    f = check(context(h), "cgroup.delegation")
    assert f.status == "fail" and "no user@1000.service cgroup" in f.summary
    assert f.fix.command == "sudo loginctl enable-linger alice"


def test_no_systemd_at_all(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.remove("/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/cgroup.controllers")
    h.remove("/run/systemd/system/.keep")
    h.p("/run/systemd/system").rmdir()
    h.write("/proc/1/comm", "tini\n")
    f = check(context(h), "cgroup.delegation")
    assert f.status == "fail" and "PID 1 is tini" in f.summary


def test_rootful_skips_delegation(tmp_path: Path) -> None:
    ctx = context(FakeHost.healthy(tmp_path), uid=0, info=podman_info(rootless=False))
    assert check(ctx, "cgroup.delegation").status == "skip"
    assert check(ctx, "systemd.version").status == "skip"


def test_old_systemd_without_dropin_warns(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    f = check(context(h, systemd="systemd 247 (247.3-7+deb11u4)"), "systemd.version")
    assert f.status == "warn" and "systemd 247 < 252" in f.summary
    assert f.fix.path == "/etc/systemd/system/user@.service.d/delegate.conf"


def test_old_systemd_with_dropin_ok(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.write("/etc/systemd/system/user@.service.d/10-delegate.conf", "[Service]\nDelegate=yes\n")
    f = check(context(h, systemd="systemd 247 (247.3-7+deb11u4)"), "systemd.version")
    assert f.status == "ok" and "10-delegate.conf" in f.summary


def test_new_systemd_ok_and_notes_when_not_pid1(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    f = check(context(h, systemd="systemd 252 (252.38-1~deb12u1)"), "systemd.version")
    assert f.status == "ok" and "delegates cpu by default" in f.summary
    h.remove("/run/systemd/system/.keep")
    h.p("/run/systemd/system").rmdir()
    h.write("/proc/1/comm", "process_api\n")
    f = check(context(h), "systemd.version")
    assert "PID 1 is process_api" in f.summary


def test_rootful_v1_says_cgroup_v1_is_deprecated_upstream(tmp_path: Path) -> None:
    f = check(context(_hybrid(tmp_path), uid=0), "cgroup.version")
    assert f.status == "warn"
    assert "deprecated upstream" in f.summary and "failCgroupV1: false" in f.summary
    assert "systemd.unified_cgroup_hierarchy=1" in f.fix.command
