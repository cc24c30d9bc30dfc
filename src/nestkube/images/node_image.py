"""``nestkube build node-image`` on any engine.

kind's builder needs Docker; this one drives whichever engine the provider wraps: a container
of the base image installs the node's packages (phase one), nestkube assembles the component
images from the binaries on the host, the container imports them into its containerd store
(phase two), and the container is committed with systemd as its entrypoint. Nothing is tagged
until the last step succeeds.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nestkube import metallb, metrics_server, storage
from nestkube._version import __version__
from nestkube.cache import content_key, file_sha256
from nestkube.errors import CommandError, ImageBuildError
from nestkube.images import crio_variant
from nestkube.images.components import (
    ComponentPlan,
    build_pause,
    plan_components,
    write_component_archives,
)
from nestkube.kit import base_image as kit_base
from nestkube.kit import node_kit
from nestkube.kit.crio import gather_crio
from nestkube.kit.kubernetes import KubernetesBinaries
from nestkube.kit.node_kit import NodeKit, image_tag, repo_name
from nestkube.kit.releases import CNI_PLUGINS, METALLB_MANIFEST
from nestkube.kubeadm.containerd import render_containerd_config
from nestkube.providers.base import ImageProvider, Mount
from nestkube.status import SILENT, Status

NODE_FILES = Path(__file__).with_name("node")
RECIPE = "node-6"
LABEL_K8S_VERSION = "io.nestkube.kubernetes-version"
LABEL_RUNTIME = "io.nestkube.runtime"
# "component=version,..." for every component the image holds (kubernetes, containerd, runc,
# cni-plugins, crictl, etcd, coredns, pause).
LABEL_COMPONENTS = "io.nestkube.components"
# "component=tag,...": images tagged with their own version instead of the one kubeadm lists
# (Debian's etcd); create tells kubeadm to use these tags.
LABEL_IMAGE_TAGS = "io.nestkube.image-tags"
LABEL_PRELOADED = "io.nestkube.preloaded-images"
LABEL_MISSING = "io.nestkube.missing-images"
LABEL_BUILD_KEY = "io.nestkube.build-key"
LABEL_BUILDER = "io.nestkube.builder-version"
# Seconds a pull of an image with no offline source may take before it is left out.
PULL_TIMEOUT = 60.0


def default_node_image(version: str, runtime: str = "containerd") -> str:
    suffix = crio_variant.TAG_SUFFIX if runtime == "cri-o" else ""
    return f"localhost/nestkube/node:{version}{suffix}"


@dataclass(frozen=True)
class NodeImage:
    image: str
    kubernetes_version: str
    preloaded: tuple[str, ...]
    missing: tuple[str, ...]
    size_bytes: int | None
    reused: bool


def ensure_kit_base(provider: ImageProvider, status: Status = SILENT) -> str:
    """The kit's debootstrap base image in this engine, imported from the cache if absent."""
    name = kit_base.base_image_name()
    if provider.image_exists(name):
        return name
    tarball = kit_base.base_tarball(status)
    with status.step(f"Importing the kit base image {name}"):
        provider.import_rootfs(tarball, name)
    return name


def _build_key(kit: NodeKit, base_id: str, offline: bool) -> str:
    script_hashes = sorted((p.name, file_sha256(p)) for p in NODE_FILES.iterdir() if p.is_file())
    # By role and content, never by path: the same binaries from another cache are the same.
    binaries = {f"k8s/{p.name}": p for p in kit.kubernetes.directory.iterdir() if p.is_file()}
    binaries |= {f"runtime/{name}": p for name, p in kit.runtime.items()}
    binaries |= {f"image/{name}": p for name, p in kit.image_binaries.items()}
    binaries |= {f"manifest/{name}": p for name, p in kit.manifests.items()}
    bin_hashes = sorted((role, file_sha256(p)) for role, p in binaries.items())
    return content_key(
        [
            RECIPE,
            base_id,
            sorted(kit.versions.items()),
            offline,
            script_hashes,
            bin_hashes,
            metallb.RECIPE if kit.manifests else None,
        ]
    )


