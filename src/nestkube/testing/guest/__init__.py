"""A cgroup-v2 test guest: Debian 12 under qemu, for what this host cannot run itself.

The CI hosts are cgroup v1 hybrid, where no rootless kubelet can run. The guest is a real
cgroup-v2 systemd host made from Debian's packages (:mod:`.image`), booted with KVM when KVM
works and with TCG otherwise, and driven by an agent over virtio-serial (:mod:`.vm`). Nothing
inside it reaches a network; files come in on a read-only second drive.
"""

from nestkube.testing.guest.image import USER, GuestDisk, guest_disk
from nestkube.testing.guest.vm import (
    PAYLOAD_MOUNT,
    Guest,
    GuestCommandError,
    GuestError,
    GuestResult,
    make_payload,
)

__all__ = [
    "PAYLOAD_MOUNT",
    "USER",
    "Guest",
    "GuestCommandError",
    "GuestDisk",
    "GuestError",
    "GuestResult",
    "guest_disk",
    "make_payload",
]
