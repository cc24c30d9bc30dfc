"""Images for runners, built locally on the kit's Debian base: ARC's controller, and a job image
with Debian's docker.io for Docker-in-Kubernetes.

Both are tagged by what they hold and carry a build-key label over their inputs (the base
image, the binaries' or packages' recipe), so an image built from the same inputs is reused
and a changed input rebuilds it.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from nestkube._version import __version__
from nestkube.cache import content_key, file_sha256
from nestkube.errors import CommandError, ImageBuildError
from nestkube.images.node_image import LABEL_BUILD_KEY, LABEL_BUILDER, ensure_kit_base
from nestkube.providers.base import Mount, Provider
from nestkube.runners import kit
from nestkube.status import SILENT, Status

RECIPE = "runners-images-1"
LABEL_ARC_VERSION = "io.nestkube.arc-version"
LABEL_DOCKER_VERSION = "io.nestkube.docker-version"
CONTROLLER_REPO = "localhost/nestkube/arc-controller"
DOCKER_REPO = "localhost/nestkube/runner-docker"
# ARC's own image runs as this user (distroless "nonroot").
CONTROLLER_USER = "65532:65532"
# dockerd and what it calls (iptables for its bridge network), ps/kill for a job's scripts, and a
# static busybox: a FROM-scratch base for builds here, where no registry can be reached.
DOCKER_PACKAGES = ("docker.io", "iptables", "procps", "ca-certificates", "busybox-static")


def controller_image_name() -> str:
    return f"{CONTROLLER_REPO}:{kit.ARC_CHART_VERSION}"


def docker_image_name() -> str:
    return f"{DOCKER_REPO}:bookworm"


def build_controller_image(provider: Provider, status: Status = SILENT) -> str:
    """ARC's controller and listener binaries (from ARC's module) on the Debian base."""
    binaries = kit.arc_binaries(status)
    base = ensure_kit_base(provider, status)
    hashes = sorted((c, file_sha256(binaries.path(c))) for c in kit.ARC_BUILD.commands)
    key = content_key([RECIPE, "controller", provider.image_id(base), hashes])
    target = controller_image_name()
    if _up_to_date(provider, target, key):
        status.info(f"{target} is up to date")
        return target
    copy = " && ".join(
        f"install -m 0755 /nestkube-in/{c} /{c}" for c in sorted(kit.ARC_BUILD.commands)
    )
    _build(
        provider,
        base,
        target,
        [Mount(str(binaries.directory), "/nestkube-in", read_only=True)],
        copy,
        [
            'ENTRYPOINT ["/manager"]',
            "CMD []",
            f"USER {CONTROLLER_USER}",
            "WORKDIR /",
            f"LABEL {LABEL_ARC_VERSION}={kit.ARC_VERSION}",
            f"LABEL {LABEL_BUILD_KEY}={key}",
            f"LABEL {LABEL_BUILDER}={__version__}",
        ],
        status,
    )
    return target


def build_docker_image(provider: Provider, status: Status = SILENT) -> str:
    """Debian's docker.io on the Debian base: a job image that runs its own dockerd."""
    base = ensure_kit_base(provider, status)
    key = content_key([RECIPE, "docker", provider.image_id(base), DOCKER_PACKAGES])
    target = docker_image_name()
    if _up_to_date(provider, target, key):
        status.info(f"{target} is up to date")
        return target
    install = (
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
        f"--no-install-recommends {' '.join(DOCKER_PACKAGES)} >/dev/null && "
        "rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb && "
        "dpkg-query -W -f '${Version}' docker.io > /docker-version"
    )
    container = _build(provider, base, target, [], install, [], status, keep=True)
    try:
        version = provider.exec(container, ["cat", "/docker-version"], timeout=30).stdout.strip()
        changes = [
            'CMD ["/bin/bash"]',
            f"LABEL {LABEL_DOCKER_VERSION}={version}",
            f"LABEL {LABEL_BUILD_KEY}={key}",
            f"LABEL {LABEL_BUILDER}={__version__}",
        ]
        with status.step(f"Committing {target} (docker.io {version})"):
            provider.commit(container, target, changes)
    finally:
        provider.remove_container(container)
    return target


def _up_to_date(provider: Provider, target: str, key: str) -> bool:
    return (
        provider.image_exists(target) and provider.image_labels(target).get(LABEL_BUILD_KEY) == key
    )


def _build(
    provider: Provider,
    base: str,
    target: str,
    mounts: Sequence[Mount],
    script: str,
    changes: Sequence[str],
    status: Status,
    *,
    keep: bool = False,
) -> str:
    """Run ``script`` in a container of ``base`` and commit it. With ``keep`` the container
    is left to the caller (which reads something from it before committing) unless this fails."""
    container = f"nestkube-build-{secrets.token_hex(4)}"
    done = False
    try:
        with status.step(f"Building {target} from {base}"):
            provider.run_build_container(base, container, mounts)
            try:
                provider.exec(container, ["sh", "-c", script], what=f"building {target}")
            except CommandError as exc:
                raise ImageBuildError(f"building {target} failed:\n{exc.output_tail(15)}") from exc
        if not keep:
            with status.step(f"Committing {target}"):
                provider.commit(container, target, changes)
        done = True
    finally:
        if not (keep and done):
            provider.remove_container(container)
    return container
