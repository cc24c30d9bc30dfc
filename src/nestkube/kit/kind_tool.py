"""The real kind, built from its Go module, and what this host needs for it to run.

The side-by-side benchmark and one end-to-end test run kind on kind-format node images. kind is
built like every kit component (``go build`` of ``sigs.k8s.io/kind`` at its release, cached by
content under ``$XDG_CACHE_HOME/nestkube/kit/go/kind/``).

kind has no flags for what restricted hosts need, so :func:`kind_setup` derives the workarounds
from the same probed ``ProviderInfo`` nestkube's own nodes use: a private containers.conf (Podman
reads it through ``CONTAINERS_CONF``) with the OCI runtime and the rlimits nestkube passes as
flags, a kubelet patch on cgroup v1 hosts, and ``/lib/modules``, which kind mounts unconditionally.

kind's workers join the control plane by its container name, so the engine's network must
resolve names. Podman's CNI backend does that only with the dnsname plugin, which this host
lacks; kind then runs on a private netavark + aardvark-dns backend instead: Debian's packages
unpacked into the cache (never installed), named by ``helper_binaries_dir`` and with their own
``network_config_dir`` in the same private containers.conf, so the host's Podman and nestkube's
own networks keep the CNI backend.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nestkube.kit.debs import debian_package_files
from nestkube.kit.gomod import GoModuleBuild, build_module
from nestkube.kit.toolchain import modules_toolchain
from nestkube.providers.base import ProviderInfo, rlimit_args
from nestkube.status import SILENT, Status

KIND_VERSION = "v0.33.0"
# kind v0.33.0's load balancer for clusters with several control planes (its
# pkg/cluster/internal/loadbalancer): Envoy, a C++ program with no Go module or Debian
# package to build it from here.
KIND_LOAD_BALANCER_IMAGE = "docker.io/envoyproxy/envoy:v1.36.2"


def kind_build(version: str = KIND_VERSION) -> GoModuleBuild:
    return GoModuleBuild(
        name="kind",
        module="sigs.k8s.io/kind",
        version=version,
        commands={"kind": "sigs.k8s.io/kind"},
    )


def ensure_kind(status: Status = SILENT, version: str = KIND_VERSION) -> Path:
    """Path of the kind binary, built now or taken from the cache."""
    return build_module(kind_build(version), modules_toolchain(), status).path("kind")


@dataclass(frozen=True)
class KindSetup:
    """How to run kind here: its environment, a cluster config, and why each part is there."""

    env: dict[str, str]
    kubeadm_patches: tuple[str, ...] = ()
    workarounds: tuple[str, ...] = field(default_factory=tuple)

    def config(self, *, control_planes: int = 1, workers: int = 0) -> str:
        """A kind v1alpha4 cluster config with these nodes and this host's patches."""
        lines = ["kind: Cluster", "apiVersion: kind.x-k8s.io/v1alpha4", "nodes:"]
        lines += ["- role: control-plane"] * control_planes + ["- role: worker"] * workers
        if self.kubeadm_patches:
            lines.append("kubeadmConfigPatches:")
            for patch in self.kubeadm_patches:
                lines.append("- |")
                lines += [f"  {line}" for line in patch.splitlines()]
        return "\n".join(lines) + "\n"


# kubelet v1.35 and later refuse cgroup v1 unless told otherwise.
CGROUP_V1_KUBELET_PATCH = "kind: KubeletConfiguration\nfailCgroupV1: false"


NETAVARK_PACKAGES = ("netavark", "aardvark-dns")
# Podman's own default list; the unpacked netavark directory goes first.
PODMAN_HELPER_DIRS = (
    "/usr/local/libexec/podman",
    "/usr/local/lib/podman",
    "/usr/libexec/podman",
    "/usr/lib/podman",
)


def netavark_helpers() -> Path:
    """The directory holding netavark and aardvark-dns, unpacked from Debian's packages."""
    return debian_package_files(NETAVARK_PACKAGES) / "root" / "usr" / "lib" / "podman"


def kind_setup(
    info: ProviderInfo,
    work: Path,
    *,
    cgroup_v2: bool | None = None,
    netavark: Callable[[], Path] = netavark_helpers,
) -> KindSetup:
    """kind's environment for rootful Podman on this host; files go under ``work``.
    ``netavark`` is asked for the helper directory only when Podman runs the CNI backend."""
    env: dict[str, str] = {"KIND_EXPERIMENTAL_PROVIDER": str(info.name)}
    workarounds: list[str] = []
    ulimits = rlimit_args(info)
    conf = ["[containers]"]
    limits = [ulimits[i + 1] for i in range(0, len(ulimits), 2) if ulimits[i] == "--ulimit"]
    conf.append("default_ulimits = [" + ", ".join(f'"{u}"' for u in limits) + "]")
    workarounds.append(
        f"containers.conf default_ulimits {', '.join(limits)} (the engine's defaults exceed "
        "this host's hard rlimits)"
    )
    engine = []
    if info.runtime:
        engine.append(f'runtime = "{info.runtime}"')
        workarounds.append(f"containers.conf runtime = {info.runtime} (the default one refuses)")
    work.mkdir(parents=True, exist_ok=True)
    if info.name == "podman" and info.facts.network_backend == "cni":
        helpers = netavark()
        networks = work / "networks"
        networks.mkdir(exist_ok=True)
        conf += ["[network]", 'network_backend = "netavark"', f'network_config_dir = "{networks}"']
        dirs = ", ".join(f'"{d}"' for d in (str(helpers), *PODMAN_HELPER_DIRS))
        engine.append(f"helper_binaries_dir = [{dirs}]")
        workarounds.append(
            "containers.conf network_backend = netavark with Debian's netavark and aardvark-dns "
            "unpacked into the cache (Podman's CNI networks resolve no container names here, "
            "and kind's workers join the control plane by name)"
        )
    if engine:
        conf += ["[engine]", *engine]
    path = work / "containers.conf"
    path.write_text("\n".join(conf) + "\n")
    env["CONTAINERS_CONF"] = str(path)
    patches: list[str] = []
    if cgroup_v2 is None:
        cgroup_v2 = Path("/sys/fs/cgroup/cgroup.controllers").is_file()
    if not cgroup_v2:
        patches.append(CGROUP_V1_KUBELET_PATCH)
        workarounds.append("kubeadmConfigPatches: KubeletConfiguration failCgroupV1: false")
    if not Path("/lib/modules").is_dir():
        workarounds.append("mkdir /lib/modules (kind mounts it read-only on every node)")
    return KindSetup(env, tuple(patches), tuple(workarounds))


def prepare_host() -> None:
    """The one host change kind needs that no configuration can make: /lib/modules must exist."""
    if not Path("/lib/modules").is_dir() and os.geteuid() == 0:
        Path("/lib/modules").mkdir(parents=True, exist_ok=True)
