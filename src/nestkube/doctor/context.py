"""Everything the checks look at, gathered once into a value object.

Gathering reads below ``root`` (a fixture tree in tests) and asks the engine for its info
JSON through an injectable runner; the checks are then pure functions of the result, so every
verdict can be tested without a real host.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import pwd
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nestkube._exec import Result, run
from nestkube.defaults import RUNNERS_FILE
from nestkube.doctor.platform import (
    Platform,
    helper_dirs,
    read_platform,
    storage_mount_program,
    wrapper_path_dirs,
)
from nestkube.errors import CommandError, ProviderError
from nestkube.host import HostFacts, probe_host
from nestkube.providers import choose_engine, engine_candidates, requested_engine
from nestkube.providers.base import ProviderName
from nestkube.providers.facts import ENGINES, EngineFacts, Runner, fetch, parse_info

SYSCTLS = (
    "kernel.unprivileged_userns_clone",
    "user.max_user_namespaces",
    "kernel.apparmor_restrict_unprivileged_userns",
    "fs.inotify.max_user_watches",
    "fs.inotify.max_user_instances",
    "net.ipv4.ip_unprivileged_port_start",
    "kernel.dmesg_restrict",
)
IPTABLES_MODULES = ("ip_tables", "iptable_nat", "ip6_tables", "ip6table_nat")
# The kernel config symbol that builds each module in (=y) or as a module (=m).
MODULE_CONFIG = {
    "ip_tables": "CONFIG_IP_NF_IPTABLES",
    "iptable_nat": "CONFIG_IP_NF_NAT",
    "ip6_tables": "CONFIG_IP6_NF_IPTABLES",
    "ip6table_nat": "CONFIG_IP6_NF_NAT",
}
HELPER_BINARIES = (
    "fuse-overlayfs",
    "slirp4netns",
    "pasta",
    "runc",
    "crun",
    "newuidmap",
    "newgidmap",
    "systemctl",
    "zfs",
    "helm",
)
# Helpers live in sbin on many distributions, and a plain user's PATH often lacks sbin.
STANDARD_DIRS = (
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
    "/run/current-system/sw/bin",
)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Podman's compiled-in default when no containers.conf sets pids_limit.
PODMAN_DEFAULT_PIDS_LIMIT = 2048
ENV_KEYS = (
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
    "CONTAINER_HOST",
    "CONTAINERD_ADDRESS",
    "CONTAINERS_CONF",
    "XDG_CONFIG_HOME",
    "XDG_RUNTIME_DIR",
    "HOME",
    "PATH",
    "NESTKUBE_PROVIDER",
    "NESTKUBE_HELM",
    "KIND_EXPERIMENTAL_PROVIDER",
    # The nodes' proxy (host.proxy), either case.
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "NO_PROXY",
    "no_proxy",
)


@dataclass(frozen=True)
class UserInfo:
    uid: int
    name: str
    home: str
    gids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class FileAccess:
    """Owner and mode of a path, so access can be judged for a user other than the caller."""

    path: str
    exists: bool = False
    mode: int = 0
    uid: int = 0
    gid: int = 0

    def usable_by(self, user: UserInfo) -> bool:
        """Read and write allowed by the mode bits (ACLs are not consulted)."""
        if not self.exists:
            return False
        if user.uid == 0:
            return True
        if self.uid == user.uid:
            bits = self.mode >> 6
        elif self.gid in user.gids:
            bits = self.mode >> 3
        else:
            bits = self.mode
        return bits & 0o6 == 0o6


@dataclass(frozen=True)
class SubIdRange:
    owner: str
    start: int
    count: int


@dataclass(frozen=True)
class MountInfo:
    mount_point: str
    fstype: str
    source: str


@dataclass(frozen=True)
class ZfsFacts:
    dataset: str
    version: str = ""
    acltype: str = ""
    xattr: str = ""


@dataclass(frozen=True)
class ModuleFacts:
    """What the kernel says about the iptables modules."""

    # /proc/modules is absent on kernels built without loadable-module support.
    proc_modules: bool = True
    loaded: frozenset[str] = frozenset()
    # Names present under /sys/module (built in with parameters, or loaded).
    sys_module: frozenset[str] = frozenset()
    # CONFIG_* values from /proc/config.gz or /boot/config-*, when readable.
    kernel_config: Mapping[str, str] | None = None


@dataclass(frozen=True)
class PidsLimit:
    value: int
    # The containers.conf that set it, or "" for Podman's compiled-in default.
    source: str
    # Where this user should set it.
    target: str


@dataclass(frozen=True)
class DockerContext:
    name: str
    host: str
    # Where the endpoint came from: "DOCKER_HOST", "context", "default".
    origin: str
    # For unix:// endpoints, whether the socket file exists; None otherwise.
    socket_present: bool | None = None


@dataclass(frozen=True)
class DoctorContext:
    """The probed host, user and engine that every check reads. Build with gather_context."""

    provider: ProviderName
    # Whether the provider was named (flag or environment) rather than picked by doctor.
    requested_provider: bool
    # The mode being checked: asked for, else as the engine reports, else by uid.
    rootless: bool
    requested_rootless: bool | None
    user: UserInfo
    host: HostFacts
    engine: EngineFacts
    root: str = "/"
    os_release: Mapping[str, str] = field(default_factory=dict)
    nixos: bool = False
    kernel_release: str = ""
    env: Mapping[str, str] = field(default_factory=dict)
    binaries: Mapping[str, str | None] = field(default_factory=dict)
    sysctls: Mapping[str, str | None] = field(default_factory=dict)
    subuid: tuple[SubIdRange, ...] = ()
    subgid: tuple[SubIdRange, ...] = ()
    subid_files: frozenset[str] = frozenset()
    # Controllers in user@UID.service's cgroup.controllers; None when that cgroup is absent.
    delegated_controllers: frozenset[str] | None = None
    systemd_version: int | None = None
    systemd_running: bool = False
    pid1: str = ""
    delegate_dropins: tuple[str, ...] = ()
    devices: Mapping[str, FileAccess] = field(default_factory=dict)
    modules: ModuleFacts = field(default_factory=ModuleFacts)
    data_dir: str = ""
    data_mount: MountInfo | None = None
    zfs: ZfsFacts | None = None
    pids_limit: PidsLimit | None = None
    docker_context: DockerContext | None = None
    mem_total: int | None = None
    mem_available: int | None = None
    disk_free: int | None = None
    # How the host boots and runs (boot loader, init, container, WSL): what fixes must fit.
    platform: Platform = field(default_factory=Platform)
    nodes: int = 1
    host_ports: tuple[int, ...] = ()
    # The user's runner definitions file, and whether it exists (runners then need helm).
    runners_file: str = ""
    runners_defined: bool = False

    @property
    def sudo(self) -> str:
        """Prefix for commands that need root."""
        return "" if self.user.uid == 0 else "sudo "

    def binary(self, name: str) -> str | None:
        return self.binaries.get(name)


# --- readers ----------------------------------------------------------------------------


def _under(root: Path, path: str) -> Path:
    return root / path.lstrip("/")


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def read_os_release(root: Path) -> dict[str, str]:
    text = _read(root / "etc/os-release") or _read(root / "usr/lib/os-release") or ""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            out[key.strip()] = value.strip().strip("\"'")
    return out


def read_sysctls(root: Path, names: Sequence[str] = SYSCTLS) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        text = _read(root / "proc/sys" / name.replace(".", "/"))
        out[name] = text.strip() if text is not None else None
    return out


def read_subids(root: Path, path: str) -> tuple[tuple[SubIdRange, ...], bool]:
    text = _read(_under(root, path))
    if text is None:
        return (), False
    ranges = []
    for line in text.splitlines():
        parts = line.strip().split(":")
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            ranges.append(SubIdRange(parts[0], int(parts[1]), int(parts[2])))
    return tuple(ranges), True


def read_user(root: Path, uid: int, env: Mapping[str, str]) -> UserInfo:
    name, home, gid = "", "", -1
    for line in (_read(root / "etc/passwd") or "").splitlines():
        parts = line.split(":")
        if len(parts) >= 6 and parts[2] == str(uid):
            name, gid, home = parts[0], int(parts[3]) if parts[3].isdigit() else -1, parts[5]
            break
    if not name and root == Path("/"):
        # Users from LDAP or systemd-homed are not in /etc/passwd.
        with contextlib.suppress(KeyError):
            pw = pwd.getpwuid(uid)
            name, home, gid = pw.pw_name, pw.pw_dir, pw.pw_gid
    gids = {gid} if gid >= 0 else set()
    for line in (_read(root / "etc/group") or "").splitlines():
        parts = line.split(":")
        if len(parts) >= 4 and parts[2].isdigit() and name and name in parts[3].split(","):
            gids.add(int(parts[2]))
    if root == Path("/") and uid == os.getuid():
        gids.update(os.getgroups())
    # The environment wins for HOME: tests and `--fix` runs point it at a scratch directory.
    return UserInfo(uid, name or str(uid), env.get("HOME") or home or "/", frozenset(gids))


def read_access(root: Path, path: str) -> FileAccess:
    try:
        st = _under(root, path).stat()
    except OSError:
        return FileAccess(path)
    return FileAccess(path, True, st.st_mode & 0o7777, st.st_uid, st.st_gid)


def find_binary(root: Path, name: str, path_env: str, extra: Sequence[str] = ()) -> str | None:
    seen: set[str] = set()
    for d in [*path_env.split(":"), *extra]:
        if not d or d in seen:
            continue
        seen.add(d)
        candidate = _under(root, d) / name
        try:
            found = candidate.is_file() and os.access(candidate, os.X_OK)
        except OSError:
            # A PATH entry this user may not enter (another user's home) holds nothing usable.
            continue
        if found:
            return str(Path(d) / name)
    return None


def read_modules(root: Path, release: str) -> ModuleFacts:
    proc = _read(root / "proc/modules")
    loaded = frozenset(ln.split()[0] for ln in (proc or "").splitlines() if ln.strip())
    sys_module = frozenset(m for m in IPTABLES_MODULES if (root / "sys/module" / m).is_dir())
    return ModuleFacts(proc is not None, loaded, sys_module, read_kernel_config(root, release))


def read_kernel_config(root: Path, release: str) -> dict[str, str] | None:
    text: str | None = None
    gz = root / "proc/config.gz"
    if gz.is_file():
        try:
            text = gzip.decompress(gz.read_bytes()).decode(errors="replace")
        except (OSError, EOFError):
            text = None
    if text is None and release:
        text = _read(root / "boot" / f"config-{release}")
    if text is None:
        return None
    wanted = set(MODULE_CONFIG.values()) | {"CONFIG_MODULES"}
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("CONFIG_"):
            key, _, value = line.partition("=")
            if key in wanted:
                out[key] = value
        elif line.startswith("# CONFIG_") and line.endswith(" is not set"):
            key = line[2:].split()[0]
            if key in wanted:
                out[key] = "n"
    return out


def read_mounts(root: Path) -> list[MountInfo]:
    out = []
    for line in (_read(root / "proc/self/mountinfo") or "").splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if sep and len(fields) >= 5 and len(tail) >= 2:
            point = fields[4].replace("\\040", " ")
            out.append(MountInfo(point, tail[0], tail[1].replace("\\040", " ")))
    return out


def mount_for(mounts: Sequence[MountInfo], path: str) -> MountInfo | None:
    """The mount holding ``path``: the longest mount point that is a path prefix of it."""
    best: MountInfo | None = None
    for m in mounts:
        point = m.mount_point.rstrip("/") or "/"
        inside = path == point or path.startswith(point + "/") or point == "/"
        if inside and (best is None or len(point) >= len(best.mount_point.rstrip("/") or "/")):
            best = m
    return best


def read_meminfo(root: Path) -> tuple[int | None, int | None]:
    values: dict[str, int] = {}
    for line in (_read(root / "proc/meminfo") or "").splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return values.get("MemTotal"), values.get("MemAvailable")


def existing_ancestor(root: Path, path: str) -> Path:
    p = _under(root, path)
    while not p.exists() and p != root and p.parent != p:
        p = p.parent
    return p


def disk_free(root: Path, path: str) -> int | None:
    try:
        st = os.statvfs(existing_ancestor(root, path))
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def read_delegation(root: Path, uid: int) -> frozenset[str] | None:
    # The user *service* is what the user's containers live under; the user *slice* above it
    # can list controllers that systemd never passes down.
    path = (
        root
        / "sys/fs/cgroup/user.slice"
        / f"user-{uid}.slice"
        / f"user@{uid}.service"
        / "cgroup.controllers"
    )
    text = _read(path)
    return frozenset(text.split()) if text is not None else None


def read_delegate_dropins(root: Path) -> tuple[str, ...]:
    d = root / "etc/systemd/system/user@.service.d"
    found = []
    for conf in sorted(d.glob("*.conf")) if d.is_dir() else []:
        for line in (_read(conf) or "").splitlines():
            key, _, value = line.strip().partition("=")
            if key.strip() == "Delegate" and value.strip().lower() not in ("", "no", "false"):
                found.append("/" + str(conf.relative_to(root)))
                break
    return tuple(found)


def parse_systemd_version(text: str) -> int | None:
    m = re.match(r"\s*systemd\s+(\d+)", text)
    return int(m.group(1)) if m else None


def containers_conf_files(root: Path, user: UserInfo, env: Mapping[str, str]) -> list[Path]:
    """containers.conf files in the order Podman reads them (later ones win)."""
    if env.get("CONTAINERS_CONF"):
        return [_under(root, env["CONTAINERS_CONF"])]
    files = [root / "usr/share/containers/containers.conf", root / "etc/containers/containers.conf"]
    files += sorted((root / "etc/containers/containers.conf.d").glob("*.conf"))
    if user.uid != 0:
        cfg = _under(root, user_config_home(user, env)) / "containers"
        files.append(cfg / "containers.conf")
        files += sorted((cfg / "containers.conf.d").glob("*.conf"))
    return files


def user_config_home(user: UserInfo, env: Mapping[str, str]) -> str:
    return env.get("XDG_CONFIG_HOME") or f"{user.home.rstrip('/')}/.config"


def read_pids_limit(root: Path, user: UserInfo, env: Mapping[str, str]) -> PidsLimit:
    value, source = PODMAN_DEFAULT_PIDS_LIMIT, ""
    for path in containers_conf_files(root, user, env):
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        containers = data.get("containers")
        limit = containers.get("pids_limit") if isinstance(containers, dict) else None
        if isinstance(limit, int) and not isinstance(limit, bool):
            value, source = limit, "/" + str(path.relative_to(root))
    if env.get("CONTAINERS_CONF"):
        target = env["CONTAINERS_CONF"]
    elif user.uid != 0:
        target = f"{user_config_home(user, env)}/containers/containers.conf"
    else:
        target = "/etc/containers/containers.conf"
    return PidsLimit(value, source, target)


def read_docker_context(root: Path, user: UserInfo, env: Mapping[str, str]) -> DockerContext:
    ctx = _docker_context(root, user, env)
    if ctx.host.startswith("unix://"):
        present = _under(root, ctx.host.removeprefix("unix://")).exists()
        return DockerContext(ctx.name, ctx.host, ctx.origin, present)
    return ctx


def _docker_context(root: Path, user: UserInfo, env: Mapping[str, str]) -> DockerContext:
    if env.get("DOCKER_HOST"):
        return DockerContext(env.get("DOCKER_CONTEXT", ""), env["DOCKER_HOST"], "DOCKER_HOST")
    config_dir = _under(root, env.get("DOCKER_CONFIG") or f"{user.home.rstrip('/')}/.docker")
    name = env.get("DOCKER_CONTEXT", "")
    if not name:
        try:
            config = json.loads((config_dir / "config.json").read_text())
        except (OSError, ValueError):
            config = {}
        current = config.get("currentContext") if isinstance(config, dict) else None
        name = current if isinstance(current, str) else ""
    if not name or name == "default":
        return DockerContext("default", "unix:///var/run/docker.sock", "default")
    # The CLI stores a context's metadata under the SHA-256 of its name.
    digest = hashlib.sha256(name.encode()).hexdigest()
    try:
        meta = json.loads((config_dir / "contexts/meta" / digest / "meta.json").read_text())
        host = meta["Endpoints"]["docker"]["Host"]
    except (OSError, ValueError, KeyError, TypeError):
        host = ""
    return DockerContext(name, host if isinstance(host, str) else "", "context")


def read_zfs(root: Path, mount: MountInfo, runner: Runner | None) -> ZfsFacts:
    version = (_read(root / "sys/module/zfs/version") or "").strip()
    acltype = xattr = ""
    if runner is not None:
        res = runner(["zfs", "get", "-H", "-o", "property,value", "acltype,xattr", mount.source])
        for line in res.stdout.splitlines() if res.ok else []:
            prop, _, value = line.partition("\t")
            if prop == "acltype":
                acltype = value.strip()
            elif prop == "xattr":
                xattr = value.strip()
        if not version:
            ver = runner(["zfs", "version"])
            first = ver.stdout.strip().splitlines()[:1] if ver.ok else []
            version = first[0].removeprefix("zfs-") if first else ""
    return ZfsFacts(mount.source, version, acltype, xattr)


def _root_fstype(mounts: Sequence[MountInfo]) -> str:
    found = mount_for(mounts, "/")
    return found.fstype if found is not None else ""


def storage_conf_files(user: UserInfo, env: Mapping[str, str]) -> list[str]:
    """storage.conf files, later ones winning (the user's own for rootless Podman)."""
    files = ["/usr/share/containers/storage.conf", "/etc/containers/storage.conf"]
    if user.uid != 0:
        files.append(f"{user_config_home(user, env)}/containers/storage.conf")
    return files


def find_helpers(
    root: Path,
    provider: ProviderName,
    engine: EngineFacts,
    user: UserInfo,
    env: Mapping[str, str],
) -> dict[str, str | None]:
    """Helper binaries found the way the engine finds them, not only on the user's PATH.

    Podman looks in its helper directories (containers.conf ``helper_binaries_dir``; on
    NixOS a Nix store path) and uses storage.conf's ``mount_program``; what its info reports
    (slirp4netns, pasta, the overlay mount program) is what it will actually run.
    """
    path_env = env.get("PATH", DEFAULT_PATH)
    extra: tuple[str, ...] = STANDARD_DIRS
    if provider == "podman":
        podman = engine.binary or find_binary(root, "podman", path_env)
        # NixOS's podman is a wrapper that puts its helpers on the PATH it runs Podman with.
        wrapped = wrapper_path_dirs(root, podman) if podman else ()
        extra = (
            *STANDARD_DIRS,
            *helper_dirs(containers_conf_files(root, user, env)),
            *wrapped,
        )
    found = {name: find_binary(root, name, path_env, extra) for name in HELPER_BINARIES}
    if provider == "podman":
        mount_program = storage_mount_program(root, storage_conf_files(user, env))
        if mount_program.endswith("/fuse-overlayfs"):
            found["fuse-overlayfs"] = mount_program
    found.update({name: path for name, path in engine.helpers.items() if path})
    return found


def default_runner(env: Mapping[str, str] | None = None) -> Runner:
    def _run(args: Sequence[str]) -> Result:
        try:
            return run(args, check=False, timeout=30, env=env)
        except CommandError as exc:
            return Result(list(args), exc.returncode, exc.stdout, exc.stderr)

    return _run


def default_data_dir(provider: ProviderName, rootless: bool, user: UserInfo) -> str:
    home = user.home.rstrip("/")
    if provider == "podman":
        return f"{home}/.local/share/containers/storage" if rootless else "/var/lib/containers"
    if provider == "docker":
        return f"{home}/.local/share/docker" if rootless else "/var/lib/docker"
    return f"{home}/.local/share/containerd" if rootless else "/var/lib/containerd"


def _choose_engine(
    root: Path, env: Mapping[str, str], runner: Runner | None
) -> tuple[ProviderName, EngineFacts | None]:
    """The engine nestkube would pick (:func:`nestkube.providers.choose_engine`, the choice
    every command makes, probed here under ``root``): the first installed one that answers,
    else the first installed one, else podman (so the report says what to install)."""
    path_env = env.get("PATH", DEFAULT_PATH)
    binaries = {name: find_binary(root, name, path_env) for name in ENGINES}
    found = engine_candidates(None, env, binaries.get)

    def answer(name: ProviderName) -> EngineFacts:
        binary = binaries[name]
        assert binary is not None and runner is not None
        facts = fetch(name, binary, runner)
        if not facts.info_ok:
            raise ProviderError(facts.error or f"{name} does not answer")
        return facts

    if runner is not None:
        with contextlib.suppress(ProviderError):
            return choose_engine(found, answer)
    return (found[0] if found else "podman"), None


def gather_context(
    *,
    provider: ProviderName | None = None,
    rootless: bool | None = None,
    nodes: int = 1,
    host_ports: Sequence[int] = (),
    root: Path = Path("/"),
    host: HostFacts | None = None,
    env: Mapping[str, str] | None = None,
    uid: int | None = None,
    engine_info: Mapping[str, Any] | None = None,
    engine: EngineFacts | None = None,
    runner: Runner | None = None,
    run_commands: bool = True,
) -> DoctorContext:
    """Probe once. ``engine_info`` is the engine's info JSON when already fetched; ``engine``
    ready-made facts; otherwise the engine is asked (unless ``run_commands`` is False, as in
    preflight, where no command at all is run)."""
    full_env = dict(os.environ if env is None else env)
    env_subset = {k: full_env[k] for k in ENV_KEYS if k in full_env}
    path_env = full_env.get("PATH", DEFAULT_PATH)
    cmd: Runner | None = (runner or default_runner()) if run_commands else None
    host = host if host is not None else probe_host(root)
    uid = host.uid if uid is None else uid
    user = read_user(root, uid, full_env)

    # The engine named the way every command names it: a bad name is the same error.
    named = requested_engine(provider, full_env)
    requested = named is not None
    if engine is None:
        provider = named
        if provider is None and engine_info is None:
            provider, engine = _choose_engine(root, full_env, cmd)
        provider = provider or "podman"
        binary = find_binary(root, provider, path_env)
        if engine is not None:
            pass
        elif engine_info is not None:
            engine = parse_info(provider, engine_info, binary)
        elif binary is not None and cmd is not None:
            engine = fetch(provider, binary, cmd)
        else:
            engine = EngineFacts(provider=provider, binary=binary)
    provider = engine.provider

    if rootless is not None:
        mode = rootless
    elif engine.rootless is not None:
        mode = engine.rootless
    else:
        mode = uid != 0

    os_release = read_os_release(root)
    release = (_read(root / "proc/sys/kernel/osrelease") or "").strip() or host.kernel_release
    binaries = find_helpers(root, provider, engine, user, full_env)
    subuid, has_subuid = read_subids(root, "/etc/subuid")
    subgid, has_subgid = read_subids(root, "/etc/subgid")
    systemd_version = None
    if cmd is not None and binaries["systemctl"]:
        res = cmd([binaries["systemctl"] or "systemctl", "--version"])
        systemd_version = parse_systemd_version(res.stdout) if res.ok else None

    data_dir = engine.data_root or default_data_dir(provider, mode, user)
    mounts = read_mounts(root)
    data_mount = mount_for(mounts, data_dir)
    zfs = None
    if data_mount is not None and data_mount.fstype == "zfs":
        zfs = read_zfs(root, data_mount, cmd)
    mem_total, mem_available = read_meminfo(root)
    runners_file = f"{user_config_home(user, full_env)}/{RUNNERS_FILE}"

    return DoctorContext(
        provider=provider,
        requested_provider=requested,
        rootless=mode,
        requested_rootless=rootless,
        user=user,
        host=host,
        engine=engine,
        root=str(root),
        os_release=os_release,
        nixos=(root / "etc/NIXOS").exists() or os_release.get("ID") == "nixos",
        kernel_release=release,
        env=env_subset,
        binaries=binaries,
        sysctls=read_sysctls(root),
        subuid=subuid,
        subgid=subgid,
        subid_files=frozenset(
            p for p, ok_ in (("/etc/subuid", has_subuid), ("/etc/subgid", has_subgid)) if ok_
        ),
        delegated_controllers=read_delegation(root, uid),
        systemd_version=systemd_version,
        systemd_running=(root / "run/systemd/system").is_dir(),
        pid1=(_read(root / "proc/1/comm") or "").strip(),
        delegate_dropins=read_delegate_dropins(root),
        devices={p: read_access(root, p) for p in ("/dev/fuse", "/dev/net/tun")},
        modules=read_modules(root, release),
        data_dir=data_dir,
        data_mount=data_mount,
        zfs=zfs,
        pids_limit=read_pids_limit(root, user, full_env) if provider == "podman" else None,
        docker_context=read_docker_context(root, user, full_env) if provider == "docker" else None,
        mem_total=mem_total,
        mem_available=mem_available,
        disk_free=disk_free(root, data_dir),
        platform=read_platform(root, release=release, root_fstype=_root_fstype(mounts)),
        nodes=max(1, nodes),
        host_ports=tuple(host_ports),
        runners_file=runners_file,
        runners_defined=_under(root, runners_file).is_file(),
    )
