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

from nestkube import _exec
from nestkube._version import __version__
from nestkube.cache import cache_root, content_key, file_sha256
from nestkube.errors import CommandError, ImageBuildError
from nestkube.images.components import (
    ComponentPlan,
    build_pause,
    plan_components,
    write_component_archives,
)
from nestkube.kit import base_image as kit_base
from nestkube.kit.kubernetes import KubernetesBinaries
from nestkube.kubeadm.containerd import render_containerd_config
from nestkube.providers.base import Mount, Provider
from nestkube.providers.engine import CliProvider
from nestkube.status import SILENT, Status

NODE_FILES = Path(__file__).with_name("node")
RECIPE = "node-2"
LABEL_K8S_VERSION = "io.nestkube.kubernetes-version"
LABEL_RUNTIME = "io.nestkube.runtime"
LABEL_PRELOADED = "io.nestkube.preloaded-images"
LABEL_MISSING = "io.nestkube.missing-images"
LABEL_BUILD_KEY = "io.nestkube.build-key"
LABEL_BUILDER = "io.nestkube.builder-version"


def default_node_image(version: str) -> str:
    return f"localhost/nestkube/node:{version}"


@dataclass(frozen=True)
class NodeImage:
    image: str
    kubernetes_version: str
    preloaded: tuple[str, ...]
    missing: tuple[str, ...]
    size_bytes: int | None
    reused: bool


def ensure_kit_base(provider: Provider, status: Status = SILENT) -> str:
    """The kit's debootstrap base image in this engine, imported from the cache if absent."""
    name = kit_base.base_image_name()
    if provider.image_exists(name):
        return name
    tarball = kit_base.base_tarball(status)
    if not isinstance(provider, CliProvider):
        raise ImageBuildError("this provider cannot import a rootfs")
    with status.step(f"Importing the kit base image {name}"):
        provider.import_rootfs(tarball, name)
    return name


def _build_key(binaries: KubernetesBinaries, base_id: str, offline: bool) -> str:
    script_hashes = sorted((p.name, file_sha256(p)) for p in NODE_FILES.iterdir() if p.is_file())
    bin_hashes = sorted(
        (p.name, file_sha256(p)) for p in binaries.directory.iterdir() if p.is_file()
    )
    return content_key([RECIPE, base_id, binaries.version, offline, script_hashes, bin_hashes])


