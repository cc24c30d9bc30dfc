"""The e2e suite of a release, built from the same ``k8s.io/kubernetes`` module as the kit.

``e2e.test`` is the test binary of ``k8s.io/kubernetes/test/e2e``, linked with the kit's version
variables so it reports the cluster's release. ``ginkgo`` is the runner at exactly the version
that release requires (built inside the same module graph): only the ginkgo CLI can run specs in
parallel processes, because Kubernetes' suite synchronises its set-up across them through the
CLI's parallel server; e2e.test alone runs one process.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nestkube import _exec
from nestkube.errors import CommandError, ImageBuildError
from nestkube.kit.gomod import GoModuleBuild, build_module
from nestkube.kit.releases import kubernetes_build
from nestkube.kit.toolchain import GoToolchain
from nestkube.kubeadm.version import as_version
from nestkube.status import SILENT, Status

E2E_PACKAGE = "k8s.io/kubernetes/test/e2e"
GINKGO_PACKAGE = "github.com/onsi/ginkgo/v2/ginkgo"
AGNHOST_PACKAGE = "k8s.io/kubernetes/test/images/agnhost"
NONEWPRIVS_PACKAGE = "k8s.io/kubernetes/test/images/nonewprivs"
SAMPLE_APISERVER = "k8s.io/sample-apiserver"


def e2e_build(version: str) -> GoModuleBuild:
    return dataclasses.replace(
        kubernetes_build(version),
        name="e2e-test",
        commands={"e2e.test": E2E_PACKAGE},
        test_binaries=True,
    )


def ginkgo_build(version: str) -> GoModuleBuild:
    # A main package of a dependency, resolved at the version the release's go.mod requires.
    return dataclasses.replace(
        kubernetes_build(version), name="ginkgo", commands={"ginkgo": GINKGO_PACKAGE}, variables={}
    )


def agnhost_build(version: str) -> GoModuleBuild:
    # Static (no cgo), as the image has no libc of its own for it.
    return dataclasses.replace(
        kubernetes_build(version),
        name="agnhost",
        commands={"agnhost": AGNHOST_PACKAGE},
        variables={},
    )


def nonewprivs_build(version: str) -> GoModuleBuild:
    # Upstream's image installs it setuid as /usr/local/bin/nnp.
    return dataclasses.replace(
        kubernetes_build(version),
        name="nonewprivs",
        commands={"nnp": NONEWPRIVS_PACKAGE},
        variables={},
    )


def sample_apiserver_build(version: str) -> GoModuleBuild:
    """The aggregator spec's API server: upstream builds its image from the
    ``k8s.io/sample-apiserver`` repository at some release's tag (1.29's for the image v1.37
    asks for); here the module the release itself publishes (v0.37.2 for v1.37.2), static."""
    v = as_version(version)
    return GoModuleBuild(
        name="sample-apiserver",
        module=SAMPLE_APISERVER,
        version=f"v0.{v.minor}.{v.patch}",
        commands={"sample-apiserver": SAMPLE_APISERVER},
    )


@dataclass(frozen=True)
class Suite:
    version: str
    e2e_test: Path
    ginkgo: Path


def build_suite(version: str, toolchain: GoToolchain, status: Status = SILENT) -> Suite:
    e2e = build_module(e2e_build(version), toolchain, status)
    ginkgo = build_module(ginkgo_build(version), toolchain, status)
    return Suite(version, e2e.path("e2e.test"), ginkgo.path("ginkgo"))


def module_source(version: str, toolchain: GoToolchain) -> Path:
    """The read-only source tree of k8s.io/kubernetes@version in Go's module cache."""
    build = kubernetes_build(version)
    with tempfile.TemporaryDirectory(prefix="nestkube-mod-") as tmp:
        try:
            out = _exec.run(
                [str(toolchain.go), "mod", "download", "-json", f"{build.module}@{build.version}"],
                cwd=tmp,
                env={**toolchain.env(), "GOFLAGS": "-mod=mod"},
                timeout=20 * 60,
                what=f"go mod download {build.module}@{build.version}",
            ).stdout
        except CommandError as exc:
            raise ImageBuildError(f"cannot fetch {build.module}@{build.version}: {exc}") from exc
    info = json.loads(out)
    if info.get("Error") or not info.get("Dir"):
        raise ImageBuildError(f"cannot fetch {build.module}@{build.version}: {info.get('Error')}")
    return Path(info["Dir"])