def components_label(versions: dict[str, str]) -> str:
    return ",".join(f"{name}={version}" for name, version in versions.items())


def parse_components_label(value: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in value.split(",") if "=" in item)
    return {name: version for name, version in pairs}


def build_node_image(
    provider: ImageProvider,
    binaries: KubernetesBinaries,
    *,
    image: str | None = None,
    base_image: str | None = None,
    pull_missing: bool = True,
    force: bool = False,
    runtime: str = "containerd",
    status: Status = SILENT,
) -> NodeImage:
    """Build a node image for ``binaries``; reuse an existing one built from the same inputs.

    ``runtime`` "cri-o" builds the CRI-O variant (see :mod:`nestkube.images.crio_variant`).
    """
    crio = gather_crio(binaries.version, status) if runtime == "cri-o" else None
    target = image or default_node_image(binaries.version, runtime)
    base = base_image or ensure_kit_base(provider, status)
    base_id = provider.image_id(base)
    if base_id is None:
        raise ImageBuildError(f"base image {base} not found in {provider.info.name}")
    plan = plan_components(binaries)
    kit = node_kit.gather(binaries, plan.wanted, status)
    key = _build_key(kit, base_id, not pull_missing)
    if crio is not None:
        key = crio_variant.key(key, crio)
    if not force and provider.image_exists(target):
        labels = provider.image_labels(target)
        if labels.get(LABEL_BUILD_KEY) == key:
            status.info(f"Node image {target} is up to date")
            return _describe(provider, target, reused=True)

    work = Path(tempfile.mkdtemp(prefix="nestkube-build-"))
    container = f"nestkube-build-{secrets.token_hex(4)}"
    try:
        in_dir, out_dir = _stage(work, kit, plan)
        if crio is not None:
            crio_variant.stage(in_dir, crio, plan.find("pause"))
        mounts = [
            Mount(str(in_dir), "/nestkube-in", read_only=True),
            Mount(str(out_dir), "/nestkube-out"),
        ]
        with status.step(f"Starting a build container from {base}"):
            provider.run_build_container(base, container, mounts)
        what = "Debian's containerd, runc and CNI plugins" if kit.debian_runtime else "iptables"
        with status.step(f"Installing systemd, {what} and the node's tools"):
            _phase(provider, container, "prepare.sh")
        with status.step("Assembling component images from the binaries"):
            pause = build_pause(work)
            images = write_component_archives(
                plan,
                kit,
                out_dir / "images",
                etcd_layer=out_dir / "etcd-layer.tar",
                etcd_version=_read_text(out_dir / "etcd-version"),
                kube_proxy_layer=out_dir / "kube-proxy-layer.tar",
                pause_binary=pause,
            )
        provisioner = kit.image_binaries.get("local-path-provisioner")
        if provisioner is not None:
            storage.image_archive(out_dir / "images" / "local-path-provisioner.tar", provisioner)
        metrics = kit.image_binaries.get(metrics_server.NAME)
        if metrics is not None:
            metrics_server.image_archive(out_dir / "images" / "metrics-server.tar", metrics)
        _stage_metallb(kit, in_dir, out_dir)
        versions = {**kit.versions, **images.versions}
        if kit.debian_runtime:
            versions.update(_debian_runtime_versions(provider, container))
        (in_dir / "files" / "components").write_text(
            "".join(f"{name}={version}\n" for name, version in versions.items())
        )
        missing = [ref for ref in plan.wanted if ref not in images.written]
        pulled = (
            _pull_missing(provider, missing, out_dir / "images", status) if pull_missing else []
        )
        missing = [ref for ref in missing if ref not in pulled]
        with status.step("Preloading images into the node's containerd"):
            _phase(provider, container, "finish.sh")
        preloaded = _read_preloaded(provider, container)
        expected = [images.written.get(ref, ref) for ref in plan.wanted if ref not in missing]
        absent = [ref for ref in expected if ref not in preloaded]
        if absent:
            raise ImageBuildError(f"images not preloaded: {', '.join(absent)}")
        if crio is not None:
            with status.step(f"Making CRI-O {crio.version} the node's runtime"):
                _phase(provider, container, crio_variant.CRIO_SCRIPT)
            versions["cri-o"] = crio.version
            versions.update(crio_variant.debian_versions(provider, container))
        labels = {
            LABEL_K8S_VERSION: binaries.version,
            LABEL_RUNTIME: runtime,
            LABEL_COMPONENTS: components_label(versions),
            LABEL_IMAGE_TAGS: ",".join(
                f"{repo_name(ref)}={image_tag(actual)}"
                for ref, actual in images.written.items()
                if actual != ref
            ),
            LABEL_PRELOADED: ",".join(preloaded),
            LABEL_MISSING: ",".join(missing),
            LABEL_BUILD_KEY: key,
            LABEL_BUILDER: __version__,
        }
        changes = [
            'ENTRYPOINT ["/usr/local/bin/nestkube-entrypoint"]',
            "CMD []",
            "STOPSIGNAL SIGRTMIN+3",
            "ENV container=docker",
            *[f"LABEL {k}={_label_value(v)}" for k, v in labels.items()],
        ]
        previous = provider.image_id(target)
        with status.step(f"Committing {target}"):
            provider.commit(container, target, changes)
        if previous and previous != provider.image_id(target):
            # The tag moved; drop the old image unless a node still runs from it.
            provider.remove_unused_image(previous)
        for ref in missing:
            why = kit.unavailable.get(ref, "no offline source")
            status.warn(f"{ref} not preloaded ({why}; no registry answered or --offline)")
    finally:
        provider.remove_container(container)
        shutil.rmtree(work, ignore_errors=True)
    return _describe(provider, target, reused=False)


