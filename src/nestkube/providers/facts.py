"""What a container engine says about itself: the one parser of its info JSON.

Providers turn these facts into decisions about nodes (:class:`ProviderInfo`); `doctor`
checks them. Parsing is separate from fetching so checks and tests work from JSON alone.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

from nestkube import _exec
from nestkube._exec import Result
from nestkube.errors import CommandError, CommandTimeout, ProviderError
from nestkube.providers.timeouts import engine_hint, engine_timeout

ProviderName = Literal["podman", "docker", "nerdctl"]
# Every engine nestkube drives, in the order it looks for them.
ENGINES: tuple[ProviderName, ...] = get_args(ProviderName)

# A command runner: argv in, Result out, never raising (a missing binary is exit code 127).
Runner = Callable[[Sequence[str]], Result]


@dataclass(frozen=True)
class EngineFacts:
    """What the engine reported. ``info_ok`` False means the engine could not be asked."""

    provider: ProviderName
    binary: str | None = None
    info_ok: bool = False
    # Why the engine could not be asked (its last line of output), when it could not.
    error: str = ""
    version: str = ""
    # containerd's version under nerdctl; empty otherwise.
    server_version: str = ""
    rootless: bool | None = None
    storage_driver: str = ""
    data_root: str = ""
    cgroup_version: str = ""
    # The engine's own cgroup manager: "systemd" or "cgroupfs" ("" when not reported).
    cgroup_manager: str = ""
    default_runtime: str = ""
    runtimes: tuple[str, ...] = ()
    # Podman's network backend, "cni" or "netavark" ("" elsewhere): CNI networks resolve
    # container names only with the dnsname plugin.
    network_backend: str = ""
    # Podman's API socket as it reports it.
    socket: str = ""
    remote: bool = False
    # The docker CLI's context, as the client reported it.
    client_context: str = ""
    warnings: tuple[str, ...] = ()
    # Helper binaries the engine reports it runs (Podman: slirp4netns, pasta, the overlay
    # mount program), by name; the engine's own answer beats a PATH search.
    helpers: Mapping[str, str] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def found(self) -> bool:
        return self.binary is not None


def find_engine(binary: str, install: str) -> str:
    """The path of the engine's ``binary``; a ProviderError saying how to ``install`` it."""
    path = shutil.which(binary)
    if not path:
        raise ProviderError(f"{binary} not found on PATH ({install})")
    return path


def parse_version(text: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) from '4.3.1', 'v1.7.6', '20.10.24+dfsg1', '1.6.20~ds1-1'."""
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def _dig(data: Mapping[str, Any], *keys: str) -> Any:
    cur: Any = data
    for key in keys:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(key)
    return cur


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def security_options_rootless(options: Any) -> bool:
    """Docker and nerdctl list 'name=rootless' among comma-separated security options."""
    return any(
        "name=rootless" in [part.strip() for part in opt.split(",")] for opt in _strings(options)
    )


def parse_podman(info: Mapping[str, Any], binary: str | None) -> EngineFacts:
    rootless = _dig(info, "host", "security", "rootless")
    return EngineFacts(
        provider="podman",
        binary=binary,
        info_ok=True,
        version=_str(_dig(info, "version", "Version")),
        rootless=rootless if isinstance(rootless, bool) else None,
        storage_driver=_str(_dig(info, "store", "graphDriverName")),
        data_root=_str(_dig(info, "store", "graphRoot")),
        cgroup_version=_str(_dig(info, "host", "cgroupVersion")),
        cgroup_manager=_str(_dig(info, "host", "cgroupManager")),
        default_runtime=_str(_dig(info, "host", "ociRuntime", "name")),
        network_backend=_str(_dig(info, "host", "networkBackend")),
        socket=_str(_dig(info, "host", "remoteSocket", "path")),
        remote=_dig(info, "host", "serviceIsRemote") is True,
        helpers=_podman_helpers(info),
        raw=info,
    )


def _podman_helpers(info: Mapping[str, Any]) -> dict[str, str]:
    found = {
        "slirp4netns": _str(_dig(info, "host", "slirp4netns", "executable")),
        "pasta": _str(_dig(info, "host", "pasta", "executable")),
    }
    options = _dig(info, "store", "graphOptions")
    program = _dig(options, "overlay.mount_program", "Path") if isinstance(options, Mapping) else ""
    if isinstance(program, str) and program.endswith("/fuse-overlayfs"):
        found["fuse-overlayfs"] = program
    return {name: path for name, path in found.items() if path}


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def parse_docker(info: Mapping[str, Any], binary: str | None, stderr: str = "") -> EngineFacts:
    """Facts from `docker info --format '{{json .}}'`; ``stderr`` explains a missing daemon."""
    server_errors = _strings(info.get("ServerErrors"))
    version = _str(info.get("ServerVersion"))
    runtimes = info.get("Runtimes")
    # An unreachable daemon still yields JSON (the client part only): old clients put the
    # connection error in ServerErrors, newer ones only print it.
    ok = not server_errors and bool(version)
    error = "" if ok else "; ".join(server_errors) or _last_line(stderr)
    return EngineFacts(
        provider="docker",
        binary=binary,
        info_ok=ok,
        error=error or ("" if ok else "no server version in its info"),
        version=version,
        rootless=security_options_rootless(info.get("SecurityOptions")) if version else None,
        storage_driver=_str(info.get("Driver")),
        data_root=_str(info.get("DockerRootDir")),
        cgroup_version=_str(info.get("CgroupVersion")),
        cgroup_manager=_str(info.get("CgroupDriver")),
        default_runtime=_str(info.get("DefaultRuntime")),
        runtimes=tuple(sorted(runtimes)) if isinstance(runtimes, Mapping) else (),
        client_context=_str(_dig(info, "ClientInfo", "Context")),
        warnings=_strings(info.get("Warnings")),
        raw=info,
    )


def containerd_version(info: Mapping[str, Any], version: Mapping[str, Any]) -> str:
    """containerd's version from `nerdctl version` components, else `nerdctl info`."""
    components = _dig(version, "Server", "Components")
    if isinstance(components, list):
        for comp in components:
            if isinstance(comp, Mapping) and _str(comp.get("Name")).lower() == "containerd":
                return _str(comp.get("Version"))
    return _str(info.get("ServerVersion"))


