"""Everything a node image of one Kubernetes release holds, gathered from its sources.

For a release built from Go modules: containerd 2, runc, the CNI plugins and crictl at the
versions pinned in :mod:`nestkube.kit.releases`, and etcd and CoreDNS at exactly the versions
``kubeadm config images list`` names. For older releases (Debian's v1.20.2) the node keeps
Debian's containerd 1.6, runc and CNI plugins, and etcd comes from Debian's etcd-server, tagged
with its own version (see :mod:`nestkube.images.components`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nestkube.errors import ImageBuildError
from nestkube.kit import releases
from nestkube.kit.gomod import GoBinaries, GoModuleBuild, build_module
from nestkube.kit.kubernetes import KubernetesBinaries
from nestkube.kit.toolchain import modules_toolchain
from nestkube.status import SILENT, Status


@dataclass(frozen=True)
class NodeKit:
    kubernetes: KubernetesBinaries
    # Binaries the node runs its containers with, by install name; empty: Debian's packages.
    runtime: dict[str, Path] = field(default_factory=dict)
    # Component image binaries built from modules: "etcd", "coredns".
    image_binaries: dict[str, Path] = field(default_factory=dict)
    # Component -> version, recorded in the node image's labels.
    versions: dict[str, str] = field(default_factory=dict)
    # Image references kubeadm asks for that have no source here, with the reason.
    unavailable: dict[str, str] = field(default_factory=dict)
    # Manifests that come with a component's module, by file name (MetalLB's).
    manifests: dict[str, Path] = field(default_factory=dict)

    @property
    def debian_runtime(self) -> bool:
        return not self.runtime


def repo_name(ref: str) -> str:
    """'registry.k8s.io/coredns/coredns:v1.14.6' -> 'coredns'."""
    return ref.rsplit("/", 1)[-1].split(":", 1)[0]


def image_tag(ref: str) -> str:
    """'registry.k8s.io/etcd:3.7.0-0' -> '3.7.0-0'."""
    return ref.rsplit(":", 1)[-1]


def gather(
    kubernetes: KubernetesBinaries,
    wanted_images: tuple[str, ...],
    status: Status = SILENT,
) -> NodeKit:
    """Build (or take from the cache) every component the node image of ``kubernetes`` needs.

    An etcd whose module cannot be had fails the build; a CoreDNS whose module cannot be had is
    reported as unavailable, and the image builder decides whether that is allowed.
    """
    versions = {"kubernetes": kubernetes.version}
    if not releases.from_modules(kubernetes.version):
        return NodeKit(kubernetes, versions=versions)
    toolchain = modules_toolchain()

    def build(spec: GoModuleBuild) -> GoBinaries:
        return build_module(spec, toolchain, status)

    runtime_pins = releases.runtime_for(kubernetes.version)
    runtime: dict[str, Path] = {}
    for spec in (
        releases.containerd_build(runtime_pins),
        releases.runc_build(runtime_pins),
        releases.cni_plugins_build(runtime_pins),
        releases.crictl_build(runtime_pins),
    ):
        built = build(spec)
        versions[spec.name] = spec.version
        runtime.update({command: built.path(command) for command in spec.commands})
    image_binaries: dict[str, Path] = {}
    unavailable: dict[str, str] = {}
    for ref in wanted_images:
        repo = repo_name(ref)
        if repo == "etcd":
            spec = releases.etcd_build(image_tag(ref))
        elif repo == "coredns":
            spec = releases.coredns_build(image_tag(ref))
        else:
            continue
        try:
            built = build(spec)
        except ImageBuildError as exc:
            if repo == "etcd":
                raise
            unavailable[ref] = str(exc)
            continue
        image_binaries[repo] = built.path(repo)
        versions[repo] = spec.version
    # The default StorageClass's provisioner, preloaded like kind's.
    provisioner = releases.local_path_provisioner_build()
    image_binaries[provisioner.name] = build(provisioner).path(provisioner.name)
    versions[provisioner.name] = provisioner.version
    # The metrics-server addon's, preloaded so that switching it on needs no build or pull.
    metrics = releases.metrics_server_build()
    image_binaries[metrics.name] = build(metrics).path(metrics.name)
    versions[metrics.name] = metrics.version
    # LoadBalancer Services' (on by default), with the manifest of the same release.
    metallb = releases.metallb_build()
    built = build(metallb)
    image_binaries.update({command: built.path(command) for command in metallb.commands})
    manifests = {name: built.path(name) for name in metallb.files}
    versions[metallb.name] = metallb.version
    return NodeKit(kubernetes, runtime, image_binaries, versions, unavailable, manifests)
