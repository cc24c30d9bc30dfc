"""Where and how the engine stores images: its storage driver and, on ZFS, the dataset."""

from __future__ import annotations

import json

from nestkube.doctor import fixes
from nestkube.doctor.context import DoctorContext
from nestkube.doctor.model import Finding, Fix, Status, fail, ok, skip, warn, worst
from nestkube.providers.facts import parse_version

GOOD_DRIVERS = {
    "podman": {"overlay", "btrfs"},
    "docker": {"overlay2", "overlay", "fuse-overlayfs", "btrfs"},
    "nerdctl": {"overlayfs", "fuse-overlayfs", "stargz", "btrfs"},
}
# OpenZFS 2.2 is the first release on which overlayfs (so overlay2) works over ZFS.
ZFS_OVERLAY = (2, 2, 0)


def _docker_daemon_json(ctx: DoctorContext) -> str:
    if ctx.rootless:
        return f"{ctx.user.home.rstrip('/')}/.config/docker/daemon.json"
    return "/etc/docker/daemon.json"


def _restart_docker(ctx: DoctorContext) -> str:
    if ctx.platform.init == "openrc":
        return "rc-service docker restart"
    if ctx.platform.init == "systemd":
        return "systemctl restart docker"
    # No service manager: restart by hand (a storage driver change needs a full restart).
    return "kill $(pidof dockerd) && dockerd >/var/log/dockerd.log 2>&1 &"


def _overlay_fix(ctx: DoctorContext) -> Fix:
    """Switch the engine to overlay; both ways lose the images stored under the old driver."""
    p = ctx.provider
    if p == "docker":
        path = _docker_daemon_json(ctx)
        content = json.dumps({"storage-driver": "overlay2"}, indent=2) + "\n"
        restart = "systemctl --user restart docker" if ctx.rootless else _restart_docker(ctx)
        note = "merge into an existing daemon.json; images under the old driver are hidden"
        if ctx.rootless:
            return Fix("file", path=path, content=content, then=restart, note=note)
        return fixes.root_file(ctx, path, content, then=restart, note=note)
    if p == "podman":
        content = '[storage]\ndriver = "overlay"\n'
        note = (
            "`podman system reset` first: it deletes every image and container. If overlay "
            'then fails, set mount_program = "/usr/bin/fuse-overlayfs" under '
            "[storage.options.overlay] (needs /dev/fuse, see device.fuse)"
        )
        if ctx.rootless:
            path = f"{ctx.user.home.rstrip('/')}/.config/containers/storage.conf"
            return Fix("file", path=path, content=content, action="merge", note=note)
        return fixes.root_file(ctx, "/etc/containers/storage.conf", content, note=note)
    return Fix(note="set containerd's snapshotter to overlayfs (nerdctl --snapshotter overlayfs)")


def check_driver(ctx: DoctorContext) -> Finding:
    e = ctx.engine
    driver = e.storage_driver.lower()
    if not driver:
        return skip("storage.driver", "storage driver unknown (see engine.present)")
    where = f" in {e.data_root}" if e.data_root else ""
    if driver in GOOD_DRIVERS[e.provider]:
        return ok("storage.driver", f"{driver}{where}")
    if driver == "devicemapper":
        dm_warnings = [w for w in e.warnings if "devicemapper" in w or "loop" in w]
        extra = f" (engine says: {dm_warnings[0].strip()})" if dm_warnings else ""
        if ctx.rootless:
            return fail(
                "storage.driver",
                "devicemapper cannot work rootless: node creation fails with "
                f"'/dev/mapper/control: permission denied'{extra}",
                _overlay_fix(ctx),
            )
        return warn(
            "storage.driver",
            f"devicemapper is deprecated (removed in Docker 25) and slow for nodes{extra}",
            _overlay_fix(ctx),
        )
    if driver == "zfs":
        if ctx.rootless:
            return fail(
                "storage.driver",
                "zfs storage driver under a rootless engine: it cannot create datasets; use "
                "overlay2 on a dataset with acltype=posixacl (see storage.zfs)",
                _overlay_fix(ctx),
            )
        return ok("storage.driver", f"zfs{where}")
    if driver in ("vfs", "native"):
        return warn(
            "storage.driver",
            f"{driver}{where}: every layer is a full copy, so node images use several GiB each "
            "and nodes start slowly",
            _overlay_fix(ctx),
        )
    return warn("storage.driver", f"{driver}{where}: not a driver nestkube is tested with")


def check_zfs(ctx: DoctorContext) -> Finding:
    m = ctx.data_mount
    if m is None or m.fstype != "zfs" or ctx.zfs is None:
        fs = f"{m.fstype} ({m.mount_point})" if m else "an unknown filesystem"
        return skip("storage.zfs", f"engine data dir {ctx.data_dir} is on {fs}, not ZFS")
    z = ctx.zfs
    driver = ctx.engine.storage_driver.lower()
    if driver == "zfs" and not ctx.rootless:
        return ok("storage.zfs", f"{z.dataset}: the engine uses ZFS datasets natively")
    problems: list[str] = []
    level: Status = "ok"
    version = parse_version(z.version) if z.version else None
    if version is None:
        problems.append("OpenZFS version unknown")
        level = worst(level, "warn")
    elif version < ZFS_OVERLAY:
        problems.append(f"OpenZFS {z.version} < 2.2.0 has no overlayfs support")
        level = worst(level, "fail")
    if z.acltype != "posixacl":
        problems.append(f"acltype={z.acltype or 'unknown'} (need posixacl)")
        # Unknown (no zfs command to ask) is not proof of a wrong setting.
        level = worst(level, "fail" if z.acltype else "warn")
    if z.xattr != "sa":
        problems.append(f"xattr={z.xattr or 'unknown'} (sa recommended)")
        level = worst(level, "warn")
    if level == "ok":
        return ok("storage.zfs", f"{z.dataset}: OpenZFS {z.version}, acltype=posixacl, xattr=sa")
    cmd = f"zfs set acltype=posixacl {z.dataset} && zfs set xattr=sa {z.dataset}"
    note = (
        "OpenZFS older than 2.2.0 cannot host overlay storage at all: upgrade it, or move the "
        f"engine's data dir ({ctx.data_dir}) to a non-ZFS filesystem"
    )
    return Finding(
        "storage.zfs",
        level,
        f"engine data on ZFS dataset {z.dataset}: {'; '.join(problems)}",
        fixes.command(ctx, cmd, note=note),
    )
