"""Write single-platform image archives (``docker save`` layout) without any engine.

Component images are one or two layers of static binaries, so nestkube assembles them directly:
no base image, no build tool, and the result imports into containerd, Podman and Docker alike.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import platform
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "ppc64le": "ppc64le", "s390x": "s390x"}
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def host_arch() -> str:
    machine = platform.machine()
    return _ARCH.get(machine, machine)


@dataclass
class Layer:
    """Files for one layer: (path inside the image, content source) plus symlinks and dirs."""

    files: list[tuple[str, Path, int]] = field(default_factory=list)
    symlinks: list[tuple[str, str]] = field(default_factory=list)
    dirs: list[tuple[str, int]] = field(default_factory=list)
    tarball: Path | None = None  # a prepared layer tar used as-is

    def add_file(self, dest: str, src: Path, mode: int = 0o755) -> Layer:
        self.files.append((dest.lstrip("/"), src, mode))
        return self

    def add_symlink(self, dest: str, target: str) -> Layer:
        self.symlinks.append((dest.lstrip("/"), target))
        return self

    def add_dir(self, dest: str, mode: int = 0o755) -> Layer:
        self.dirs.append((dest.lstrip("/"), mode))
        return self


@dataclass(frozen=True)
class ImageSpec:
    tags: Sequence[str]
    layers: Sequence[Layer]
    entrypoint: Sequence[str] | None = None
    cmd: Sequence[str] | None = None
    env: Sequence[str] = (f"PATH={DEFAULT_PATH}",)
    user: str = ""
    workdir: str = ""
    labels: dict[str, str] = field(default_factory=dict)


def _layer_bytes(layer: Layer) -> bytes:
    if layer.tarball is not None:
        return layer.tarball.read_bytes()
    buf = io.BytesIO()
    # Fixed mtimes and owners make identical inputs give identical layer digests.
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        parents: set[str] = set()

        def add_parents(path: str) -> None:
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                parent = "/".join(parts[:i])
                if parent and parent not in parents:
                    parents.add(parent)
                    info = tarfile.TarInfo(parent)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tar.addfile(info)

        for dest, _mode in sorted(layer.dirs):
            add_parents(dest + "/x")
        for dest, src, mode in sorted(layer.files):
            add_parents(dest)
            data = src.read_bytes()
            info = tarfile.TarInfo(dest)
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))
        for dest, target in sorted(layer.symlinks):
            add_parents(dest)
            info = tarfile.TarInfo(dest)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            info.mode = 0o777
            tar.addfile(info)
    return buf.getvalue()


def write_image_archive(spec: ImageSpec, dest: Path, *, compress: bool = False) -> str:
    """Write ``spec`` as a docker-archive tarball at ``dest``; returns the image ID.

    With ``compress`` the layers are stored gzipped. containerd keeps imported layers as they
    come, so for images preloaded into a node this is what makes the node image small; the
    diff IDs stay those of the uncompressed layers, as the image format requires.
    """
    raw_blobs = [_layer_bytes(layer) for layer in spec.layers]
    diff_ids = ["sha256:" + hashlib.sha256(blob).hexdigest() for blob in raw_blobs]
    layer_blobs = [_gzip(blob) for blob in raw_blobs] if compress else raw_blobs
    container_config: dict[str, object] = {"Env": list(spec.env), "Labels": dict(spec.labels)}
    if spec.entrypoint is not None:
        container_config["Entrypoint"] = list(spec.entrypoint)
    if spec.cmd is not None:
        container_config["Cmd"] = list(spec.cmd)
    if spec.user:
        container_config["User"] = spec.user
    if spec.workdir:
        container_config["WorkingDir"] = spec.workdir
    config = {
        "architecture": host_arch(),
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": container_config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "nestkube"}]
        * len(layer_blobs),
    }
    config_blob = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_digest = hashlib.sha256(config_blob).hexdigest()
    layer_names = [f"{d.removeprefix('sha256:')}/layer.tar" for d in diff_ids]
    manifest = [
        {"Config": f"{config_digest}.json", "RepoTags": list(spec.tags), "Layers": layer_names}
    ]
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(dest, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, f"{config_digest}.json", config_blob)
        for name, blob in zip(layer_names, layer_blobs, strict=True):
            _add_bytes(tar, name, blob)
        _add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
        repos: dict[str, dict[str, str]] = {}
        for tag in spec.tags:
            repo, _, version = tag.rpartition(":")
            repos.setdefault(repo, {})[version] = config_digest
        _add_bytes(tar, "repositories", json.dumps(repos).encode())
    return "sha256:" + config_digest


def _gzip(blob: bytes) -> bytes:
    # Level 6 halves the time of level 9 for nearly the same size on Go binaries; mtime=0
    # keeps equal inputs byte-identical.
    return gzip.compress(blob, compresslevel=6, mtime=0)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))
