"""Every check, in the order the report shows them. Each is a pure function of the context,
and lives in the module its id starts with (``kernel.version`` in checks/kernel.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from nestkube.doctor.checks import (
    cgroup,
    device,
    engine,
    host,
    kernel,
    podman,
    resources,
    runners,
    storage,
    sysctl,
    systemd,
    userns,
)
from nestkube.doctor.context import DoctorContext
from nestkube.doctor.model import Finding

Check = Callable[[DoctorContext], Finding]

CHECKS: dict[str, Check] = {
    "host.os": host.check_os,
    "engine.present": engine.check_present,
    "engine.version": engine.check_version,
    "engine.mode": engine.check_mode,
    "engine.endpoint": engine.check_endpoint,
    "cgroup.version": cgroup.check_version,
    "cgroup.delegation": cgroup.check_delegation,
    "systemd.version": systemd.check_systemd,
    "userns.subid": userns.check_subid,
    "userns.enabled": userns.check_userns,
    "device.fuse": device.check_fuse,
    "device.tun": device.check_tun,
    "kernel.version": kernel.check_kernel,
    "kernel.iptables-modules": kernel.check_modules,
    "storage.driver": storage.check_driver,
    "storage.zfs": storage.check_zfs,
    "sysctl.inotify": sysctl.check_inotify,
    "sysctl.unprivileged-ports": sysctl.check_unprivileged_ports,
    "sysctl.dmesg-restrict": sysctl.check_dmesg,
    "podman.pids-limit": podman.check_pids_limit,
    "host.capabilities": host.check_capabilities,
    "host.oom-score-adj": host.check_oom,
    "host.rlimits": host.check_rlimits,
    "host.oci-runtime": host.check_runtime,
    "host.proxy": host.check_proxy,
    "resources.memory": resources.check_memory,
    "resources.disk": resources.check_disk,
    "runners.helm": runners.check_helm,
}

# What `create cluster` re-checks: whatever can stop nodes from starting, read from files
# and the facts already probed, so it costs no engine call and no time worth noticing.
PREFLIGHT: tuple[str, ...] = (
    "engine.version",
    "engine.mode",
    "cgroup.version",
    "cgroup.delegation",
    "userns.subid",
    "userns.enabled",
    "device.fuse",
    "device.tun",
    "kernel.iptables-modules",
    "storage.driver",
    "storage.zfs",
    "sysctl.unprivileged-ports",
    "host.capabilities",
    "host.oom-score-adj",
    "host.rlimits",
    "host.oci-runtime",
    "resources.memory",
    "resources.disk",
)


def run_checks(ctx: DoctorContext, ids: Iterable[str] | None = None) -> list[Finding]:
    """Run the named checks (all by default) in report order."""
    wanted = set(CHECKS) if ids is None else set(ids)
    unknown = wanted - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown check id(s): {', '.join(sorted(unknown))}")
    return [check(ctx) for cid, check in CHECKS.items() if cid in wanted]
