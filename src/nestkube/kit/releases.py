"""Which release of every node component belongs to which Kubernetes release — pinned here only.

Kubernetes names etcd, CoreDNS and pause itself (``kubeadm config images list``); those follow
kubeadm. The node runtime follows containerd's own support matrix (its RELEASES.md lists the
containerd releases recommended for each Kubernetes minor): runc and the CNI plugins are the
versions that containerd release pins (its ``script/setup/runc-version`` and go.mod), and crictl
is cri-tools of the Kubernetes minor, or the newest earlier one the module proxy serves (its
version list is incomplete: pins here were fetched, not read from the list).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nestkube.defaults import DEFAULT_KUBERNETES_VERSION as DEFAULT_KUBERNETES_VERSION
from nestkube.errors import ImageBuildError
from nestkube.kit.gomod import GoModuleBuild
from nestkube.kubeadm.version import as_version

# DEFAULT_KUBERNETES_VERSION is set in nestkube.defaults, which the CLI can import cheaply.
# The releases nestkube builds from Go modules; older ones come from Debian's source package.
FIRST_MODULE_MINOR = 34


@dataclass(frozen=True)
class NodeRuntime:
    containerd: str
    runc: str
    cni_plugins: str
    crictl: str


RUNTIMES: dict[int, NodeRuntime] = {
    34: NodeRuntime(containerd="v2.1.9", runc="v1.3.6", cni_plugins="v1.9.0", crictl="v1.34.0"),
    35: NodeRuntime(containerd="v2.2.9", runc="v1.3.6", cni_plugins="v1.9.0", crictl="v1.34.0"),
    36: NodeRuntime(containerd="v2.3.7", runc="v1.5.2", cni_plugins="v1.9.1", crictl="v1.36.0"),
    37: NodeRuntime(containerd="v2.4.2", runc="v1.5.2", cni_plugins="v1.9.1", crictl="v1.37.0"),
}

KUBE_COMMANDS = (
    "kubeadm",
    "kubelet",
    "kubectl",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
)
CNI_PLUGINS = {
    "bridge": "plugins/main/bridge",
    "host-local": "plugins/ipam/host-local",
    "loopback": "plugins/main/loopback",
    "portmap": "plugins/meta/portmap",
}


def from_modules(version: str) -> bool:
    """Whether ``version`` is built from Go modules (else: Debian's source package)."""
    return as_version(version).at_least(1, FIRST_MODULE_MINOR)


def runtime_for(version: str) -> NodeRuntime:
    v = as_version(version)
    runtime = RUNTIMES.get(v.minor) if v.major == 1 else None
    if runtime is None:
        known = ", ".join(f"v1.{m}" for m in sorted(RUNTIMES))
        raise ImageBuildError(
            f"no node runtime is pinned for Kubernetes {version} (nestkube knows {known})"
        )
    return runtime


def kubernetes_build(version: str) -> GoModuleBuild:
    v = as_version(version)
    if not from_modules(version):
        raise ImageBuildError(
            f"Kubernetes {version} predates v1.{FIRST_MODULE_MINOR}; "
            "nestkube builds it from Debian's source package only as v1.20.2"
        )
    variables = {}
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        variables[f"{pkg}.gitVersion"] = str(v)
        variables[f"{pkg}.gitMajor"] = str(v.major)
        variables[f"{pkg}.gitMinor"] = str(v.minor)
        variables[f"{pkg}.gitTreeState"] = "clean"
        variables[f"{pkg}.buildDate"] = "1970-01-01T00:00:00Z"
    return GoModuleBuild(
        name="kubernetes",
        module="k8s.io/kubernetes",
        version=str(v),
        commands={c: f"k8s.io/kubernetes/cmd/{c}" for c in KUBE_COMMANDS},
        variables=variables,
        # The staging repositories are published as v0.MINOR.PATCH for v1.MINOR.PATCH.
        local_replaces_at=f"v0.{v.minor}.{v.patch}",
    )


def etcd_build(image_tag: str) -> GoModuleBuild:
    """etcd for kubeadm's image tag, e.g. '3.7.0-0' -> go.etcd.io/etcd/server/v3@v3.7.0."""
    version = "v" + image_tag.split("-", 1)[0]
    return GoModuleBuild(
        name="etcd",
        module="go.etcd.io/etcd/server/v3",
        version=version,
        commands={"etcd": "go.etcd.io/etcd/server/v3"},
    )


def coredns_build(image_tag: str) -> GoModuleBuild:
    version = image_tag if image_tag.startswith("v") else "v" + image_tag
    return GoModuleBuild(
        name="coredns",
        module="github.com/coredns/coredns",
        version=version,
        commands={"coredns": "github.com/coredns/coredns"},
    )


def containerd_build(runtime: NodeRuntime) -> GoModuleBuild:
    module = "github.com/containerd/containerd/v2"
    return GoModuleBuild(
        name="containerd",
        module=module,
        version=runtime.containerd,
        commands={
            "containerd": f"{module}/cmd/containerd",
            "containerd-shim-runc-v2": f"{module}/cmd/containerd-shim-runc-v2",
            "ctr": f"{module}/cmd/ctr",
        },
        variables={
            f"{module}/version.Version": runtime.containerd,
            f"{module}/version.Package": module,
        },
        # btrfs needs cgo headers; node containers use overlayfs or native.
        tags=("no_btrfs",),
    )


def runc_build(runtime: NodeRuntime) -> GoModuleBuild:
    return GoModuleBuild(
        name="runc",
        module="github.com/opencontainers/runc",
        version=runtime.runc,
        commands={"runc": "github.com/opencontainers/runc"},
        # runc's nsenter is C, and seccomp comes from libseccomp (libseccomp-dev, linked in).
        tags=("seccomp", "netgo", "osusergo"),
        cgo=True,
    )


def cni_plugins_build(
    runtime: NodeRuntime, plugins: Mapping[str, str] = CNI_PLUGINS
) -> GoModuleBuild:
    module = "github.com/containernetworking/plugins"
    return GoModuleBuild(
        name="cni-plugins",
        module=module,
        version=runtime.cni_plugins,
        commands={name: f"{module}/{path}" for name, path in plugins.items()},
        variables={f"{module}/pkg/utils/buildversion.BuildVersion": runtime.cni_plugins},
    )


def crictl_build(runtime: NodeRuntime) -> GoModuleBuild:
    module = "sigs.k8s.io/cri-tools"
    return GoModuleBuild(
        name="crictl",
        module=module,
        version=runtime.crictl,
        commands={"crictl": f"{module}/cmd/crictl"},
        variables={f"{module}/pkg/version.Version": runtime.crictl},
    )


# The default StorageClass's provisioner, preloaded in every module-built node image.
LOCAL_PATH_PROVISIONER = "v0.0.30"


def local_path_provisioner_build() -> GoModuleBuild:
    module = "github.com/rancher/local-path-provisioner"
    return GoModuleBuild(
        name="local-path-provisioner",
        module=module,
        version=LOCAL_PATH_PROVISIONER,
        commands={"local-path-provisioner": module},
    )


# The metrics-server addon's server, preloaded in every module-built node image. v0.8.1: the
# newest whose go.mod this kit's Go 1.26.8 builds (v0.9.1 asks for Go 1.26.10).
METRICS_SERVER = "v0.8.1"


def metrics_server_build() -> GoModuleBuild:
    module = "sigs.k8s.io/metrics-server"
    return GoModuleBuild(
        name="metrics-server",
        module=module,
        version=METRICS_SERVER,
        commands={"metrics-server": f"{module}/cmd/metrics-server"},
        # What `metrics-server --version` prints (its Makefile sets client-go's version).
        variables={"k8s.io/client-go/pkg/version.gitVersion": METRICS_SERVER},
    )


# LoadBalancer Services' controller and speaker (nestkube.metallb), preloaded in every
# module-built node image with MetalLB's own manifest. v0.15.3: v0.16.x needs
# github.com/metallb/frr-k8s v0.0.25 or later, which the module proxy does not serve.
METALLB = "v0.15.3"
METALLB_MANIFEST = "metallb-native.yaml"


def metallb_build() -> GoModuleBuild:
    module = "go.universe.tf/metallb"
    return GoModuleBuild(
        name="metallb",
        module=module,
        version=METALLB,
        commands={
            "metallb-controller": f"{module}/controller",
            "metallb-speaker": f"{module}/speaker",
        },
        files={METALLB_MANIFEST: f"config/manifests/{METALLB_MANIFEST}"},
    )


# --- a host engine for the nerdctl provider (tests/e2e and scripts/install-nerdctl.sh) -----
# nerdctl is not packaged for Debian; it runs on the containerd, runc and CNI plugins of the
# default Kubernetes release's node runtime, so those builds are shared with the node image.
# v2.0.4 is the newest release that builds from the module proxy: from v2.1 the nerdctl
# command links pkg/testutil, which imports the mod/tigron sub-module that is published
# nowhere (its go.mod replaces it with a local path); v2.0.5 is not served.
NERDCTL = "v2.0.4"
# nerdctl's bridge networks chain firewall and tuning after bridge and portmap.
HOST_CNI_PLUGINS = {
    **CNI_PLUGINS,
    "firewall": "plugins/meta/firewall",
    "tuning": "plugins/meta/tuning",
}


def nerdctl_build() -> GoModuleBuild:
    module = "github.com/containerd/nerdctl/v2"
    return GoModuleBuild(
        name="nerdctl",
        module=module,
        version=NERDCTL,
        commands={"nerdctl": f"{module}/cmd/nerdctl"},
        variables={f"{module}/pkg/version.Version": NERDCTL},
    )


# --- CRI-O, the other node runtime ---------------------------------------------------------
# CRI-O's minor must equal Kubernetes' minor. Pinned here: the releases the module proxy serves
# that build (v1.35.x, v1.36.x and v1.37.x are mostly refused; v1.34.0 is served). A CRI-O
# node image is built only for a Kubernetes minor listed here.
CRIO: dict[int, str] = {34: "v1.34.0"}
# What CRI-O nodes run when their image is not named: the newest release with a CRI-O pin.
CRIO_KUBERNETES = "v1.34.4"


def crio_version_for(version: str) -> str | None:
    v = as_version(version)
    return CRIO.get(v.minor) if v.major == 1 else None


def crio_build(crio_version: str) -> GoModuleBuild:
    module = "github.com/cri-o/cri-o"
    return GoModuleBuild(
        name="cri-o",
        module=module,
        version=crio_version,
        commands={"crio": f"{module}/cmd/crio"},
        # The pure-Go OpenPGP instead of gpgme, no btrfs or devicemapper graph drivers (their
        # cgo headers); seccomp from libseccomp-dev, linked in statically like runc's.
        tags=(
            "containers_image_ostree_stub",
            "containers_image_openpgp",
            "seccomp",
            "exclude_graphdriver_btrfs",
            "exclude_graphdriver_devicemapper",
            "btrfs_noversion",
            "netgo",
            "osusergo",
        ),
        cgo=True,
        sums_from_module=True,
    )