def _stage_metallb(kit: NodeKit, in_dir: Path, out_dir: Path) -> None:
    """MetalLB's images to preload, and its manifest for finish.sh to install."""
    upstream = kit.manifests.get(METALLB_MANIFEST)
    controller = kit.image_binaries.get(metallb.CONTROLLER)
    speaker = kit.image_binaries.get(metallb.SPEAKER)
    if upstream is None or controller is None or speaker is None:
        return
    metallb.image_archives(out_dir / "images", controller, speaker)
    manifest = in_dir / "files" / "manifests" / Path(metallb.NODE_MANIFEST).name
    manifest.parent.mkdir(mode=0o755)
    manifest.write_text(metallb.node_manifest(upstream.read_text()))
    manifest.chmod(0o644)


def _read_text(path: Path) -> str | None:
    return path.read_text().strip() if path.is_file() else None


def _debian_runtime_versions(provider: ImageProvider, container: str) -> dict[str, str]:
    """Versions of Debian's containerd, runc and CNI plugins in the build container."""
    out = provider.exec(
        container,
        ["dpkg-query", "-W", "-f", "${Package}=${Version}\\n", *DEBIAN_RUNTIME],
        what="dpkg-query runtime versions",
    ).stdout
    found = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return {name: found[pkg] for pkg, name in DEBIAN_RUNTIME.items() if pkg in found}


def _label_value(value: str) -> str:
    return json.dumps(value) if value else '""'


# Debian package -> component name in the components label.
DEBIAN_RUNTIME = {
    "containerd": "containerd",
    "runc": "runc",
    "containernetworking-plugins": "cni-plugins",
}


