"""Storage driver and ZFS datasets under the engine's data dir."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from doctor_fixtures import HOME, FakeHost, FakeRunner, check, context, docker_info, podman_info

DATA = f"{HOME}/.local/share/docker"


def _zfs_host(tmp_path: Path, version: str | None = "2.2.2-1") -> FakeHost:
    h = FakeHost.healthy(tmp_path)
    h.binary("docker")
    h.mounts(("/", "ext4", "/dev/sda1"), ("/home", "zfs", "rpool/home"))
    if version is not None:
        h.write("/sys/module/zfs/version", version + "\n")
    return h


def _zfs_runner(acltype: str, xattr: str) -> FakeRunner:
    r = FakeRunner()
    r.add(
        ["zfs", "get", "-H", "-o", "property,value", "acltype,xattr", "rpool/home"],
        f"acltype\t{acltype}\nxattr\t{xattr}\n",
    )
    return r


def _rootless_docker(driver: str = "overlay2", warnings: Sequence[str] = ()) -> dict[str, Any]:
    return docker_info(rootless=True, root_dir=DATA, driver=driver, warnings=warnings)


def test_overlay_ok(tmp_path: Path) -> None:
    f = check(context(FakeHost.healthy(tmp_path)), "storage.driver")
    assert f.status == "ok" and f.summary.startswith("overlay in ")


def test_vfs_warns_with_storage_conf(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    f = check(context(h, info=podman_info(driver="vfs")), "storage.driver")
    assert f.status == "warn" and "full copy" in f.summary
    assert f.fix.path == f"{HOME}/.config/containers/storage.conf"
    assert f.fix.content == '[storage]\ndriver = "overlay"\n'
    assert "podman system reset" in f.fix.note
    # It deletes images, so --fix must never apply it.
    assert not f.auto_fixable


def test_devicemapper_rootless_fails(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    info = _rootless_docker(
        driver="devicemapper",
        warnings=["WARNING: the devicemapper storage-driver is deprecated"],
    )
    f = check(context(h, provider="docker", info=info), "storage.driver")
    assert f.status == "fail" and "/dev/mapper/control: permission denied" in f.summary
    assert "deprecated" in f.summary
    assert f.fix.path == f"{HOME}/.config/docker/daemon.json"
    assert '"storage-driver": "overlay2"' in f.fix.content


def test_devicemapper_rootful_warns(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    ctx = context(h, provider="docker", info=docker_info(driver="devicemapper"), uid=0)
    f = check(ctx, "storage.driver")
    assert f.status == "warn" and f.fix.path == "/etc/docker/daemon.json"


def test_zfs_driver_rootless_docker_fails(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    f = check(context(h, provider="docker", info=_rootless_docker(driver="zfs")), "storage.driver")
    assert f.status == "fail" and "acltype=posixacl" in f.summary


def test_zfs_driver_rootful_ok(tmp_path: Path) -> None:
    h = _zfs_host(tmp_path)
    h.mounts(("/", "ext4", "/dev/sda1"), ("/var/lib/docker", "zfs", "rpool/docker"))
    ctx = context(h, provider="docker", info=docker_info(driver="zfs"), uid=0)
    assert check(ctx, "storage.driver").status == "ok"
    f = check(ctx, "storage.zfs")
    assert f.status == "ok" and "natively" in f.summary


def test_not_on_zfs_skips(tmp_path: Path) -> None:
    f = check(context(FakeHost.healthy(tmp_path)), "storage.zfs")
    assert f.status == "skip" and "ext4 (/home)" in f.summary


def test_zfs_without_posixacl_fails(tmp_path: Path) -> None:
    h = _zfs_host(tmp_path)
    ctx = context(h, provider="docker", info=_rootless_docker(), runner=_zfs_runner("off", "on"))
    assert ctx.zfs is not None and ctx.zfs.dataset == "rpool/home"
    f = check(ctx, "storage.zfs")
    assert f.status == "fail"
    assert "acltype=off (need posixacl)" in f.summary and "xattr=on" in f.summary
    assert f.fix.command == (
        "sudo zfs set acltype=posixacl rpool/home && sudo zfs set xattr=sa rpool/home"
    )


def test_old_openzfs_fails(tmp_path: Path) -> None:
    h = _zfs_host(tmp_path, "2.1.14-1")
    runner = _zfs_runner("posixacl", "sa")
    f = check(context(h, provider="docker", info=_rootless_docker(), runner=runner), "storage.zfs")
    assert f.status == "fail" and "OpenZFS 2.1.14-1 < 2.2.0" in f.summary
    assert "non-ZFS filesystem" in f.fix.note


def test_zfs_ok(tmp_path: Path) -> None:
    h = _zfs_host(tmp_path)
    runner = _zfs_runner("posixacl", "sa")
    f = check(context(h, provider="docker", info=_rootless_docker(), runner=runner), "storage.zfs")
    assert f.status == "ok" and "acltype=posixacl, xattr=sa" in f.summary


def test_zfs_xattr_only_warns(tmp_path: Path) -> None:
    h = _zfs_host(tmp_path)
    runner = _zfs_runner("posixacl", "on")
    f = check(context(h, provider="docker", info=_rootless_docker(), runner=runner), "storage.zfs")
    assert f.status == "warn" and "xattr=on (sa recommended)" in f.summary


def test_zfs_properties_unknown_warns_and_version_from_command(tmp_path: Path) -> None:
    h = _zfs_host(tmp_path, version=None)
    runner = FakeRunner()
    runner.add(["zfs", "version"], "zfs-2.2.4-1\nzfs-kmod-2.2.4-1\n")
    ctx = context(h, provider="docker", info=_rootless_docker(), runner=runner)
    assert ctx.zfs is not None and ctx.zfs.version == "2.2.4-1"
    f = check(ctx, "storage.zfs")
    assert f.status == "warn" and "acltype=unknown" in f.summary
