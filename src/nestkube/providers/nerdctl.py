"""nerdctl: containerd's docker-compatible CLI, rootful or rootless (containerd-rootless).

nerdctl is not packaged for Debian 12: the end-to-end tests run it rootful on a containerd,
both built from Go modules (kit/host_nerdctl); rootless nerdctl needs cgroup v2 delegation,
which the test hosts lack, so it is covered by unit tests of its command lines only.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nestkube.errors import ProviderError
from nestkube.host import HostFacts, probe_host
from nestkube.oci.archive import ImageSpec, Layer, write_image_archive
from nestkube.oci.config_edit import rewrite_archive
from nestkube.providers.base import ProviderInfo
from nestkube.providers.docker import DockerLikeProvider, node_cgroup_driver
from nestkube.providers.facts import (
    EngineFacts,
    fetch,
    find_engine,
    parse_nerdctl,
    parse_version,
)

# Rootless nodes need nerdctl's and containerd's 1.7 fixes (cgroup v2 delegation for nested
# systemd, rootlesskit port forwarding that survives node restarts); older pairs half-work.
ROOTLESS_MIN_NERDCTL = (1, 7)
ROOTLESS_MIN_CONTAINERD = (1, 7)
# The Dockerfile instructions `nerdctl commit --change` takes.
NERDCTL_COMMIT_CHANGES = frozenset({"CMD", "ENTRYPOINT"})


def check_rootless_versions(nerdctl: str, containerd: str) -> None:
    """Refuse rootless nerdctl below 1.7 (either part) with the fix, not a late failure."""
    have_n = parse_version(nerdctl)
    have_c = parse_version(containerd)
    old = []
    if have_n is None or have_n[:2] < ROOTLESS_MIN_NERDCTL:
        old.append(f"nerdctl {nerdctl or 'unknown'}")
    if have_c is None or have_c[:2] < ROOTLESS_MIN_CONTAINERD:
        old.append(f"containerd {containerd or 'unknown'}")
    if old:
        raise ProviderError(
            f"rootless nerdctl needs nerdctl >= 1.7 and containerd >= 1.7, found "
            f"{' and '.join(old)}: install nerdctl-full >= 1.7 (it bundles containerd, "
            "rootlesskit and the CNI plugins), then run `containerd-rootless-setuptool.sh "
            "install`; or use --provider podman"
        )


def parse_nerdctl_info(
    info: Mapping[str, Any], version: Mapping[str, Any], binary: str, host: HostFacts
) -> ProviderInfo:
    """ProviderInfo from `nerdctl info` and `nerdctl version` JSON (both --format '{{json .}}')."""
    return nerdctl_info(parse_nerdctl(info, version, binary), host)


def nerdctl_info(facts: EngineFacts, host: HostFacts) -> ProviderInfo:
    """How nodes run on this nerdctl; rootless needs nerdctl and containerd 1.7."""
    rootless = bool(facts.rootless)
    if rootless and facts.info_ok:
        check_rootless_versions(facts.version, facts.server_version)
    driver = node_cgroup_driver(rootless, facts.cgroup_manager, facts.cgroup_version)
    version = facts.version or facts.server_version
    return ProviderInfo.decided(facts, host, cgroup_driver=driver, version=version)


def find_nerdctl(binary: str = "nerdctl") -> str:
    return find_engine(
        binary,
        "it is not packaged for Debian 12: install nerdctl-full from the containerd/nerdctl "
        "releases",
    )


def probe_nerdctl(binary: str = "nerdctl", host: HostFacts | None = None) -> ProviderInfo:
    return nerdctl_info(fetch("nerdctl", find_nerdctl(binary)), host or probe_host())


class NerdctlProvider(DockerLikeProvider):
    name = "nerdctl"

    def _names_and_labels(self, entry: dict[str, Any]) -> tuple[str, dict[str, str], str]:
        name, labels, state = super()._names_and_labels(entry)
        if not state:
            # nerdctl's ps JSON has no State, only Docker's human Status ("Up", "Exited (0)").
            status = str(entry.get("Status", "")).lower()
            state = "running" if status.startswith("up") else status.split(" ", 1)[0]
        return name, labels, state

    def connect_network(self, network: str, container: str, ip: str | None = None) -> None:
        # nerdctl (2.0) has no `network connect`: a running registry cannot join a cluster.
        raise ProviderError(
            f"nerdctl cannot join {container} to {network} (it has no `network connect`): "
            "registries work with Podman and Docker; use a registry mirror URL instead"
        )

    def import_rootfs(self, tarball: Path, image: str) -> None:
        # nerdctl has no `import`: the root filesystem becomes the one layer of an image
        # archive, which `nerdctl load` takes like any other.
        with tempfile.TemporaryDirectory(prefix="nestkube-import-") as tmp:
            archive = Path(tmp) / "rootfs-image.tar"
            write_image_archive(ImageSpec(tags=[image], layers=[Layer(tarball=tarball)]), archive)
            self.load_image_archive(archive)

    def commit(self, container: str, image: str, changes: Sequence[str]) -> None:
        # nerdctl's commit takes CMD and ENTRYPOINT only (v2.0: "unknown change directive");
        # the rest (LABEL, ENV, STOPSIGNAL) is written into the saved image's config.
        direct = [c for c in changes if c.split(None, 1)[0].upper() in NERDCTL_COMMIT_CHANGES]
        rest = [c for c in changes if c not in direct]
        super().commit(container, image, direct)
        if not rest:
            return
        with tempfile.TemporaryDirectory(prefix="nestkube-commit-") as tmp:
            saved, edited = Path(tmp) / "saved.tar", Path(tmp) / "edited.tar"
            with saved.open("wb") as fh:
                self.save_image([image], fh)
            rewrite_archive(saved, edited, image, rest)
            saved.unlink()
            self.load_image_archive(edited)
