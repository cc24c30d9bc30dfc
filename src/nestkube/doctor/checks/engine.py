"""The container engine: present, recent enough, in the mode asked for, and which endpoint."""

from __future__ import annotations

from collections.abc import Mapping

from nestkube.doctor import fixes
from nestkube.doctor.context import DoctorContext
from nestkube.doctor.model import Finding, Fix, fail, ok, skip, warn
from nestkube.providers.facts import ENGINES, parse_version

# Oldest engine versions known to run rootless nodes (the rootless code paths they need:
# Docker's rootless mode, Podman's cgroup v2 support, nerdctl on containerd 1.7).
MIN_VERSIONS: dict[str, tuple[int, ...]] = {
    "docker": (20, 10),
    "podman": (3, 0),
    "nerdctl": (1, 7),
}
MIN_CONTAINERD = (1, 7)


def _fmt(version: tuple[int, ...]) -> str:
    return ".".join(str(v) for v in version)


# Debian's and Ubuntu's docker.io keep Docker's rootless scripts here, off PATH and apart from
# the docker CLI; the setup tool takes the folder it finds dockerd-rootless.sh in for Docker's
# own (it runs `<folder>/docker` and writes the folder into the user unit's PATH), so run as
# it is from there it fails on `<folder>/docker` (seen in the cgroup-v2 Debian 12 test guest).
DEBIAN_CONTRIB = "/usr/share/docker.io/contrib"


def rootless_docker_setup(os_release: Mapping[str, str]) -> str:
    """The command that sets rootless Docker up for the user on this distribution."""
    family = {os_release.get("ID", ""), *os_release.get("ID_LIKE", "").split()}
    if family & {"debian", "ubuntu"}:
        links = (
            f"mkdir -p ~/bin && ln -sf {DEBIAN_CONTRIB}/dockerd-rootless.sh ~/bin/ && "
            "ln -sf /usr/bin/docker ~/bin/docker"
        )
        tool = f"{DEBIAN_CONTRIB}/dockerd-rootless-setuptool.sh"
        return f"{links} && PATH=$HOME/bin:$PATH {tool} install"
    return "dockerd-rootless-setuptool.sh install"


def _start_daemon(ctx: DoctorContext) -> Fix:
    e = ctx.engine
    if e.provider == "docker":
        if ctx.rootless:
            return fixes.command(
                ctx,
                "systemctl --user start docker",
                root=False,
                note=f"first time: {rootless_docker_setup(ctx.os_release)}",
            )
        if ctx.nixos:
            return fixes.nix("virtualisation.docker.enable = true;")
        return fixes.start_service(ctx, "docker", fallback="dockerd >/var/log/dockerd.log 2>&1 &")
    if e.provider == "nerdctl":
        if ctx.rootless:
            return fixes.command(ctx, "containerd-rootless-setuptool.sh install", root=False)
        return fixes.start_service(
            ctx, "containerd", fallback="containerd >/var/log/containerd.log 2>&1 &"
        )
    return Fix(note=f"run `{e.binary} info` to see the full error")


def check_present(ctx: DoctorContext) -> Finding:
    e = ctx.engine
    if not e.found:
        tools = ", ".join(ENGINES)
        what = (
            f"no {e.provider} on PATH"
            if ctx.requested_provider
            else (f"no container engine on PATH (looked for {tools})")
        )
        return fail("engine.present", what, fixes.install(ctx, e.provider))
    if not e.info_ok:
        return fail(
            "engine.present",
            f"{e.provider} found at {e.binary} but `{e.provider} info` failed: {e.error}",
            _start_daemon(ctx),
        )
    return ok("engine.present", f"{e.provider} {e.version} at {e.binary}")


def check_version(ctx: DoctorContext) -> Finding:
    e = ctx.engine
    have = parse_version(e.version)
    if not e.info_ok or have is None:
        return skip("engine.version", "engine version unknown (see engine.present)")
    need = MIN_VERSIONS[e.provider]
    verdict = fail if ctx.rootless else warn
    mode = "rootless" if ctx.rootless else "rootful (untested below this)"
    if have < need:
        return verdict(
            "engine.version",
            f"{e.provider} {e.version} is older than {_fmt(need)}, needed for {mode} nodes",
            fixes.install(ctx, e.provider, note=f"upgrade {e.provider} to {_fmt(need)} or later"),
        )
    if e.provider == "nerdctl" and e.server_version:
        containerd = parse_version(e.server_version)
        if containerd is not None and containerd < MIN_CONTAINERD:
            return verdict(
                "engine.version",
                f"containerd {e.server_version} under nerdctl is older than {_fmt(MIN_CONTAINERD)}",
                Fix(note=f"upgrade containerd to {_fmt(MIN_CONTAINERD)} or later"),
            )
    return ok("engine.version", f"{e.provider} {e.version} >= {_fmt(need)}")


