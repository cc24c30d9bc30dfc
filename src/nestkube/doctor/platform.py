"""How this host boots and runs: the facts a fix must fit (doctor's view, read from files).

A fix for the kernel command line depends on what sets it (GRUB, systemd-boot, WSL2's
.wslconfig, a hypervisor that boots a micro-VM without a bootloader); a fix that starts a
service on the init system (systemd, OpenRC); a fix that loads a module on whether this is a
container, where modules are the host kernel's. Everything is read below ``root`` (a fixture
tree in tests).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Boot = Literal["grub", "systemd-boot", "wsl2", "container", "none"]
Init = Literal["systemd", "openrc", "other"]

# Podman's own helper directories (containers.conf's compiled-in helper_binaries_dir).
PODMAN_HELPER_DIRS = (
    "/usr/local/libexec/podman",
    "/usr/local/lib/podman",
    "/usr/libexec/podman",
    "/usr/lib/podman",
)
GRUB_DEFAULTS = "/etc/default/grub"
LOADER_DIRS = ("/boot/loader/entries", "/efi/loader/entries", "/boot/efi/loader/entries")


@dataclass(frozen=True)
class Platform:
    cmdline: tuple[str, ...] = ()
    boot: Boot = "none"
    # GRUB defaults files that set a kernel command line, /etc/default/grub first.
    grub_files: tuple[str, ...] = ()
    # Whether /etc/default/grub has a GRUB_CMDLINE_LINUX= line to prepend to.
    grub_cmdline_line: bool = False
    # GRUB 2 as Fedora/openSUSE name it (grub2-mkconfig, /boot/grub2).
    grub2: bool = False
    loader_entries: tuple[str, ...] = ()
    # systemd-boot's /etc/kernel/cmdline, which kernel-install copies into new entries.
    kernel_cmdline_file: bool = False
    init: Init = "other"
    # "lxc", "docker", "podman", ... when this host is itself a container; "" otherwise.
    container: str = ""
    wsl: bool = False
    # grubby (RHEL/Fedora): edits every BLS boot entry, readable by root only, in one command.
    grubby: bool = False
    # Boot Loader Specification entry directories (present even where not readable).
    bls: bool = False

    def param(self, name: str) -> str | None:
        """The value the kernel command line gives ``name`` (the last one wins), or None."""
        value = None
        for word in self.cmdline:
            key, sep, val = word.partition("=")
            if key == name:
                value = val if sep else ""
        return value


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def _under(root: Path, path: str) -> Path:
    return root / path.lstrip("/")


# Root filesystems an engine gives a container; a VM booted from an image that was once a
# container's keeps its stale /.dockerenv but has a real disk at /.
CONTAINER_ROOT_FS = frozenset({"overlay", "aufs", "fuse.fuse-overlayfs", "shiftfs"})


def read_container(root: Path, root_fstype: str = "") -> str:
    """The container manager this host runs under, as systemd and the engines mark it."""
    marked = (_read(root / "run/systemd/container") or "").strip()
    if marked:
        return marked
    environ = _read(root / "proc/1/environ") or ""
    for item in environ.split("\0"):
        if item.startswith("container="):
            return item.partition("=")[2] or "container"
    if (root / "run/.containerenv").exists():
        return "podman"
    if (root / ".dockerenv").exists() and root_fstype in CONTAINER_ROOT_FS:
        return "docker"
    return ""


def read_init(root: Path) -> Init:
    # systemd's own test (sd_booted): the directory exists only while systemd runs as init.
    if (root / "run/systemd/system").is_dir():
        return "systemd"
    if (root / "run/openrc").is_dir() or (root / "sbin/openrc-run").exists():
        return "openrc"
    return "other"


def read_wsl(root: Path, release: str) -> bool:
    return (
        "microsoft" in release.lower()
        or (root / "proc/sys/fs/binfmt_misc/WSLInterop").exists()
        or (root / "run/WSL").is_dir()
    )


def _grub_files(root: Path) -> tuple[list[str], bool]:
    main = _read(_under(root, GRUB_DEFAULTS))
    if main is None:
        return [], False
    files = [GRUB_DEFAULTS]
    d = _under(root, "/etc/default/grub.d")
    for cfg in sorted(d.glob("*.cfg")) if d.is_dir() else []:
        if "GRUB_CMDLINE_LINUX" in (_read(cfg) or ""):
            files.append("/" + str(cfg.relative_to(root)))
    has_line = any(ln.startswith("GRUB_CMDLINE_LINUX=") for ln in main.splitlines())
    return files, has_line


def read_platform(root: Path, *, release: str, root_fstype: str = "") -> Platform:
    cmdline = tuple((_read(root / "proc/cmdline") or "").split())
    container = read_container(root, root_fstype)
    wsl = read_wsl(root, release)
    grub_files, grub_line = _grub_files(root)
    entries = [
        "/" + str(p.relative_to(root))
        for d in LOADER_DIRS
        if _under(root, d).is_dir()
        for p in sorted(_under(root, d).glob("*.conf"))
    ]
    boot: Boot
    if wsl:
        boot = "wsl2"
    elif container:
        boot = "container"
    elif grub_files:
        boot = "grub"
    elif entries:
        boot = "systemd-boot"
    else:
        boot = "none"
    return Platform(
        cmdline=cmdline,
        boot=boot,
        grub_files=tuple(grub_files),
        grub_cmdline_line=grub_line,
        grub2=(root / "boot/grub2").is_dir() or (root / "usr/sbin/grub2-mkconfig").exists(),
        loader_entries=tuple(entries),
        kernel_cmdline_file=(root / "etc/kernel/cmdline").is_file(),
        init=read_init(root),
        container=container,
        wsl=wsl,
        grubby=any((root / d / "grubby").exists() for d in ("usr/sbin", "sbin", "usr/bin")),
        bls=any(_under(root, d).is_dir() for d in LOADER_DIRS),
    )


def wrapper_path_dirs(root: Path, binary: str) -> tuple[str, ...]:
    """The directories a wrapper script puts on ``PATH`` before it runs the real binary.

    NixOS's podman is such a wrapper (makeWrapper's ``--prefix PATH``): Podman then finds
    fuse-overlayfs, slirp4netns and its other helpers on that PATH, not on the user's.
    Empty when ``binary`` is no script.
    """
    path = _under(root, binary)
    try:
        with path.open("rb") as f:
            head = f.read(2)
            if head != b"#!":
                return ()
            text = (head + f.read(65536)).decode(errors="replace")
    except OSError:
        return ()
    dirs: list[str] = []
    for line in text.splitlines():
        if not re.match(r"\s*(export\s+)?PATH=", line):
            continue
        for word in re.split(r"[\s'\":=${}]+", line.partition("=")[2]):
            word = word.rstrip("/")
            if word.startswith("/") and word not in dirs:
                dirs.append(word)
    return tuple(dirs)


def helper_dirs(conf_files: Sequence[Path]) -> tuple[str, ...]:
    """Where Podman looks for its helpers (pasta, slirp4netns, ...): ``helper_binaries_dir``
    of the last containers.conf that sets it (NixOS points it into the Nix store), else its
    built-in list."""
    dirs: tuple[str, ...] = PODMAN_HELPER_DIRS
    for path in conf_files:
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        engine = data.get("engine")
        value = engine.get("helper_binaries_dir") if isinstance(engine, dict) else None
        if isinstance(value, list):
            dirs = tuple(str(v) for v in value if isinstance(v, str))
    return dirs


def storage_mount_program(root: Path, paths: Sequence[str]) -> str:
    """``mount_program`` of the storage.conf files (fuse-overlayfs as the engine uses it)."""
    found = ""
    for path in paths:
        try:
            data = tomllib.loads(_under(root, path).read_text())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        storage = data.get("storage")
        options = storage.get("options") if isinstance(storage, dict) else None
        overlay = options.get("overlay") if isinstance(options, dict) else None
        candidates = [overlay, options]
        for table in candidates:
            if isinstance(table, dict) and isinstance(table.get("mount_program"), str):
                found = table["mount_program"]
                break
    return found
