"""The CRI-O variant of a node image: the containerd image's build, then CRI-O in its place.

The build stages CRI-O's binaries (crio and pinns from the kit) and files (images/node/crio)
beside the usual ones, asks prepare.sh for Debian's conmon and skopeo too, and runs crio.sh
after finish.sh. The variant is tagged apart (``<version>-crio``) and labelled
``io.nestkube.runtime=cri-o``, which create reads to pick the CRI socket and CRI-O's config.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from nestkube.cache import content_key, file_sha256
from nestkube.images import runc_wrapper
from nestkube.kit.crio import CrioKit
from nestkube.providers.base import ImageProvider

CRIO_FILES = Path(__file__).with_name("node") / "crio"
CRIO_SCRIPT = "crio/crio.sh"
# conmon monitors each container CRI-O runs; skopeo copies image archives into CRI-O's
# containers/storage (crictl cannot import, and podman would be a second engine in the node).
CRIO_PACKAGES = ("conmon", "skopeo")
TAG_SUFFIX = "-crio"
CRIO_SOCKET = "/var/run/crio/crio.sock"


def key(base_key: str, crio: CrioKit) -> str:
    """The node image's build key with CRI-O's binaries and files folded in."""
    files = sorted((p.name, file_sha256(p)) for p in CRIO_FILES.iterdir() if p.is_file())
    files.append((runc_wrapper.PATH.name, file_sha256(runc_wrapper.PATH)))
    binaries = [("crio", file_sha256(crio.crio)), ("pinns", file_sha256(crio.pinns))]
    return content_key([base_key, "cri-o", crio.version, CRIO_PACKAGES, files, binaries])


def stage(in_dir: Path, crio: CrioKit, pause_image: str | None) -> None:
    """CRI-O's part of /nestkube-in: binaries, files, packages, and the pause image to use."""
    dest = in_dir / "crio"
    shutil.copytree(CRIO_FILES, dest)
    # CRI-O's runtime: nestkube's runc wrapper (installed by crio.sh, with its -oom link).
    shutil.copy2(runc_wrapper.PATH, dest / runc_wrapper.PATH.name)
    (dest / "bin").mkdir()
    shutil.copy2(crio.crio, dest / "bin" / "crio")
    shutil.copy2(crio.pinns, dest / "bin" / "pinns")
    if pause_image:
        # The one preloaded; create writes it again with the node's other settings.
        (dest / "11-pause.conf").write_text(f'[crio.image]\npause_image = "{pause_image}"\n')
    packages = in_dir / "packages"
    packages.write_text(packages.read_text().rstrip("\n") + "\n" + " ".join(CRIO_PACKAGES) + "\n")
    for path in [dest, *dest.rglob("*")]:
        path.chmod(path.stat().st_mode | (0o755 if path.is_dir() else 0o644))


def debian_versions(provider: ImageProvider, container: str) -> dict[str, str]:
    """Versions of Debian's conmon and skopeo in the build container, for the labels."""
    out = provider.exec(
        container, ["dpkg-query", "-W", "-f", "${Package}=${Version}\\n", *CRIO_PACKAGES]
    ).stdout
    pairs = (line.split("=", 1) for line in out.splitlines() if "=" in line)
    return {name: version for name, version in pairs}
