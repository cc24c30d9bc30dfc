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


REGULAR = tarfile.REGTYPE
DIRECTORY = tarfile.DIRTYPE
SYMLINK = tarfile.SYMTYPE


@dataclass(frozen=True)
class Entry:
    """One path of a layer with exactly the metadata it is written with."""

    path: str  # inside the image, without the leading "/"
    type: bytes  # REGULAR, DIRECTORY or SYMLINK
    mode: int  # permission bits including setuid, setgid and sticky (0o7777 at most)
    uid: int = 0
    gid: int = 0
    source: Path | None = None  # a regular file's content
    target: str = ""  # a symlink's target


@dataclass
class Layer:
    """The entries of one layer, by path, or a prepared layer tar used as-is.

    Parents that are not declared are written as directories 0755 owned by root; declare a
    directory to give it other metadata. In a layer above others, even an implicit parent
    replaces the metadata of that directory below, so declare it there too.
    """

    entries: dict[str, Entry] = field(default_factory=dict)
    tarball: Path | None = None

    def add_file(
        self, dest: str, src: Path, mode: int = 0o755, *, uid: int = 0, gid: int = 0
    ) -> Layer:
        return self._add(Entry(_path(dest), REGULAR, mode, uid, gid, source=src))

    def add_symlink(self, dest: str, target: str, *, uid: int = 0, gid: int = 0) -> Layer:
        # Symlink permission bits mean nothing on Linux; 0777 is what the kernel shows.
        return self._add(Entry(_path(dest), SYMLINK, 0o777, uid, gid, target=target))

    def add_dir(self, dest: str, mode: int = 0o755, *, uid: int = 0, gid: int = 0) -> Layer:
        return self._add(Entry(_path(dest), DIRECTORY, mode, uid, gid))

    def _add(self, entry: Entry) -> Layer:
        if not 0 <= entry.mode <= 0o7777:
            raise ValueError(f"/{entry.path}: mode {entry.mode:#o} is not a permission mode")
        if entry.uid < 0 or entry.gid < 0:
            raise ValueError(f"/{entry.path}: owner {entry.uid}:{entry.gid} is negative")
        if entry.path in self.entries and self.entries[entry.path] != entry:
            # Two different answers for one path: writing either would drop the other.
            raise ValueError(f"/{entry.path} is declared twice with different metadata")
        self.entries[entry.path] = entry
        return self


def _path(dest: str) -> str:
    path = dest.strip("/")
    if not path or any(part in ("", ".", "..") for part in path.split("/")):
        raise ValueError(f"{dest!r} is not a plain absolute path inside an image")
    return path


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
    entries = dict(layer.entries)
    for path in layer.entries:
        parts = path.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            declared = entries.setdefault(parent, Entry(parent, DIRECTORY, 0o755))
            if declared.type != DIRECTORY:
                raise ValueError(f"/{parent} is not a directory but /{path} is inside it")
    buf = io.BytesIO()
    # Fixed mtimes and sorted paths make identical inputs give identical layer digests; a
    # sorted order also puts every directory before what it contains.
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(entries):
            entry = entries[path]
            info = tarfile.TarInfo(path)
            info.type = entry.type
            info.mode = entry.mode
            info.uid = entry.uid
            info.gid = entry.gid
            if entry.type == SYMLINK:
                info.linkname = entry.target
                tar.addfile(info)
            elif entry.type == REGULAR and entry.source is not None:
                data = entry.source.read_bytes()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
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
