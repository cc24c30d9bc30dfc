"""Where a node image's Kubernetes comes from: a directory, a release, a source tree or the kit."""

from __future__ import annotations

from pathlib import Path

from nestkube.errors import ImageBuildError
from nestkube.images.release import download_release, validate_version
from nestkube.kit.kubernetes import (
    KubernetesBinaries,
    binaries_from_dir,
    build_from_debian_source,
    build_from_modules,
    build_from_source_tree,
)
from nestkube.kit.releases import DEFAULT_KUBERNETES_VERSION
from nestkube.status import SILENT, Status


def resolve_binaries(
    *,
    binaries_dir: Path | None = None,
    version: str | None = None,
    release_url: str | None = None,
    source_dir: Path | None = None,
    debian_source: bool = False,
    status: Status = SILENT,
) -> KubernetesBinaries:
    """Exactly one source may be named; with none, the default release from Go modules.

    ``version`` alone builds that release from the k8s.io/kubernetes module; with
    ``release_url`` it is downloaded from a release mirror instead.
    """
    chosen = [binaries_dir is not None, source_dir is not None, version is not None, debian_source]
    if sum(chosen) > 1:
        raise ImageBuildError(
            "choose one of --kubernetes-binaries, --kubernetes-version, --kubernetes-source, "
            "--debian-source"
        )
    if release_url is not None and version is None:
        raise ImageBuildError("--release-url needs --kubernetes-version")
    if binaries_dir is not None:
        return binaries_from_dir(binaries_dir)
    if source_dir is not None:
        if not source_dir.is_dir():
            raise ImageBuildError(f"--kubernetes-source: {source_dir} is not a directory")
        return build_from_source_tree(source_dir, status)
    if debian_source:
        return build_from_debian_source(status)
    if version is not None and release_url is not None:
        return download_release(version, release_url, status=status)
    return build_from_modules(validate_version(version or DEFAULT_KUBERNETES_VERSION), status)
