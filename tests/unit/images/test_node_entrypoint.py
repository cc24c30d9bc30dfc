"""nestkube-entrypoint, the node container's PID 1 before systemd: its logic, run with sh.

The script's paths move under NESTKUBE_ROOT (a scratch directory standing for the container's
root), mount and init are replaced by recording scripts, so nothing on the host is touched.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from nestkube.images.node_image import NODE_FILES

SCRIPT = NODE_FILES / "entrypoint.sh"
MACHINE_ID_RE = re.compile(r"[0-9a-f]{32}\n")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n")
BAKED = "0123456789abcdef0123456789abcdef\n"


@dataclass
class Boot:
    returncode: int
    stderr: str
    init_lines: list[str]  # what the fake init printed: its PID, then its arguments
    mounts: list[str]  # one line of arguments per mount call
    pid: int


class Container:
    """A scratch root made from an 'image' directory, booted like a node container."""

    def __init__(self, root: Path, tools: Path) -> None:
        self.root = root
        self.tools = tools

    def boot(self, *args: str) -> Boot:
        log = self.tools / "calls"
        log.unlink(missing_ok=True)
        env = {
            "PATH": os.environ["PATH"],
            "NESTKUBE_ROOT": str(self.root),
            "NESTKUBE_MOUNT": str(self.tools / "mount"),
            "NESTKUBE_INIT": str(self.tools / "init"),
            "CALLS": str(log),
        }
        proc = subprocess.Popen(
            ["sh", str(SCRIPT), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        out, err = proc.communicate(timeout=30)
        calls = log.read_text().splitlines() if log.exists() else []
        return Boot(
            returncode=proc.returncode,
            stderr=err,
            init_lines=out.splitlines(),
            mounts=[c.removeprefix("mount ") for c in calls if c.startswith("mount ")],
            pid=proc.pid,
        )

    def read(self, path: str) -> str:
        return (self.root / path.lstrip("/")).read_text()


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "mount").write_text('#!/bin/sh\necho "mount $*" >>"$CALLS"\n')
    (tools / "init").write_text('#!/bin/sh\necho "$$"\nfor a in "$@"; do echo "$a"; done\n')
    for tool in ("mount", "init"):
        (tools / tool).chmod(0o755)
    return tools


@pytest.fixture
def image(tmp_path: Path) -> Path:
    """The node image's root as far as the script cares: /etc, DMI, D-Bus."""
    root = tmp_path / "image"
    (root / "etc" / "nestkube").mkdir(parents=True)
    (root / "etc" / "machine-id").write_text("")
    (root / "sys" / "class" / "dmi" / "id").mkdir(parents=True)
    (root / "sys" / "class" / "dmi" / "id" / "product_uuid").write_text("HOST-UUID\n")
    (root / "var" / "lib" / "dbus").mkdir(parents=True)
    return root


def container(image: Path, tools: Path, name: str) -> Container:
    root = image.parent / name
    shutil.copytree(image, root, symlinks=True)
    return Container(root, tools)


def test_first_boot_makes_an_identity_and_execs_init(image: Path, tools: Path) -> None:
    node = container(image, tools, "node1")
    boot = node.boot("--log-level=info", "two words")
    assert boot.returncode == 0, boot.stderr
    assert boot.stderr == ""
    assert MACHINE_ID_RE.fullmatch(node.read("/etc/machine-id"))
    product_uuid = node.read("/etc/nestkube/product_uuid")
    assert UUID_RE.fullmatch(product_uuid)
    assert oct((node.root / "etc/nestkube/product_uuid").stat().st_mode & 0o777) == "0o444"
    dmi = node.root / "sys/class/dmi/id/product_uuid"
    assert boot.mounts == [f"--bind {node.root}/etc/nestkube/product_uuid {dmi}"]
    # exec, not a child: init keeps the entrypoint's PID (PID 1 in a container).
    assert boot.init_lines == [str(boot.pid), "--log-level=info", "two words"]


def test_a_restart_keeps_the_identity_and_mounts_again(image: Path, tools: Path) -> None:
    node = container(image, tools, "node1")
    node.boot()
    machine_id, product_uuid = node.read("/etc/machine-id"), node.read("/etc/nestkube/product_uuid")
    again = node.boot()
    assert again.returncode == 0, again.stderr
    assert node.read("/etc/machine-id") == machine_id
    assert node.read("/etc/nestkube/product_uuid") == product_uuid
    assert len(again.mounts) == 1


def test_containers_of_one_image_differ(image: Path, tools: Path) -> None:
    nodes = [container(image, tools, f"node{i}") for i in range(3)]
    for node in nodes:
        assert node.boot().returncode == 0
    assert len({n.read("/etc/machine-id") for n in nodes}) == 3
    assert len({n.read("/etc/nestkube/product_uuid") for n in nodes}) == 3


def test_a_machine_id_baked_into_the_image_is_replaced_at_first_boot(
    image: Path, tools: Path
) -> None:
    (image / "etc" / "machine-id").write_text(BAKED)
    node = container(image, tools, "node1")
    node.boot()
    assert node.read("/etc/machine-id") != BAKED
    assert MACHINE_ID_RE.fullmatch(node.read("/etc/machine-id"))


@pytest.mark.parametrize("broken", ["", "uninitialized\n", "ABCDEF\n", None])
def test_a_missing_or_invalid_machine_id_is_remade_and_product_uuid_kept(
    image: Path, tools: Path, broken: str | None
) -> None:
    node = container(image, tools, "node1")
    node.boot()
    product_uuid = node.read("/etc/nestkube/product_uuid")
    machine_id = node.root / "etc/machine-id"
    machine_id.chmod(0o644)
    if broken is None:
        machine_id.unlink()
    else:
        machine_id.write_text(broken)
    node.boot()
    assert MACHINE_ID_RE.fullmatch(node.read("/etc/machine-id"))
    assert node.read("/etc/nestkube/product_uuid") == product_uuid


def test_a_dbus_copy_of_its_own_becomes_a_link(image: Path, tools: Path) -> None:
    (image / "var/lib/dbus/machine-id").write_text(BAKED)
    node = container(image, tools, "node1")
    node.boot()
    link = node.root / "var/lib/dbus/machine-id"
    assert link.is_symlink()
    assert os.readlink(link) == "/etc/machine-id"


def test_no_dmi_no_mount_and_still_boots(image: Path, tools: Path) -> None:
    shutil.rmtree(image / "sys")
    node = container(image, tools, "node1")
    boot = node.boot()
    assert boot.returncode == 0
    assert boot.mounts == []
    assert boot.init_lines == [str(boot.pid)]
    assert UUID_RE.fullmatch(node.read("/etc/nestkube/product_uuid"))


def test_failures_are_reported_and_init_still_runs(image: Path, tools: Path) -> None:
    # A directory where the file should be makes every write of it fail.
    (image / "etc" / "machine-id").unlink()
    (image / "etc" / "machine-id").mkdir()
    (tools / "mount").write_text("#!/bin/sh\nexit 32\n")
    node = container(image, tools, "node1")
    boot = node.boot()
    assert boot.returncode == 0
    assert boot.init_lines == [str(boot.pid)]
    assert "cannot write" in boot.stderr and "machine-id" in boot.stderr
    assert "cannot bind-mount" in boot.stderr
