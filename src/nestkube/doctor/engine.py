"""The engine as `doctor` sees it: facts parsed from the engine's own info JSON.

Parsing is separate from fetching so checks and tests work from JSON alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from nestkube._exec import Result
from nestkube.providers.base import ProviderName

PROVIDERS: tuple[ProviderName, ...] = ("podman", "docker", "nerdctl")

# A command runner: argv in, Result out, never raising (a missing binary is exit code 127).
Runner = Callable[[Sequence[str]], Result]


@dataclass(frozen=True)
class EngineFacts:
    """What the engine reported. ``info_ok`` False means the engine could not be asked."""

    provider: ProviderName
    binary: str | None = None
    info_ok: bool = False
    error: str = ""
    version: str = ""
    # containerd's version under nerdctl; empty otherwise.
    server_version: str = ""
    rootless: bool | None = None
    storage_driver: str = ""
    data_root: str = ""
    cgroup_version: str = ""
    default_runtime: str = ""
    runtimes: tuple[str, ...] = ()
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


def parse_version(text: str) -> tuple[int, ...] | None:
    """(major, minor, patch) from '4.3.1', 'v1.7.6', '20.10.24+dfsg1', '2.2.2-1'."""
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not m:
        return None
    return tuple(int(g) for g in m.groups(default="0"))


def _dig(data: Mapping[str, Any], *keys: str) -> Any:
    cur: Any = data
    for key in keys:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(key)
    return cur


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _security_rootless(options: Any) -> bool:
    """Docker and nerdctl list 'name=rootless' among comma-separated security options."""
    if not isinstance(options, list):
        return False
    return any(
        "name=rootless" in [part.strip() for part in opt.split(",")]
        for opt in options
        if isinstance(opt, str)
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
        default_runtime=_str(_dig(info, "host", "ociRuntime", "name")),
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


def parse_docker(info: Mapping[str, Any], binary: str | None) -> EngineFacts:
    errors = info.get("ServerErrors")
    server_errors = [e for e in errors if isinstance(e, str)] if isinstance(errors, list) else []
    version = _str(info.get("ServerVersion"))
    runtimes = info.get("Runtimes")
    warnings = info.get("Warnings")
    return EngineFacts(
        provider="docker",
        binary=binary,
        # An unreachable daemon still yields JSON (client part only) with ServerErrors set.
        info_ok=not server_errors and bool(version),
        error="; ".join(server_errors),
        version=version,
        rootless=_security_rootless(info.get("SecurityOptions")) if version else None,
        storage_driver=_str(info.get("Driver")),
        data_root=_str(info.get("DockerRootDir")),
        cgroup_version=_str(info.get("CgroupVersion")),
        default_runtime=_str(info.get("DefaultRuntime")),
        runtimes=tuple(sorted(runtimes)) if isinstance(runtimes, Mapping) else (),
        client_context=_str(_dig(info, "ClientInfo", "Context")),
        warnings=tuple(w for w in warnings if isinstance(w, str))
        if isinstance(warnings, list)
        else (),
        raw=info,
    )


def parse_nerdctl(
    info: Mapping[str, Any], version_info: Mapping[str, Any], binary: str | None
) -> EngineFacts:
    warnings = info.get("Warnings")
    return EngineFacts(
        provider="nerdctl",
        binary=binary,
        info_ok=True,
        version=_str(_dig(version_info, "Client", "Version")),
        server_version=_str(info.get("ServerVersion")),
        rootless=_security_rootless(info.get("SecurityOptions")),
        storage_driver=_str(info.get("Driver")),
        data_root=_str(info.get("DockerRootDir")),
        cgroup_version=_str(info.get("CgroupVersion")),
        default_runtime=_str(info.get("DefaultRuntime")),
        warnings=tuple(w for w in warnings if isinstance(w, str))
        if isinstance(warnings, list)
        else (),
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
    text = result.stderr.strip() or result.stdout.strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1].strip() if lines else f"exit code {result.returncode}"


def fetch(provider: ProviderName, binary: str, runner: Runner) -> EngineFacts:
    """Ask the engine for its info JSON (the one engine call doctor makes)."""
    if provider == "podman":
        res = runner([binary, "info", "--format", "json"])
    else:
        res = runner([binary, "info", "--format", "{{json .}}"])
    data = _json(res.stdout)
    if provider == "docker" and data is not None:
        facts = parse_docker(data, binary)
        if facts.info_ok or facts.error:
            return facts
    if res.returncode != 0 or data is None:
        return EngineFacts(provider=provider, binary=binary, error=_first_line(res))
    if provider == "nerdctl":
        ver = runner([binary, "version", "--format", "{{json .}}"])
        return parse_nerdctl(data, _json(ver.stdout) or {}, binary)
    return parse_info(provider, data, binary)
