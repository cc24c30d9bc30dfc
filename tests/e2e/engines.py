"""Engine harness for the end-to-end tests: make Podman, Docker and nerdctl usable here.

No systemd runs on the test machines, so dockerd is started here when `docker info` does not
answer. Its default runtime is nestkube's runc wrapper (src/nestkube/images/nestkube-runc), which
drops the capabilities missing from the host's bounding set: without it `docker run --privileged`
fails on these hosts ("unable to apply caps"). That is a test-host fix; the product only
detects and explains the condition (DockerProvider -> HostError).

nerdctl and its containerd are built from Go modules and run rootful for the session
(host_nerdctl); rootless nerdctl needs cgroup v2 delegation, which this host lacks, so it is
covered by unit tests only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nestkube.images import runc_wrapper
from nestkube.kit.host_nerdctl import (
    HostNerdctl,
    build_host_nerdctl,
    containerd_config,
    nerdctl_toml,
)
from nestkube.oci.archive import ImageSpec, Layer, write_image_archive
from nestkube.providers.docker import DockerProvider, probe_docker
from nestkube.providers.engine import CliProvider
from nestkube.providers.nerdctl import NerdctlProvider, probe_nerdctl
from nestkube.providers.podman import PodmanProvider, probe_podman
from nestkube.status import Status

HERE = Path(__file__).resolve().parent
# The runc wrapper the e2e daemons run, copied out of the checkout: dockerd and the nerdctl
# containerd outlive the test run that started them, and a later run (another clone: CI's,
# after the first one is deleted) uses them as they are. Pointed at the checkout's file, such a
# daemon ran a runtime that no longer existed and every container failed to start.
RUNTIME_DIR = Path("/run/nestkube-e2e-runtime")
CAPFILTER = RUNTIME_DIR / "nestkube-runc"
CAPFILTER_RUNTIME = "nestkube-capfilter"
DOCKERD_LOG = Path("/tmp/nestkube-e2e-dockerd.log")
NERDCTL_ROOT = Path("/var/lib/nestkube-e2e-nerdctl")
NERDCTL_STATE = Path("/run/nestkube-e2e-nerdctl")
CONTAINERD_LOG = Path("/tmp/nestkube-e2e-containerd.log")
BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "true", "echo", "cat", "sleep", "ls", "grep", "id", "hostname")


class HarnessError(RuntimeError):
    """The test host cannot provide an engine; the message says what is missing."""


def ensure_podman() -> PodmanProvider:
    """Podman, answering. Installing it is the job of scripts/install-system-deps.sh."""
    if not shutil.which("podman"):
        raise HarnessError("podman missing: run scripts/install-system-deps.sh")
    return PodmanProvider(probe_podman())


def _nerdctl_answers(binary: Path, env: dict[str, str]) -> bool:
    try:
        proc = subprocess.run(
            [str(binary), "info", "--format", "{{json .}}"],
            capture_output=True,
            text=True,
            check=False,
            timeout=15,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0 and '"ServerVersion"' in proc.stdout


@contextmanager
def host_nerdctl(status: Status, timeout: float = 60.0) -> Iterator[NerdctlProvider]:
    """Rootful nerdctl on a containerd of its own, both built from Go modules by the kit.

    containerd runs with private root, state and socket (NERDCTL_ROOT, NERDCTL_STATE), so it
    never meets a containerd the host may run; nerdctl finds it through $NERDCTL_TOML, and only
    nerdctl joins $PATH (the kit's runc must not shadow the one Podman uses). The root is kept
    between sessions: the node image built there is reused while its build key holds. The
    shim calls `runc` from containerd's PATH, which here is nestkube's runc wrapper around the kit's
    runc: nerdctl's --privileged asks for every capability as dockerd's does.
    """
    host = build_host_nerdctl(status)
    bin_dir = NERDCTL_STATE / "bin"
    shim_dir = NERDCTL_STATE / "shim-path"
    for d in (bin_dir, shim_dir, NERDCTL_ROOT / "cni" / "net.d"):
        d.mkdir(parents=True, exist_ok=True)
    _relink(bin_dir / "nerdctl", host.nerdctl)
    _relink(shim_dir / "runc", install_capfilter())
    address = NERDCTL_STATE / "containerd.sock"
    config = NERDCTL_STATE / "containerd.toml"
    config.write_text(
        containerd_config(
            root=NERDCTL_ROOT / "containerd", state=NERDCTL_STATE / "containerd", address=address
        )
    )
    toml = NERDCTL_STATE / "nerdctl.toml"
    toml.write_text(
        nerdctl_toml(
            address=address,
            data_root=NERDCTL_ROOT / "nerdctl",
            cni_path=host.cni_dir,
            netconf=NERDCTL_ROOT / "cni" / "net.d",
        )
    )
    saved = {k: os.environ.get(k) for k in ("PATH", "NERDCTL_TOML")}
    os.environ["NERDCTL_TOML"] = str(toml)
    os.environ["PATH"] = f"{bin_dir}:{os.environ.get('PATH', '')}"
    proc = None
    try:
        if not _nerdctl_answers(bin_dir / "nerdctl", dict(os.environ)):
            proc = _start_containerd(host, shim_dir, config, bin_dir / "nerdctl", timeout)
        yield NerdctlProvider(probe_nerdctl())
    finally:
        if proc is not None:
            _stop(proc)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _relink(link: Path, target: Path) -> None:
    link.unlink(missing_ok=True)
    link.symlink_to(target)


def _start_containerd(
    host: HostNerdctl, shim_dir: Path, config: Path, nerdctl: Path, timeout: float
) -> subprocess.Popen[bytes]:
    if os.geteuid() != 0:
        raise HarnessError("rootful nerdctl needs root to start its containerd")
    env = {
        **os.environ,
        # The shim looks runc up on this PATH; the wrapper hands over to the kit's runc.
        "PATH": f"{shim_dir}:{host.containerd_dir}:{os.environ.get('PATH', '')}",
        "NESTKUBE_RUNC": str(host.runc),
    }
    with CONTAINERD_LOG.open("ab") as log:
        proc = subprocess.Popen(
            [str(host.containerd_dir / "containerd"), "--config", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise HarnessError(
                f"containerd exited with {proc.returncode}; last lines of {CONTAINERD_LOG}:\n"
                + _tail(CONTAINERD_LOG)
            )
        if _nerdctl_answers(nerdctl, dict(os.environ)):
            return proc
        time.sleep(0.5)
    _stop(proc)
    raise HarnessError(
        f"containerd did not answer within {timeout:.0f}s; last lines of {CONTAINERD_LOG}:\n"
        + _tail(CONTAINERD_LOG)
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """containerd, stopped; the shims of containers still running stay (they do on restart)."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _docker_info() -> tuple[dict[str, object] | None, str]:
    proc = subprocess.run(
        ["docker", "info", "--format", "{{json .}}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    try:
        data = json.loads(proc.stdout) if proc.stdout.strip() else None
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("ServerVersion"):
        return data, proc.stderr
    return None, proc.stderr or proc.stdout


def _pin_api_version(stderr: str) -> bool:
    """Pin DOCKER_API_VERSION when the client refuses the daemon's older API.

    The preinstalled client is newer than Debian's dockerd 20.10. Current clients negotiate
    down by themselves; one that refuses says which version the daemon speaks.
    """
    m = re.search(r"[Mm]aximum supported API version is (\d+\.\d+)", stderr)
    if not m or os.environ.get("DOCKER_API_VERSION") == m.group(1):
        return False
    os.environ["DOCKER_API_VERSION"] = m.group(1)
    return True


def install_capfilter() -> Path:
    """This checkout's runc wrapper at :data:`CAPFILTER`, replaced whole (a daemon running it
    picks the new one up at its next container)."""
    if os.geteuid() != 0:
        return CAPFILTER
    RUNTIME_DIR.mkdir(parents=True, exist_ok=True)
    tmp = CAPFILTER.with_name(f".{CAPFILTER.name}.{os.getpid()}")
    shutil.copyfile(runc_wrapper.PATH, tmp)
    tmp.chmod(0o755)
    tmp.replace(CAPFILTER)
    return CAPFILTER


def _dockerd_command() -> list[str]:
    return [
        "dockerd",
        "--add-runtime",
        f"{CAPFILTER_RUNTIME}={CAPFILTER}",
        "--default-runtime",
        CAPFILTER_RUNTIME,
    ]


def ensure_dockerd(timeout: float = 60.0) -> DockerProvider:
    """A DockerProvider on a daemon that answers, starting dockerd if none does (idempotent).

    A daemon already running is used as it is: if it lacks the capability filter, privileged
    nodes fail with nestkube's explanation, which is what a user would see too.
    """
    if not shutil.which("docker"):
        raise HarnessError("docker client missing: run scripts/install-system-deps.sh")
    install_capfilter()
    info, stderr = _docker_info()
    if info is None and _pin_api_version(stderr):
        info, stderr = _docker_info()
    if info is None:
        _start_dockerd(timeout)
    return DockerProvider(probe_docker())


def _start_dockerd(timeout: float) -> None:
    if os.environ.get("DOCKER_HOST"):
        raise HarnessError(
            f"DOCKER_HOST={os.environ['DOCKER_HOST']} does not answer; not starting a local dockerd"
        )
    if not shutil.which("dockerd"):
        raise HarnessError("dockerd missing: apt-get install docker.io")
    if os.geteuid() != 0:
        raise HarnessError("dockerd is not running and only root can start it here")
    if not os.access(CAPFILTER, os.X_OK):
        raise HarnessError(f"{CAPFILTER} is not executable")
    DOCKERD_LOG.parent.mkdir(parents=True, exist_ok=True)
    with DOCKERD_LOG.open("ab") as log:
        # A session of its own: the daemon outlives the test process, like a service would.
        proc = subprocess.Popen(
            _dockerd_command(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    stderr = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise HarnessError(
                f"dockerd exited with {proc.returncode}; last lines of {DOCKERD_LOG}:\n"
                + _tail(DOCKERD_LOG)
            )
        info, stderr = _docker_info()
        if info is None and _pin_api_version(stderr):
            info, stderr = _docker_info()
        if info is not None:
            return
        time.sleep(0.5)
    raise HarnessError(
        f"dockerd did not answer within {timeout:.0f}s ({stderr.strip()}); "
        f"last lines of {DOCKERD_LOG}:\n{_tail(DOCKERD_LOG)}"
    )


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- tiny local images ----------------------------------------------------------------------
def _busybox() -> Path:
    if not BUSYBOX.is_file():
        raise HarnessError("/bin/busybox missing: apt-get install busybox-static")
    return BUSYBOX


def busybox_rootfs(dest: Path) -> Path:
    """A root filesystem tar (busybox and a few applets) for `docker import`/`podman import`."""
    busybox = _busybox()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(dest, "w") as tar:
        for name in ("bin", "dev", "etc", "proc", "sys", "tmp"):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if name == "tmp" else 0o755
            tar.addfile(info)
        tar.add(busybox, "bin/busybox")
        for applet in APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            tar.addfile(info)
    return dest


def busybox_archive(dest: Path, tag: str, marker: str = "") -> tuple[Path, str]:
    """A docker-archive of a busybox image tagged ``tag``; returns it and the image ID.

    ``marker`` lands in /marker so two tags can be made with different IDs.
    """
    layer = Layer().add_file("/bin/busybox", _busybox()).add_dir("/tmp", 0o1777)
    for applet in APPLETS:
        layer.add_symlink(f"/bin/{applet}", "busybox")
    layers = [layer]
    if marker:
        marker_file = dest.parent / f"{dest.stem}-marker.txt"
        marker_file.parent.mkdir(parents=True, exist_ok=True)
        marker_file.write_text(marker + "\n")
        layers.append(Layer().add_file("/marker", marker_file, 0o644))
    image_id = write_image_archive(ImageSpec(tags=[tag], layers=layers, cmd=["/bin/sh"]), dest)
    return dest, image_id


@contextmanager
def busybox_loaded_into(
    engine: CliProvider, tmp_path: Path, name: str, marker: str = ""
) -> Iterator[tuple[str, str]]:
    """A busybox image (see busybox_archive) loaded into ``engine`` alone, removed afterwards.

    Tagged ``localhost/nestkube-e2e/<name>:<random>``; yields the tag and the image ID.
    """
    tag = f"localhost/nestkube-e2e/{name}:{uuid.uuid4().hex[:8]}"
    archive, image_id = busybox_archive(tmp_path / "img.tar", tag, marker=marker)
    engine.load_image_archive(archive)
    try:
        yield tag, image_id
    finally:
        engine.remove_image(tag)
