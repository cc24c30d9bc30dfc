"""A Debian 12 minbase image made with debootstrap, for hosts that can pull no image.

The rootfs tarball is cached by its recipe; importing it into an engine takes seconds.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from nestkube import _exec
from nestkube.cache import cache_root, content_key
from nestkube.errors import ImageBuildError
from nestkube.status import SILENT, Status

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
RECIPE = "minbase-2"
# What a slim Debian image has beyond minbase that the node build relies on.
INCLUDE = ("ca-certificates",)


def base_key() -> str:
    return content_key([RECIPE, SUITE, MIRROR, *INCLUDE])


def base_image_name() -> str:
    """The local image name of the kit's base, tagged by recipe so stale ones are never used."""
    return f"localhost/nestkube/debian-base:{SUITE}-{base_key()[:12]}"


def base_tarball(status: Status = SILENT) -> Path:
    """The cached rootfs tarball, made with debootstrap when absent."""
    final = cache_root() / "kit" / "base" / f"{base_key()}.tar"
    return debootstrap_tarball(final, INCLUDE, f"Debian {SUITE} minbase", status)


def debootstrap_tarball(
    final: Path, include: Sequence[str], what: str, status: Status = SILENT
) -> Path:
    """``final``: a tarball of a Debian ``SUITE`` minbase root with ``include``, made with
    debootstrap when absent (root only). A half-made one is never visible."""
    if final.is_file():
        return final
    if os.geteuid() != 0:
        raise ImageBuildError(
            f"building the {what} rootfs needs root (debootstrap); run as root once"
        )
    if not shutil.which("debootstrap"):
        raise ImageBuildError("debootstrap not found: apt-get install debootstrap")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="rootfs.", dir=final.parent))
    rootfs = tmp / "rootfs"
    try:
        with status.step(f"debootstrap {what} ({len(include)} packages)"):
            _exec.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(include)}",
                    SUITE,
                    str(rootfs),
                    MIRROR,
                ],
                what=f"debootstrap {what}",
                timeout=3600,
            )
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in (rootfs / junk).glob("*"):
                if entry.is_file():
                    entry.unlink()
        partial = tmp / "rootfs.tar"
        with status.step(f"Packing the {what} rootfs"):
            _exec.run(
                ["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-cf", str(partial), "."],
                what=f"tar {what} rootfs",
                timeout=900,
            )
        os.replace(partial, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
