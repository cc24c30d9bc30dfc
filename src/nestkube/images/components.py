"""The control-plane component images, made from binaries without any base image.

Tags are exactly what ``kubeadm config images list`` asks for, so kubeadm finds every image
already in the node's containerd and pulls nothing.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from nestkube import _exec
from nestkube.cache import cache_root, content_key, file_sha256
from nestkube.errors import ImageBuildError
from nestkube.kit.kubernetes import KubernetesBinaries
from nestkube.kit.node_kit import NodeKit, repo_name
from nestkube.oci.archive import ImageSpec, Layer, write_image_archive

PAUSE_SOURCE = Path(__file__).with_name("pause.c")
STATIC_COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")


@dataclass(frozen=True)
class ComponentPlan:
    """What kubeadm wants, split into what nestkube can make and what it cannot."""

    wanted: tuple[str, ...]

    def find(self, component: str) -> str | None:
        for ref in self.wanted:
            if repo_name(ref) == component:
                return ref
        return None

    @property
    def coredns(self) -> str | None:
        return self.find("coredns")


def plan_components(binaries: KubernetesBinaries) -> ComponentPlan:
    out = _exec.run(
        [
            str(binaries.path("kubeadm")),
            "config",
            "images",
            "list",
            "--kubernetes-version",
            binaries.version,
        ],
        what="kubeadm config images list",
        timeout=60,
    ).stdout
    return ComponentPlan(tuple(line.strip() for line in out.splitlines() if line.strip()))


def build_pause(dest_dir: Path) -> Path:
    """Compile the pause program statically, cached by its source's hash."""
    key = content_key(["pause-1", file_sha256(PAUSE_SOURCE)])
    cached = cache_root() / "kit" / "pause" / key / "pause"
    if not cached.is_file():
        if not shutil.which("gcc"):
            raise ImageBuildError("gcc not found: it builds the static pause program")
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp")
        _exec.run(
            ["gcc", "-static", "-Os", "-s", "-o", str(tmp), str(PAUSE_SOURCE)],
            what="gcc -static pause.c (install libc6-dev)",
            timeout=300,
        )
        tmp.replace(cached)
    dest = dest_dir / "pause"
    shutil.copy2(cached, dest)
    return dest


@dataclass
class ComponentImages:
    # kubeadm's reference -> the reference written (differs only where the image is tagged
    # with its own version, e.g. Debian's etcd)
    written: dict[str, str] = field(default_factory=dict)
    # component -> version of what the images hold
    versions: dict[str, str] = field(default_factory=dict)


def _upstream(debian_version: str) -> str:
    """'3.4.23-4+b5' -> '3.4.23': the upstream part of a Debian package version."""
    return debian_version.split(":")[-1].split("-")[0].split("+")[0]


def write_component_archives(
    plan: ComponentPlan,
    kit: NodeKit,
    out_dir: Path,
    *,
    etcd_layer: Path,
    etcd_version: str | None,
    kube_proxy_layer: Path,
    pause_binary: Path,
) -> ComponentImages:
    """Write one archive per image nestkube can make, each tagged with what it holds."""
    out_dir.mkdir(parents=True, exist_ok=True)
    result = ComponentImages()
    binaries = kit.kubernetes

    def emit(
        ref: str, spec_layers: list[Layer], entrypoint: list[str] | None, tag: str | None = None
    ) -> None:
        actual = ref if tag is None else f"{ref.rsplit(':', 1)[0]}:{tag}"
        write_image_archive(
            ImageSpec(tags=[actual], layers=spec_layers, entrypoint=entrypoint),
            out_dir / f"{repo_name(ref)}.tar",
            compress=True,
        )
        result.written[ref] = actual

    for component in STATIC_COMPONENTS:
        ref = plan.find(component)
        if ref:
            layer = Layer().add_file(f"/usr/local/bin/{component}", binaries.path(component))
            emit(ref, [layer], None)
    ref = plan.find("kube-proxy")
    if ref:
        proxy = Layer().add_file("/usr/local/bin/kube-proxy", binaries.path("kube-proxy"))
        emit(ref, [Layer(tarball=kube_proxy_layer), proxy], None)
    ref = plan.find("pause")
    if ref:
        emit(ref, [Layer().add_file("/pause", pause_binary)], ["/pause"])
        result.versions["pause"] = f"nestkube-{file_sha256(PAUSE_SOURCE)[:12]}"
    ref = plan.find("etcd")
    if ref and "etcd" in kit.image_binaries:
        layer = (
            Layer()
            .add_file("/usr/local/bin/etcd", kit.image_binaries["etcd"])
            .add_dir("/var/lib/etcd", 0o700)
            .add_dir("/tmp", 0o1777)
        )
        emit(ref, [layer], None)
    elif ref and etcd_version:
        # Debian's etcd is not the release kubeadm names: tag it with its own version.
        upstream = _upstream(etcd_version)
        emit(ref, [Layer(tarball=etcd_layer)], None, tag=f"{upstream}-0")
        result.versions["etcd"] = upstream
    ref = plan.coredns
    if ref and "coredns" in kit.image_binaries:
        emit(ref, [Layer().add_file("/coredns", kit.image_binaries["coredns"])], ["/coredns"])
    return result
