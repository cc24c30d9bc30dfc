"""The guest's disk: a Debian 12 root from Debian's packages, cached by content.

Two levels, so that changing the guest's setup does not fetch packages again: the debootstrap
rootfs (packages only, minutes) and the disk made from it (the setup below and the agent,
about a minute). The disk is never written: each boot runs on a qcow2 overlay of it.

The guest is left as a new Debian 12 install would be for what nestkube's doctor checks
(cgroup delegation as Debian ships it: memory and pids; no linger; no kernel modules
preloaded): the rootless tests watch `doctor --fix` change it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nestkube import _exec
from nestkube.cache import cache_root, content_key, file_sha256
from nestkube.errors import ImageBuildError
from nestkube.kit.base_image import MIRROR, SUITE, debootstrap_tarball
from nestkube.status import SILENT, Status

AGENT = Path(__file__).with_name("agent.py")
RECIPE = "guest-1"
USER = "nk"
USER_UID = 1000
DISK_SIZE = "24G"

# Debian's own packages for a rootless container host. dbus and containernetworking-plugins
# are named because debootstrap does not resolve the virtual packages that pull them in.
PACKAGES = (
    "systemd", "systemd-sysv", "udev", "kmod", "linux-image-amd64", "dbus", "dbus-user-session",
    "libpam-systemd", "procps", "iproute2", "iptables", "python3", "python3-venv",
    "podman", "uidmap", "slirp4netns", "fuse-overlayfs", "crun", "runc", "catatonit",
    "containernetworking-plugins", "docker.io", "rootlesskit", "sudo",
)  # fmt: skip

# Units a test VM has no use for: they only spend the emulated CPU. Rootful Docker too: the
# guest runs Docker rootless, started by the tests as its user.
MASKED = (
    "apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer", "fstrim.timer",
    "man-db.timer", "serial-getty@ttyS0.service", "getty@tty1.service",
    "docker.service", "docker.socket", "containerd.service", "systemd-timesyncd.service",
)  # fmt: skip

AGENT_UNIT = """\
[Unit]
Description=nestkube test agent (commands from the host over virtio-serial)
After=systemd-modules-load.service local-fs.target

[Service]
ExecStart=/usr/bin/python3 /usr/local/lib/nestkube-guest/agent.py
Restart=always
RestartSec=1

[Install]
WantedBy=multi-user.target
"""

SETUP = f"""\
set -eu
echo nestkube-guest > /etc/hostname
printf '127.0.0.1 localhost\\n127.0.1.1 nestkube-guest\\n::1 localhost\\n' > /etc/hosts
: > /etc/resolv.conf
useradd --create-home --shell /bin/bash --uid {USER_UID} {USER}
grep -q '^{USER}:' /etc/subuid || echo '{USER}:100000:65536' >> /etc/subuid
grep -q '^{USER}:' /etc/subgid || echo '{USER}:100000:65536' >> /etc/subgid
# A developer's sudo, without the password prompt a test cannot answer.
echo '{USER} ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/{USER}
chmod 0440 /etc/sudoers.d/{USER}
echo virtio_console > /etc/modules-load.d/nestkube-agent.conf
mkdir -p /usr/local/lib/nestkube-guest /mnt/payload
systemctl enable nestkube-guest-agent.service
for unit in {" ".join(MASKED)}; do systemctl mask "$unit"; done
rm -f /var/cache/apt/archives/*.deb /var/lib/apt/lists/*_Packages
"""


@dataclass(frozen=True)
class GuestDisk:
    """A cached guest disk and the kernel that boots it."""

    root: Path
    kernel: Path
    initrd: Path
    key: str


def rootfs_key() -> str:
    return content_key([RECIPE, SUITE, MIRROR, *PACKAGES])


def disk_key() -> str:
    return content_key([rootfs_key(), SETUP, AGENT_UNIT, file_sha256(AGENT), DISK_SIZE])


def _need_root(what: str) -> None:
    if os.geteuid() != 0:
        raise ImageBuildError(f"building the guest {what} needs root (chroot, mkfs)")


def guest_rootfs(status: Status = SILENT) -> Path:
    """The cached debootstrap rootfs tarball of the guest."""
    final = cache_root() / "guest" / "rootfs" / f"{rootfs_key()}.tar"
    return debootstrap_tarball(final, PACKAGES, f"the Debian {SUITE} guest", status)


def guest_disk(status: Status = SILENT) -> GuestDisk:
    """The cached guest disk (raw ext4), made from the rootfs when its recipe changed."""
    key = disk_key()
    final = cache_root() / "guest" / "disk" / key
    disk = GuestDisk(final / "root.img", final / "vmlinuz", final / "initrd.img", key)
    if final.is_dir():
        return disk
    tarball = guest_rootfs(status)
    _need_root("disk")
    for tool in ("mkfs.ext4", "chroot"):
        if not shutil.which(tool):
            raise ImageBuildError(f"{tool} not found: apt-get install e2fsprogs coreutils")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="disk.", dir=final.parent))
    try:
        root = tmp / "root"
        root.mkdir()
        with status.step("Making the guest disk"):
            _exec.run(
                ["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-xf", str(tarball)],
                what="untar guest rootfs",
                timeout=900,
            )
            lib = root / "usr/local/lib/nestkube-guest"
            lib.mkdir(parents=True, exist_ok=True)
            shutil.copy2(AGENT, lib / "agent.py")
            unit = root / "etc/systemd/system/nestkube-guest-agent.service"
            unit.write_text(AGENT_UNIT)
            _exec.run(
                ["chroot", str(root), "/bin/sh", "-c", SETUP],
                what="guest setup",
                timeout=300,
            )
            out = tmp / "out"
            out.mkdir()
            kernels = sorted((root / "boot").glob("vmlinuz-*"))
            initrds = sorted((root / "boot").glob("initrd.img-*"))
            if not kernels or not initrds:
                raise ImageBuildError("the guest rootfs has no kernel or initrd under /boot")
            shutil.copy2(kernels[-1], out / "vmlinuz")
            shutil.copy2(initrds[-1], out / "initrd.img")
            _exec.run(
                [
                    "mkfs.ext4",
                    "-q",
                    "-L",
                    "nestkube-guest",
                    "-d",
                    str(root),
                    str(out / "root.img"),
                    DISK_SIZE,
                ],
                what="mkfs.ext4 guest disk",
                timeout=900,
            )
        os.replace(out, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return disk