def parse_nerdctl(
    info: Mapping[str, Any], version_info: Mapping[str, Any], binary: str | None
) -> EngineFacts:
    """Facts from `nerdctl info` and `nerdctl version` JSON (both --format '{{json .}}')."""
    return EngineFacts(
        provider="nerdctl",
        binary=binary,
        info_ok=True,
        version=_str(_dig(version_info, "Client", "Version")),
        server_version=containerd_version(info, version_info),
        rootless=security_options_rootless(info.get("SecurityOptions")),
        storage_driver=_str(info.get("Driver")),
        data_root=_str(info.get("DockerRootDir")),
        cgroup_version=_str(info.get("CgroupVersion")),
        cgroup_manager=_str(info.get("CgroupDriver")),
        default_runtime=_str(info.get("DefaultRuntime")),
        warnings=_strings(info.get("Warnings")),
        raw={**info, "nerdctl_version": dict(version_info)},
    )


def parse_info(provider: ProviderName, info: Mapping[str, Any], binary: str | None) -> EngineFacts:
    """Facts from already fetched info JSON (nerdctl's version JSON may sit under
    'nerdctl_version', as :func:`fetch` stores it)."""
    if provider == "podman":
        return parse_podman(info, binary)
    if provider == "docker":
        return parse_docker(info, binary)
    version_info = info.get("nerdctl_version")
    return parse_nerdctl(info, version_info if isinstance(version_info, Mapping) else {}, binary)


def _json(text: str) -> Mapping[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return cast(Mapping[str, Any], data) if isinstance(data, dict) else None


def _first_line(result: Result) -> str:
    return (
        _last_line(result.stderr) or _last_line(result.stdout) or f"exit code {result.returncode}"
    )


def engine_runner(args: Sequence[str]) -> Result:
    """The engine runner for probes: the QUERY time limit, and never raising."""
    try:
        return _exec.run(
            args,
            check=False,
            what=f"{args[0].rsplit('/', 1)[-1]} {args[1]}",
            timeout=engine_timeout(),
            hint=engine_hint(args[0]),
        )
    except CommandTimeout as exc:
        return Result(list(args), exc.returncode, "", str(exc))
    except CommandError as exc:
        return Result(list(args), exc.returncode, exc.stdout, exc.stderr)


def fetch(provider: ProviderName, binary: str, runner: Runner = engine_runner) -> EngineFacts:
    """Ask the engine for its info JSON: the one probe of an engine (two for nerdctl)."""
    if provider == "podman":
        res = runner([binary, "info", "--format", "json"])
    else:
        res = runner([binary, "info", "--format", "{{json .}}"])
    data = _json(res.stdout)
    if provider == "docker" and data is not None:
        return parse_docker(data, binary, res.stderr)
    if res.returncode != 0 or data is None:
        return EngineFacts(provider=provider, binary=binary, error=_first_line(res))
    if provider == "nerdctl":
        ver = runner([binary, "version", "--format", "{{json .}}"])
        return parse_nerdctl(data, _json(ver.stdout) or {}, binary)
    return parse_podman(data, binary)
