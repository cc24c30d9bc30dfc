"""Facts about the host that change how nodes are run, probed once into a value object.

Every probe reads below ``root`` so tests can point it at a fixture tree (fake /proc, /sys,
/etc). Nothing else in nestkube re-probes the host on its own: the facts are passed down.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

CgroupMode = Literal["v1", "hybrid", "v2"]

# Capability numbers from linux/capability.h, for reading CapBnd masks.
CAPABILITIES: dict[int, str] = {
    0: "CAP_CHOWN",
    1: "CAP_DAC_OVERRIDE",
    2: "CAP_DAC_READ_SEARCH",
    3: "CAP_FOWNER",
    4: "CAP_FSETID",
    5: "CAP_KILL",
    6: "CAP_SETGID",
    7: "CAP_SETUID",
    8: "CAP_SETPCAP",
    9: "CAP_LINUX_IMMUTABLE",
    10: "CAP_NET_BIND_SERVICE",
    11: "CAP_NET_BROADCAST",
    12: "CAP_NET_ADMIN",
    13: "CAP_NET_RAW",
    14: "CAP_IPC_LOCK",
    15: "CAP_IPC_OWNER",
    16: "CAP_SYS_MODULE",
    17: "CAP_SYS_RAWIO",
    18: "CAP_SYS_CHROOT",
    19: "CAP_SYS_PTRACE",
    20: "CAP_SYS_PACCT",
    21: "CAP_SYS_ADMIN",
    22: "CAP_SYS_BOOT",
    23: "CAP_SYS_NICE",
    24: "CAP_SYS_RESOURCE",
    25: "CAP_SYS_TIME",
    26: "CAP_SYS_TTY_CONFIG",
    27: "CAP_MKNOD",
    28: "CAP_LEASE",
    29: "CAP_AUDIT_WRITE",
    30: "CAP_AUDIT_CONTROL",
    31: "CAP_SETFCAP",
    32: "CAP_MAC_OVERRIDE",
    33: "CAP_MAC_ADMIN",
    34: "CAP_SYSLOG",
    35: "CAP_WAKE_ALARM",
    36: "CAP_BLOCK_SUSPEND",
    37: "CAP_AUDIT_READ",
    38: "CAP_PERFMON",
    39: "CAP_BPF",
    40: "CAP_CHECKPOINT_RESTORE",
}


@dataclass(frozen=True)
class HostFacts:
    """What the host allows. Defaults describe an unrestricted cgroup v2 host."""

    cgroup_mode: CgroupMode = "v2"
    # Controllers available in the cgroup2 root (v2) or unified mount (hybrid).
    cgroup2_controllers: frozenset[str] = frozenset()
    nofile_hard: int = 1 << 20
    nproc_hard: int = 1 << 22
    can_lower_oom_score_adj: bool = True
    # Capabilities absent from this process's bounding set (names, e.g. "CAP_SYS_MODULE").
    missing_capabilities: frozenset[str] = frozenset()
    # Capabilities present in the bounding set that still do not work (probed, not read).
    ineffective_capabilities: frozenset[str] = frozenset()
    kernel_release: str = ""
    uid: int = 0
    # Whether the host can bind IPv6 addresses: publishing a port on one needs it.
    ipv6: bool = True
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def cgroup_v2(self) -> bool:
        return self.cgroup_mode == "v2"


def read_cgroup_mode(root: Path) -> tuple[CgroupMode, frozenset[str]]:
    """v2 when /sys/fs/cgroup is cgroup2, hybrid when v1 with a cgroup2 'unified' beside it."""
    cg = root / "sys/fs/cgroup"
    if (cg / "cgroup.controllers").is_file():
        return "v2", _controllers(cg / "cgroup.controllers")
    unified = cg / "unified/cgroup.controllers"
    if unified.is_file():
        return "hybrid", _controllers(unified)
    return "v1", frozenset()


def _controllers(path: Path) -> frozenset[str]:
    try:
        return frozenset(path.read_text().split())
    except OSError:
        return frozenset()


def read_missing_capabilities(root: Path) -> frozenset[str]:
    """Capabilities (of those the kernel knows) absent from /proc/self/status CapBnd."""
    status = root / "proc/self/status"
    try:
        lines = status.read_text().splitlines()
    except OSError:
        return frozenset()
    mask = next((int(ln.split()[1], 16) for ln in lines if ln.startswith("CapBnd:")), None)
    if mask is None:
        return frozenset()
    last_cap = _last_cap(root)
    return frozenset(
        name for bit, name in CAPABILITIES.items() if bit <= last_cap and not mask >> bit & 1
    )


def _last_cap(root: Path) -> int:
    try:
        return int((root / "proc/sys/kernel/cap_last_cap").read_text().strip())
    except (OSError, ValueError):
        return max(CAPABILITIES)


def can_lower_oom_score_adj() -> bool:
    """Try, in a throwaway child, to lower oom_score_adj below the current value.

    Reading a file cannot answer this: on restricted hosts CAP_SYS_RESOURCE is in the bounding
    set yet lowering still fails, which is exactly what breaks runc under a kubelet.
    """
    code = (
        "import sys\n"
        "p='/proc/self/oom_score_adj'\n"
        "cur=int(open(p).read())\n"
        "target=max(-1000,cur-1)\n"
        "try:\n"
        "    open(p,'w').write(str(target))\n"
        "except OSError:\n"
        "    sys.exit(1)\n"
        "sys.exit(0 if int(open(p).read())==target else 1)\n"
    )
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def can_bind_ipv6() -> bool:
    """Whether an IPv6 socket can bind the loopback address (off when IPv6 is disabled)."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def probe_host(root: Path = Path("/"), *, probe_oom: bool = True) -> HostFacts:
    """Probe the running host (or a fixture tree at ``root``)."""
    mode, controllers = read_cgroup_mode(root)
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    oom_ok = can_lower_oom_score_adj() if probe_oom else True
    missing = read_missing_capabilities(root)
    ineffective = frozenset() if oom_ok else frozenset({"CAP_SYS_RESOURCE"}) - missing
    return HostFacts(
        cgroup_mode=mode,
        cgroup2_controllers=controllers,
        nofile_hard=_limit(nofile),
        nproc_hard=_limit(nproc),
        can_lower_oom_score_adj=oom_ok,
        missing_capabilities=missing,
        ineffective_capabilities=ineffective,
        kernel_release=os.uname().release,
        uid=os.getuid(),
        ipv6=can_bind_ipv6(),
    )


def _limit(value: int) -> int:
    return (1 << 31) if value == resource.RLIM_INFINITY else value
