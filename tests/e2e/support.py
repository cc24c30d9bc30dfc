"""Shared helpers for the end-to-end tests: real engines, real Kubernetes, no mocks."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from nestkube.images.archive import ImageSpec, Layer, write_image_archive
from nestkube.providers.base import LABEL_CLUSTER, Provider

BUSYBOX = Path("/bin/busybox")
WORKLOAD_IMAGE = "localhost/nestkube-test/busybox:1"
APPLETS = ("sh", "httpd", "wget", "cat", "echo", "sleep", "hostname", "ls", "ip", "nc", "true")


def workload_archive(dest: Path, tag: str = WORKLOAD_IMAGE) -> Path:
    """A tiny image made from Debian's static busybox: a shell, httpd and wget."""
    if not BUSYBOX.is_file():
        raise RuntimeError("/bin/busybox missing: apt-get install busybox-static")
    layer = Layer().add_file("/bin/busybox", BUSYBOX).add_dir("/www").add_dir("/tmp", 0o1777)
    for applet in APPLETS:
        layer.add_symlink(f"/bin/{applet}", "busybox")
    write_image_archive(ImageSpec(tags=[tag], layers=[layer], cmd=["/bin/sh"]), dest)
    return dest


def import_into_nodes(provider: Provider, nodes: list[str], archive: Path) -> None:
    for node in nodes:
        with archive.open("rb") as fh:
            provider.exec_stream_in(node, ["ctr", "-n", "k8s.io", "images", "import", "-"], fh)


def kubectl_binary(binaries_dir: Path) -> str:
    return str(binaries_dir / "kubectl")


class Kubectl:
    """kubectl on the host, through the merged kubeconfig context, as a user would run it."""

    def __init__(self, binary: str, kubeconfig: Path, context: str) -> None:
        self.binary = binary
        self.kubeconfig = kubeconfig
        self.context = context

    def __call__(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        cmd = [self.binary, f"--kubeconfig={self.kubeconfig}", f"--context={self.context}", *args]
        proc = subprocess.run(
            cmd, input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed: {proc.stderr}{proc.stdout}")
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json").stdout)

    def apply(self, manifest: str) -> None:
        self("apply", "-f", "-", input=manifest)

    def wait_pods_ready(self, selector: str, timeout: int = 180) -> None:
        deadline = time.monotonic() + timeout
        while True:
            proc = self(
                "wait",
                "--for=condition=Ready",
                "pod",
                "-l",
                selector,
                "--timeout=30s",
                check=False,
                timeout=60,
            )
            if proc.returncode == 0:
                return
            if time.monotonic() > deadline:
                pods = self("get", "pods", "-o", "wide", check=False).stdout
                events = self("get", "events", "--sort-by=.lastTimestamp", check=False).stdout
                raise AssertionError(f"pods {selector} not Ready:\n{pods}\n{events[-3000:]}")
            time.sleep(2)


def engine_leftovers(engine: str, cluster: str) -> dict[str, list[str]]:
    """Containers, volumes and networks the engine still holds for ``cluster``."""

    def names(*args: str) -> list[str]:
        out = subprocess.run([engine, *args], capture_output=True, text=True, check=True).stdout
        return [line for line in out.split() if line]

    label = f"label={LABEL_CLUSTER}={cluster}"
    return {
        "containers": names("ps", "-a", "-q", "--filter", label),
        "volumes": names("volume", "ls", "-q", "--filter", label),
        "networks": [
            n for n in names("network", "ls", "--format", "{{.Name}}") if n == f"nestkube-{cluster}"
        ],
    }


def nestkube_cli() -> str:
    found = shutil.which("nestkube")
    if found:
        return found
    return str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "nestkube")


# --- running nestkube as the rootless test user ---------------------------------------------

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
NESTKUBE = VENV_BIN / "nestkube"
ENSURE_USER = REPO / "scripts/ensure-rootless-user.sh"
# Absolute, because the user's environment below has no sbin on PATH.
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"


def ensure_rootless_user() -> pwd.struct_passwd:
    assert os.geteuid() == 0, "creating the rootless test user needs root"
    out = subprocess.run([str(ENSURE_USER)], capture_output=True, text=True, check=True, timeout=60)
    return pwd.getpwnam(out.stdout.strip().splitlines()[-1])


def nestkube_as(user: str, home: Path) -> list[str]:
    """A nestkube command line that ``user`` can execute, with ``home`` as its HOME.

    runuser resets HOME from the password database, so the environment is set inside it.
    The venv's interpreter may be a symlink into root's private home (pyenv under /root);
    then a system Python of the same minor version runs the same source and site-packages.
    """
    env = ["env", "-i", f"HOME={home}", "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"]
    python = Path(os.path.realpath(VENV_BIN / "python"))
    probe = subprocess.run([RUNUSER, "-u", user, "--", "test", "-x", str(python)], check=False)
    if probe.returncode == 0:
        return [RUNUSER, "-u", user, "--", *env, str(NESTKUBE)]
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = shutil.which(version, path="/usr/bin:/bin")
    assert system, f"{user} cannot run {python} and there is no /usr/bin/{version}"
    site = next(p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix))
    path = f"{REPO / 'src'}:{site}"
    code = "from nestkube.cli.main import main; main()"
    return [RUNUSER, "-u", user, "--", *env, f"PYTHONPATH={path}", system, "-c", code]