def _stage(work: Path, kit: NodeKit, plan: ComponentPlan) -> tuple[Path, Path]:
    binaries = kit.kubernetes
    in_dir = work / "in"
    out_dir = work / "out"
    (in_dir / "bin").mkdir(parents=True)
    (in_dir / "files").mkdir()
    (out_dir / "images").mkdir(parents=True)
    for command in ("kubeadm", "kubelet", "kubectl"):
        shutil.copy2(binaries.path(command), in_dir / "bin" / command)
    for script in (
        "prepare.sh",
        "finish.sh",
        "preload-images.sh",
        "entrypoint.sh",
        "nestkube-netd",
    ):
        shutil.copy2(NODE_FILES / script, in_dir / script)
    packages = (NODE_FILES / "packages").read_text()
    if kit.debian_runtime:
        packages += (NODE_FILES / "runtime-packages").read_text()
        # Only Debian's kit lacks an etcd module build; prepare.sh takes Debian's etcd then.
        (in_dir / "etcd-from-debian").touch()
    else:
        (in_dir / "runtime" / "bin").mkdir(parents=True)
        (in_dir / "runtime" / "cni").mkdir()
        for name, path in kit.runtime.items():
            sub = "cni" if name in CNI_PLUGINS else "bin"
            shutil.copy2(path, in_dir / "runtime" / sub / name)
    (in_dir / "packages").write_text(packages)
    for unit in (
        "kubelet.service",
        "10-kubeadm.conf",
        "crictl.yaml",
        "containerd.service",
        "nestkube-netd.service",
        "nestkube-netd.path",
    ):
        shutil.copy2(NODE_FILES / unit, in_dir / "files" / unit)
    sandbox = plan.find("pause") or "k8s.gcr.io/pause:3.2"
    (in_dir / "files" / "containerd.toml").write_text(
        render_containerd_config(
            restrict_oom_score_adj=False,
            cgroup_driver="cgroupfs",
            sandbox_image=sandbox,
        )
    )
    (in_dir / "files" / "version").write_text(binaries.version + "\n")
    # The container may run as another user (rootless engines map ids); let it read and write.
    for path in [work, in_dir, out_dir, *work.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o755 if path.is_dir() else path.stat().st_mode | 0o644)
    out_dir.chmod(0o777)
    (out_dir / "images").chmod(0o777)
    return in_dir, out_dir


def _phase(provider: ImageProvider, container: str, script: str) -> None:
    try:
        provider.exec(container, ["sh", f"/nestkube-in/{script}"], what=f"node image {script}")
    except CommandError as exc:
        tail = exc.output_tail(15)
        raise ImageBuildError(f"node image step {script} failed:\n{tail}") from exc


def _read_preloaded(provider: ImageProvider, container: str) -> list[str]:
    out = provider.exec(container, ["cat", "/etc/nestkube/preloaded-images"]).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def _pull_missing(
    provider: ImageProvider, refs: list[str], out_dir: Path, status: Status
) -> list[str]:
    """Try the engine's registry for images with no offline source (CoreDNS)."""
    pulled: list[str] = []
    for ref in refs:
        with status.step(f"Pulling {ref}"):
            try:
                # A registry that never answers times out here.
                provider.pull_image(ref, timeout=PULL_TIMEOUT)
            except CommandError as exc:
                status.detail(f"pull of {ref} failed: {exc}")
                continue
            with (out_dir / f"pulled-{len(pulled)}.tar").open("wb") as fh:
                provider.save_image([ref], fh)
            pulled.append(ref)
    return pulled


def _describe(provider: ImageProvider, image: str, *, reused: bool) -> NodeImage:
    labels = provider.image_labels(image)
    return NodeImage(
        image=image,
        kubernetes_version=labels.get(LABEL_K8S_VERSION, ""),
        preloaded=tuple(x for x in labels.get(LABEL_PRELOADED, "").split(",") if x),
        missing=tuple(x for x in labels.get(LABEL_MISSING, "").split(",") if x),
        size_bytes=provider.image_size(image),
        reused=reused,
    )
