"""Claim a cluster name for the whole of a create, so two creates never share one.

The claim is an exclusive ``flock`` on a per-engine, per-name file under the XDG runtime
directory (the cache directory where there is none). The kernel drops it when the process
exits however it exits, so a killed create never leaves a stale claim. The existence check
runs while the claim is held, which makes "check, then create" atomic between nestkubes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from nestkube.cache import cache_root
from nestkube.errors import ClusterError
from nestkube.providers.base import ProviderInfo


def lock_dir() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "nestkube" / "locks"
    return cache_root() / "locks"


def lock_path(info: ProviderInfo, cluster: str) -> Path:
    """One file per engine endpoint and cluster name.

    The engine is named by its binary, mode and the endpoint variables its CLI honours, so
    rootful and rootless Podman, or two Docker daemons, never block each other.
    """
    endpoint = "|".join(
        [
            info.binary,
            "rootless" if info.rootless else "rootful",
            os.environ.get("CONTAINER_HOST", ""),
            os.environ.get("DOCKER_HOST", ""),
        ]
    )
    key = hashlib.sha256(endpoint.encode()).hexdigest()[:12]
    return lock_dir() / f"{info.name}-{key}-{cluster}.lock"


@contextlib.contextmanager
def claimed(info: ProviderInfo, cluster: str) -> Iterator[Path]:
    """Hold the claim on ``cluster`` or fail at once if another create holds it."""
    path = lock_path(info, cluster)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ClusterError(f"cannot create the lock file {path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ClusterError(
                f"cluster {cluster!r} already exists / is being created "
                f"(another nestkube holds {path})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        # Closing drops the lock; the file stays, so a waiter never locks an unlinked inode.
        os.close(fd)


def in_progress(cluster: str, locks: Path | None = None) -> bool:
    """Whether a create of ``cluster`` (on any engine) holds its claim now.

    Read from the kernel's table of held locks (/proc/locks), never by taking the lock, so a
    create starting at the same moment is not refused because of the look.
    """
    directory = lock_dir() if locks is None else locks
    pattern = re.compile(rf"[a-z]+-[0-9a-f]{{12}}-{re.escape(cluster)}\.lock")
    try:
        files = [p for p in directory.iterdir() if pattern.fullmatch(p.name)]
        held = Path("/proc/locks").read_text() if files else ""
    except OSError:
        return False
    for path in files:
        try:
            st = path.stat()
        except OSError:
            continue
        key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
        if any(
            line.split()[1:2] == ["FLOCK"] and key in line.split() for line in held.splitlines()
        ):
            return True
    return False
