"""Kubernetes binaries from a release download site or a mirror in the same layout.

The layout is ``<url>/<version>/bin/linux/<arch>/<command>`` with ``<command>.sha256`` beside
each file; every file is verified before it is used, and a mismatch leaves nothing cached.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from nestkube.cache import cache_root, content_key, publish_dir
from nestkube.errors import ImageBuildError
from nestkube.kit.kubernetes import KUBE_COMMANDS, KubernetesBinaries, binaries_from_dir
from nestkube.oci.archive import host_arch
from nestkube.status import SILENT, Status

DEFAULT_RELEASE_URL = "https://dl.k8s.io/release"
VERSION_RE = re.compile(r"v\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?")


def validate_version(version: str) -> str:
    if not VERSION_RE.fullmatch(version):
        raise ImageBuildError(f"unknown Kubernetes version {version!r}: expected the form v1.20.2")
    return version


def _fetch(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            data: bytes = resp.read()
            return data
    except urllib.error.HTTPError as exc:
        raise ImageBuildError(f"{url}: HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ImageBuildError(f"cannot reach {url}: {reason}") from exc


def download_release(
    version: str,
    release_url: str = DEFAULT_RELEASE_URL,
    *,
    status: Status = SILENT,
    timeout: float = 30.0,
) -> KubernetesBinaries:
    validate_version(version)
    base = f"{release_url.rstrip('/')}/{version}/bin/linux/{host_arch()}"
    final = cache_root() / "release" / content_key([base])
    if (final / "manifest.json").is_file():
        return KubernetesBinaries(final / "bin", version)
    # A missing version gives one clear error before any large download starts.
    probe = f"{base}/kubeadm.sha256"
    try:
        _fetch(probe, timeout)
    except ImageBuildError as exc:
        if "HTTP 404" in str(exc):
            raise ImageBuildError(f"Kubernetes {version} not found at {release_url}") from exc
        raise
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="dl.", dir=final.parent))
    try:
        (tmp / "bin").mkdir()
        sums: dict[str, str] = {}
        with status.step(f"Downloading Kubernetes {version} from {release_url}"):
            for command in KUBE_COMMANDS:
                expected = _fetch(f"{base}/{command}.sha256", timeout).decode().split()[0].lower()
                data = _fetch(f"{base}/{command}", timeout)
                actual = hashlib.sha256(data).hexdigest()
                if actual != expected:
                    raise ImageBuildError(
                        f"checksum mismatch for {base}/{command}: expected {expected}, got {actual}"
                    )
                dest = tmp / "bin" / command
                dest.write_bytes(data)
                dest.chmod(0o755)
                sums[command] = actual
        binaries = binaries_from_dir(tmp / "bin")
        if binaries.version != version:
            raise ImageBuildError(f"{base}/kubeadm reports {binaries.version}, not {version}")
        (tmp / "manifest.json").write_text(json.dumps({"url": base, "sha256": sums}, indent=2))
        publish_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return KubernetesBinaries(final / "bin", version)