def _rootless_switch(ctx: DoctorContext) -> Fix:
    p = ctx.engine.provider
    if p == "docker":
        if ctx.nixos:
            return fixes.nix(
                "virtualisation.docker.rootless = {\n  enable = true;\n"
                "  setSocketVariable = true;\n};"
            )
        return fixes.command(
            ctx,
            "export DOCKER_HOST=unix://$XDG_RUNTIME_DIR/docker.sock",
            root=False,
            note="or `docker context use rootless`; install rootless Docker first with "
            f"`{rootless_docker_setup(ctx.os_release)}`",
        )
    if p == "nerdctl":
        return fixes.command(ctx, "containerd-rootless-setuptool.sh install", root=False)
    return fixes.command(ctx, "unset CONTAINER_HOST", root=False)


def check_mode(ctx: DoctorContext) -> Finding:
    e = ctx.engine
    if e.rootless is None:
        return skip("engine.mode", "engine mode unknown (see engine.present)")
    reported = "rootless" if e.rootless else "rootful"
    if ctx.requested_rootless is True and ctx.user.uid == 0:
        return fail(
            "engine.mode",
            "rootless mode asked for, but nestkube runs as root, where engines are rootful",
            Fix(note="run nestkube as a regular user (with /etc/subuid and /etc/subgid ranges)"),
        )
    if ctx.requested_rootless is True and not e.rootless:
        return fail(
            "engine.mode",
            f"rootless mode asked for, but {e.provider} reports it is rootful",
            _rootless_switch(ctx),
        )
    if ctx.requested_rootless is False and e.rootless:
        return fail(
            "engine.mode",
            f"rootful mode asked for, but {e.provider} reports it is rootless",
            Fix(note=f"run nestkube as root (sudo) to reach the rootful {e.provider}"),
        )
    return ok("engine.mode", f"{e.provider} is {reported} (as the engine reports)")


def check_endpoint(ctx: DoctorContext) -> Finding:
    e = ctx.engine
    if not e.found:
        return skip("engine.endpoint", "no engine")
    if e.provider == "podman":
        url = ctx.env.get("CONTAINER_HOST", "")
        if url:
            return warn(
                "engine.endpoint",
                f"CONTAINER_HOST={url}: podman talks to a remote service, but doctor checked "
                "this machine",
                fixes.command(ctx, "unset CONTAINER_HOST", root=False),
            )
        where = f" (API socket {e.socket})" if e.socket else ""
        return ok("engine.endpoint", f"local podman, no CONTAINER_HOST{where}")
    if e.provider == "nerdctl":
        address = ctx.env.get("CONTAINERD_ADDRESS", "")
        return ok("engine.endpoint", f"containerd at {address or 'nerdctl default address'}")
    dc = ctx.docker_context
    if dc is None:
        return skip("engine.endpoint", "docker endpoint unknown")
    if dc.origin == "DOCKER_HOST":
        where = f"DOCKER_HOST={dc.host}"
        if dc.name and dc.name != "default":
            return warn(
                "engine.endpoint",
                f"{where} overrides DOCKER_CONTEXT={dc.name}",
                fixes.command(ctx, "unset DOCKER_HOST", root=False),
            )
    else:
        where = f"docker context {dc.name} -> {dc.host or 'unknown host'}"
    if dc.host.startswith(("tcp://", "ssh://")):
        return warn(
            "engine.endpoint",
            f"{where}: a remote daemon; doctor checked this machine, not the daemon's",
        )
    socket = dc.host.removeprefix("unix://")
    if dc.socket_present is False:
        return warn(
            "engine.endpoint",
            f"{where}, but {socket} does not exist (daemon not running?)",
            _start_daemon(ctx),
        )
    return ok("engine.endpoint", where)
