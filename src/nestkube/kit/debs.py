"""Files of Debian packages, unpacked without installing them.

Some parts need a Debian program without changing the host: the conformance web-server image
takes nginx's files, and kind's private Podman backend takes netavark and aardvark-dns. The
packages are fetched with ``apt-get download`` at their candidate versions, unpacked with
``dpkg-deb -x`` and kept in the cache keyed by name and version, so a new candidate is a new
entry and an old one is never patched in place.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from nestkube import _exec
from nestkube.cache import cache_root, content_key
from nestkube.errors import ImageBuildError


def candidate_versions(packages: tuple[str, ...]) -> list[str]:
    """apt's candidate version of each package, in order; an error names what is missing."""
    policy = _exec.run(
        ["apt-cache", "policy", *packages], timeout=60, what="apt-cache policy"
    ).stdout
    candidates = re.findall(r"Candidate:\s*(\S+)", policy)
    if len(candidates) != len(packages) or "(none)" in candidates:
        raise ImageBuildError(
            f"Debian packages {', '.join(packages)} not available: run apt-get update"
        )
    return candidates


def debian_package_files(packages: tuple[str, ...]) -> Path:
    """A directory whose ``root/`` holds the files of ``packages``, unpacked once and cached."""
    candidates = candidate_versions(packages)
    key = content_key([*packages, *candidates])
    final = cache_root() / "debs" / key
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
    try:
        pinned = [f"{p}={v}" for p, v in zip(packages, candidates, strict=True)]
        _exec.run(
            ["apt-get", "download", *pinned],
            cwd=tmp,
            timeout=300,
            what=f"apt-get download {' '.join(pinned)}",
        )
        root = tmp / "root"
        for deb in sorted(tmp.glob("*.deb")):
            _exec.run(["dpkg-deb", "-x", str(deb), str(root)], timeout=120, what="dpkg-deb -x")
            deb.unlink()
        tmp.replace(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