def build_node_image(
    provider: Provider,
    binaries: KubernetesBinaries,
    *,
    image: str | None = None,
    base_image: str | None = None,
    pull_missing: bool = True,
    force: bool = False,
    status: Status = SILENT,
) -> NodeImage:
    """Build a node image for ``binaries``; reuse an existing one built from the same inputs."""
    target = image or default_node_image(binaries.version)
    base = base_image or ensure_kit_base(provider, status)
    base_id = provider.image_id(base)
    if base_id is None:
        raise ImageBuildError(f"base image {base} not found in {provider.info.name}")
    key = _build_key(binaries, base_id, not pull_missing)
    if not force and provider.image_exists(target):
        labels = provider.image_labels(target)
        if labels.get(LABEL_BUILD_KEY) == key:
            status.info(f"Node image {target} is up to date")
            return _describe(provider, target, reused=True)

    plan = plan_components(binaries)
    work = Path(tempfile.mkdtemp(prefix="nestkube-build-"))
    container = f"nestkube-build-{secrets.token_hex(4)}"
    try:
        in_dir, out_dir = _stage(work, binaries, plan)
        mounts = [
            Mount(str(in_dir), "/nestkube-in", read_only=True),
            Mount(str(out_dir), "/nestkube-out"),
        ]
        with status.step(f"Starting a build container from {base}"):
            provider.run_build_container(base, container, mounts)
        with status.step("Installing systemd, containerd, runc, iptables and CNI plugins"):
            _phase(provider, container, "prepare.sh")
        with status.step("Assembling component images from the binaries"):
            pause = build_pause(work)
            written = write_component_archives(
                plan,
                binaries,
                out_dir / "images",
                etcd_layer=out_dir / "etcd-layer.tar",
                kube_proxy_layer=out_dir / "kube-proxy-layer.tar",
                pause_binary=pause,
            )
        missing = [ref for ref in plan.wanted if ref not in written]
        pulled = (
            _pull_missing(provider, missing, out_dir / "images", status) if pull_missing else []
        )
        missing = [ref for ref in missing if ref not in pulled]
        with status.step("Preloading images into the node's containerd"):
            _phase(provider, container, "finish.sh")
        preloaded = _read_preloaded(provider, container)
        absent = [ref for ref in plan.wanted if ref not in preloaded and ref not in missing]
        if absent:
            raise ImageBuildError(f"images not preloaded: {', '.join(absent)}")
        labels = {
            LABEL_K8S_VERSION: binaries.version,
            LABEL_RUNTIME: "containerd",
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
        if previous and previous != provider.image_id(target) and isinstance(provider, CliProvider):
            # The tag moved; drop the old image unless a node still runs from it.
            provider.remove_unused_image(previous)
        for ref in missing:
            status.warn(f"{ref} has no offline source and no registry answered: not preloaded")
    finally:
        provider.remove_container(container)
        shutil.rmtree(work, ignore_errors=True)
    return _describe(provider, target, reused=False)


def _label_value(value: str) -> str:
    return json.dumps(value) if value else '""'


def _stage(work: Path, binaries: KubernetesBinaries, plan: ComponentPlan) -> tuple[Path, Path]:
    in_dir = work / "in"
    out_dir = work / "out"
    (in_dir / "bin").mkdir(parents=True)
    (in_dir / "files").mkdir()
    (out_dir / "images").mkdir(parents=True)
    for command in ("kubeadm", "kubelet", "kubectl"):
        shutil.copy2(binaries.path(command), in_dir / "bin" / command)
    for script in ("prepare.sh", "finish.sh", "entrypoint.sh"):
        shutil.copy2(NODE_FILES / script, in_dir / script)
    shutil.copy2(NODE_FILES / "packages", in_dir / "packages")
    for unit in ("kubelet.service", "10-kubeadm.conf", "crictl.yaml"):
        shutil.copy2(NODE_FILES / unit, in_dir / "files" / unit)
    sandbox = plan.find("pause") or "k8s.gcr.io/pause:3.2"
    (in_dir / "files" / "containerd.toml").write_text(
        render_containerd_config(
            restrict_oom_score_adj=False, cgroup_driver="cgroupfs", sandbox_image=sandbox
        )
    )
    (in_dir / "files" / "version").write_text(binaries.version + "\n")
    # The container may run as another user (rootless engines map ids); let it read and write.
    for path in [work, in_dir, out_dir, *work.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o755 if path.is_dir() else path.stat().st_mode | 0o644)
    out_dir.chmod(0o777)
    (out_dir / "images").chmod(0o777)
    return in_dir, out_dir


def _phase(provider: Provider, container: str, script: str) -> None:
    try:
        provider.exec(container, ["sh", f"/nestkube-in/{script}"], what=f"node image {script}")
    except CommandError as exc:
        tail = exc.output_tail(15)
        raise ImageBuildError(f"node image step {script} failed:\n{tail}") from exc


def _read_preloaded(provider: Provider, container: str) -> list[str]:
    out = provider.exec(container, ["cat", "/etc/nestkube/preloaded-images"]).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def _pull_missing(provider: Provider, refs: list[str], out_dir: Path, status: Status) -> list[str]:
    """Try the engine's registry for images with no offline source (CoreDNS)."""
    pulled: list[str] = []
    if not isinstance(provider, CliProvider):
        return pulled
    for ref in refs:
        with status.step(f"Pulling {ref}"):
            try:
                res = _exec.run([provider.info.binary, "pull", ref], check=False, timeout=60)
            except CommandError as exc:  # a registry that never answers times out here
                status.detail(f"pull of {ref} failed: {exc}")
                continue
            if not res.ok:
                status.detail(f"pull of {ref} failed: {res.stderr.strip()[-200:]}")
                continue
            with (out_dir / f"pulled-{len(pulled)}.tar").open("wb") as fh:
                provider.save_image([ref], fh)
            pulled.append(ref)
    return pulled


def _describe(provider: Provider, image: str, *, reused: bool) -> NodeImage:
    labels = provider.image_labels(image)
    size = None
    if isinstance(provider, CliProvider):
        res = provider._run("image", "inspect", "--format", "{{.Size}}", image, check=False)
        if res.ok and res.stdout.strip().isdigit():
            size = int(res.stdout.strip())
    return NodeImage(
        image=image,
        kubernetes_version=labels.get(LABEL_K8S_VERSION, ""),
        preloaded=tuple(x for x in labels.get(LABEL_PRELOADED, "").split(",") if x),
        missing=tuple(x for x in labels.get(LABEL_MISSING, "").split(",") if x),
        size_bytes=size,
        reused=reused,
    )


def node_image_cache_dir() -> Path:
    return cache_root() / "images"
