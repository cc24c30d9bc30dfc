"""Where a node image's Kubernetes comes from: a directory, a release, a source tree or the kit."""

from __future__ import annotations

from pathlib import Path

from nestkube.errors import ImageBuildError
from nestkube.images.release import DEFAULT_RELEASE_URL, download_release
from nestkube.kit.kubernetes import (
    KubernetesBinaries,
    binaries_from_dir,
    build_from_debian_source,
    build_from_source_tree,
)
from nestkube.status import SILENT, Status


def resolve_binaries(
    *,
    binaries_dir: Path | None = None,
    version: str | None = None,
    release_url: str | None = None,
    source_dir: Path | None = None,
    status: Status = SILENT,
) -> KubernetesBinaries:
    """Exactly one source may be named; with none, the offline kit builds Debian's Kubernetes."""
    chosen = [x for x in (binaries_dir, version, source_dir) if x is not None]
    if len(chosen) > 1:
        raise ImageBuildError(
            "choose one of --kubernetes-binaries, --kubernetes-version, --kubernetes-source"
        )
    if release_url is not None and version is None:
        raise ImageBuildError("--release-url needs --kubernetes-version")
    if binaries_dir is not None:
        return binaries_from_dir(binaries_dir)
    if source_dir is not None:
        if not source_dir.is_dir():
            raise ImageBuildError(f"--kubernetes-source: {source_dir} is not a directory")
        return build_from_source_tree(source_dir, status)
    if version is not None:
        return download_release(version, release_url or DEFAULT_RELEASE_URL, status=status)
    return build_from_debian_source(status)
