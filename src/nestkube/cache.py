"""Content-addressed cache under the XDG cache directory.

Expensive artefacts (Kubernetes binaries, base rootfs tarballs, built images) are stored under a
key derived from everything that went into them, so a second run takes seconds and a changed
input never reuses a stale result.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nestkube"


def content_key(parts: Iterable[object]) -> str:
    """A short stable hash of the given inputs (JSON-encoded, order significant)."""
    blob = json.dumps([str(p) for p in parts]).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def publish_dir(tmp: Path, final: Path) -> Path:
    """Move a finished temp dir into place; a half-built entry is never visible."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        shutil.rmtree(tmp, ignore_errors=True)
        return final
    os.replace(tmp, final)
    return final
