"""Fixture host trees for doctor tests: a fake /proc, /sys, /etc, /dev under tmp_path, engine
info JSON shaped like the engines' own, and a fake command runner.

``FakeHost.healthy`` builds a cgroup v2 host on which a rootless Podman user passes every check;
each test then breaks exactly one thing.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nestkube._exec import Result
from nestkube.doctor.checks import CHECKS
from nestkube.doctor.context import DoctorContext, gather_context
from nestkube.doctor.model import Finding
from nestkube.host import HostFacts, probe_host
from nestkube.providers.base import ProviderName

GIB = 1 << 30
USER = "alice"
UID = 1000
HOME = f"/home/{USER}"
FULL_CAPS = "000001ffffffffff"


class FakeRunner:
    """Answers commands by (program basename, *args); records every call."""

    def __init__(self, answers: Mapping[tuple[str, ...], Result] | None = None) -> None:
        self.answers: dict[tuple[str, ...], Result] = dict(answers or {})
        self.calls: list[list[str]] = []

    def add(self, args: Sequence[str], stdout: str = "", rc: int = 0, stderr: str = "") -> None:
        self.answers[tuple(args)] = Result(list(args), rc, stdout, stderr)

    def __call__(self, args: Sequence[str]) -> Result:
        argv = list(args)
        self.calls.append(argv)
        key = (Path(argv[0]).name, *argv[1:])
        return self.answers.get(key, Result(argv, 127, "", f"{argv[0]}: not found"))


class ForbiddenRunner:
    """A runner that fails the test if anything is run (preflight must run nothing)."""

    def __call__(self, args: Sequence[str]) -> Result:
        raise AssertionError(f"no command may run here, but got {args}")


def podman_info(
    *,
    rootless: bool = True,
    version: str = "4.9.3",
    driver: str = "overlay",
    graph_root: str = f"{HOME}/.local/share/containers/storage",
    runtime: str = "crun",
    cgroup: str = "v2",
    remote: bool = False,
) -> dict[str, Any]:
    sock = f"/run/user/{UID}/podman/podman.sock" if rootless else "/run/podman/podman.sock"
    return {
        "host": {
            "cgroupManager": "systemd",
            "cgroupVersion": cgroup,
            "ociRuntime": {"name": runtime, "path": f"/usr/bin/{runtime}"},
            "remoteSocket": {"path": sock},
            "serviceIsRemote": remote,
            "security": {"rootless": rootless, "seccompEnabled": True},
        },
        "store": {"graphDriverName": driver, "graphRoot": graph_root},
        "version": {"Version": version, "APIVersion": version},
    }


def docker_info(
    *,
    rootless: bool = False,
    version: str = "24.0.7",
    driver: str = "overlay2",
    root_dir: str = "/var/lib/docker",
    runtime: str = "runc",
    warnings: Sequence[str] = (),
    context: str = "default",
) -> dict[str, Any]:
    security = ["name=seccomp,profile=builtin", "name=cgroupns"]
    if rootless:
        security.append("name=rootless")
    return {
        "ServerVersion": version,
        "Driver": driver,
        "DockerRootDir": root_dir,
        "CgroupVersion": "2",
        "DefaultRuntime": runtime,
        "Runtimes": {"runc": {"path": "runc"}, runtime: {"path": runtime}},
        "SecurityOptions": security,
        "Warnings": list(warnings) or None,
        "ClientInfo": {"Context": context},
    }


def docker_down() -> dict[str, Any]:
    """What a docker 20.10 client prints when the daemon is not running."""
    return {
        "ServerErrors": [
            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
            "Is the docker daemon running?"
        ],
        "ClientInfo": {"Context": "default"},
    }


def nerdctl_info(
    *, rootless: bool = True, containerd: str = "v1.7.13", client: str = "v1.7.6"
) -> dict[str, Any]:
    security = ["name=seccomp,profile=default", "name=cgroupns"]
    if rootless:
        security.append("name=rootless")
    return {
        "ServerVersion": containerd,
        "Driver": "overlayfs",
        "CgroupVersion": "2",
        "SecurityOptions": security,
        "nerdctl_version": {"Client": {"Version": client}},
    }


class FakeHost:
    """A host tree under ``root``. Paths given to methods are absolute host paths."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def p(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def write(self, path: str, content: str | bytes, mode: int | None = None) -> Path:
        target = self.p(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
        if mode is not None:
            target.chmod(mode)
        return target

    def remove(self, path: str) -> None:
        self.p(path).unlink()

    def sysctl(self, name: str, value: str | int) -> None:
        self.write("/proc/sys/" + name.replace(".", "/"), f"{value}\n")

    def binary(self, name: str, directory: str = "/usr/bin") -> None:
        self.write(f"{directory}/{name}", "#!/bin/sh\n", 0o755)

    def cgroup_v2(self, controllers: str = "cpuset cpu io memory hugetlb pids rdma misc") -> None:
        self.write("/sys/fs/cgroup/cgroup.controllers", controllers + "\n")

    def cgroup_hybrid(self, unified: str = "") -> None:
        for c in ("cpu", "memory", "pids"):
            self.p(f"/sys/fs/cgroup/{c}").mkdir(parents=True, exist_ok=True)
        self.write("/sys/fs/cgroup/unified/cgroup.controllers", unified + "\n")

    def cgroup_v1(self) -> None:
        for c in ("cpu", "memory", "pids"):
            self.p(f"/sys/fs/cgroup/{c}").mkdir(parents=True, exist_ok=True)

    def delegate(self, controllers: str, uid: int = UID) -> None:
        self.write(
            f"/sys/fs/cgroup/user.slice/user-{uid}.slice/user@{uid}.service/cgroup.controllers",
            controllers + "\n",
        )

    def slice_controllers(self, controllers: str, uid: int = UID) -> None:
        self.write(
            f"/sys/fs/cgroup/user.slice/user-{uid}.slice/cgroup.controllers", controllers + "\n"
        )

    def device(self, path: str, mode: int) -> None:
        self.write(path, "", mode)

    def os_release(self, **fields: str) -> None:
        self.write("/etc/os-release", "".join(f'{k}="{v}"\n' for k, v in fields.items()))

    def nixos(self) -> None:
        self.os_release(ID="nixos", NAME="NixOS", PRETTY_NAME="NixOS 24.05 (Uakari)")
        self.write("/etc/NIXOS", "")

    def kernel(self, release: str) -> None:
        self.write("/proc/sys/kernel/osrelease", release + "\n")

    def proc_modules(self, *names: str) -> None:
        self.write(
            "/proc/modules",
            "".join(f"{n} 16384 1 - Live 0x0000000000000000\n" for n in names),
        )

    def kernel_config(self, **symbols: str) -> None:
        lines = [f"# {k} is not set" if v == "n" else f"{k}={v}" for k, v in symbols.items()]
        self.write("/proc/config.gz", gzip.compress(("\n".join(lines) + "\n").encode()))

    def mounts(self, *entries: tuple[str, str, str]) -> None:
        lines = [
            f"{i + 20} 1 0:{i} / {point} rw,relatime shared:{i} - {fstype} {source} rw"
            for i, (point, fstype, source) in enumerate(entries)
        ]
        self.write("/proc/self/mountinfo", "\n".join(lines) + "\n")

    def meminfo(self, total: int, available: int) -> None:
        self.write(
            "/proc/meminfo",
            f"MemTotal: {total // 1024} kB\nMemFree: {available // 1024} kB\n"
            f"MemAvailable: {available // 1024} kB\n",
        )

    def capbnd(self, mask: str) -> None:
        self.write(
            "/proc/self/status",
            f"Name:\tpython\nCapInh:\t0000000000000000\nCapBnd:\t{mask}\n",
        )
        self.write("/proc/sys/kernel/cap_last_cap", "40\n")

    def docker_context(self, name: str, host: str, home: str = HOME) -> None:
        self.write(f"{home}/.docker/config.json", json.dumps({"currentContext": name}))
        digest = hashlib.sha256(name.encode()).hexdigest()
        meta = {"Name": name, "Endpoints": {"docker": {"Host": host}}}
        self.write(f"{home}/.docker/contexts/meta/{digest}/meta.json", json.dumps(meta))

    @classmethod
    def healthy(cls, root: Path, *, uid: int = UID, user: str = USER) -> FakeHost:
        h = cls(root)
        h.os_release(ID="debian", NAME="Debian GNU/Linux", PRETTY_NAME="Debian GNU/Linux 12")
        h.kernel("6.1.0-18-amd64")
        h.write(
            "/etc/passwd",
            f"root:x:0:0:root:/root:/bin/bash\n{user}:x:{uid}:{uid}::/home/{user}:/bin/bash\n",
        )
        h.write("/etc/group", f"root:x:0:\n{user}:x:{uid}:\nkvm:x:104:{user}\n")
        h.write("/etc/subuid", f"{user}:100000:65536\n")
        h.write("/etc/subgid", f"{user}:100000:65536\n")
        h.cgroup_v2()
        h.delegate("cpu io memory pids", uid)
        h.write("/run/systemd/system/.keep", "")
        h.write("/proc/1/comm", "systemd\n")
        h.capbnd(FULL_CAPS)
        for name, value in {
            "user.max_user_namespaces": 63000,
            "fs.inotify.max_user_watches": 524288,
            "fs.inotify.max_user_instances": 512,
            "net.ipv4.ip_unprivileged_port_start": 1024,
            "kernel.dmesg_restrict": 0,
        }.items():
            h.sysctl(name, value)
        h.device("/dev/fuse", 0o666)
        h.device("/dev/net/tun", 0o666)
        for b in (
            "podman",
            "fuse-overlayfs",
            "slirp4netns",
            "runc",
            "crun",
            "newuidmap",
            "newgidmap",
            "systemctl",
        ):
            h.binary(b)
        h.proc_modules("ip_tables", "iptable_nat", "ip6_tables", "ip6table_nat", "overlay")
        h.mounts(("/", "ext4", "/dev/sda1"), ("/home", "ext4", "/dev/sda2"))
        h.meminfo(16 * GIB, 12 * GIB)
        h.write(
            f"/home/{user}/.config/containers/containers.conf", "[containers]\npids_limit = 0\n"
        )
        h.write("/etc/default/grub", 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX=""\n')
        h.write("/proc/cmdline", "BOOT_IMAGE=/vmlinuz-6.1.0-18-amd64 root=/dev/sda1 ro quiet\n")
        return h

    # --- how the host boots and runs (doctor/platform.py) ---------------------------------
    def no_grub(self) -> None:
        self.remove("/etc/default/grub")

    def cmdline(self, text: str) -> None:
        self.write("/proc/cmdline", text + "\n")

    def openrc(self) -> None:
        """Alpine: OpenRC on busybox init, no systemd at all."""
        self.os_release(ID="alpine", NAME="Alpine Linux", PRETTY_NAME="Alpine Linux v3.20")
        self.write("/proc/1/comm", "init\n")
        self.p("/run/systemd/system/.keep").unlink()
        self.p("/run/systemd/system").rmdir()
        self.p("/run/openrc").mkdir(parents=True)
        self.remove("/usr/bin/systemctl")

    def lxc(self, capbnd: str) -> None:
        """An LXC container (systemd inside marks it), with the given bounding set."""
        self.write("/run/systemd/container", "lxc\n")
        self.capbnd(capbnd)
        self.no_grub()

    def wsl2(self, systemd: bool = True) -> None:
        self.kernel("5.15.153.1-microsoft-standard-WSL2")
        self.write("/proc/sys/fs/binfmt_misc/WSLInterop", "enabled\n")
        self.no_grub()
        if not systemd:
            self.write("/proc/1/comm", "init\n")
            self.p("/run/systemd/system/.keep").unlink()
            self.p("/run/systemd/system").rmdir()


def facts(
    host: FakeHost,
    *,
    uid: int = UID,
    nofile: int = 1 << 20,
    nproc: int = 1 << 22,
    oom: bool = True,
) -> HostFacts:
    """HostFacts read from the fixture tree by the real probe, with process facts set here."""
    probed = probe_host(host.root, probe_oom=False)
    ineffective = frozenset() if oom or uid != 0 else frozenset({"CAP_SYS_RESOURCE"})
    return dataclasses.replace(
        probed,
        uid=uid,
        nofile_hard=nofile,
        nproc_hard=nproc,
        can_lower_oom_score_adj=oom,
        ineffective_capabilities=ineffective - probed.missing_capabilities,
        kernel_release="",
    )


def context(
    host: FakeHost,
    *,
    provider: ProviderName | None = "podman",
    info: Mapping[str, Any] | None = None,
    rootless: bool | None = None,
    uid: int = UID,
    env: Mapping[str, str] | None = None,
    runner: FakeRunner | None = None,
    host_facts: HostFacts | None = None,
    nodes: int = 1,
    host_ports: Sequence[int] = (),
    systemd: str = "systemd 255 (255.4-1)",
    fetch: bool = False,
) -> DoctorContext:
    """Gather a context from the fixture tree, as `nestkube doctor` would.

    Podman's info defaults to a healthy one for the uid's mode; ``fetch`` asks the runner
    instead, as the real command does.
    """
    home = "/root" if uid == 0 else HOME
    full_env = {"HOME": home, "PATH": "/usr/local/bin:/usr/bin:/bin"}
    full_env.update(env or {})
    run = runner or FakeRunner()
    run.add(["systemctl", "--version"], systemd + "\n+PAM +AUDIT\n")
    if info is None and provider == "podman" and not fetch:
        info = podman_info(rootless=uid != 0)
    return gather_context(
        provider=provider,
        rootless=rootless,
        nodes=nodes,
        host_ports=host_ports,
        root=host.root,
        host=host_facts or facts(host, uid=uid),
        env=full_env,
        uid=uid,
        engine_info=info,
        runner=run,
    )


def check(ctx: DoctorContext, check_id: str) -> Finding:
    return CHECKS[check_id](ctx)
