"""The two Go toolchains the kits use, chosen explicitly and never mixed.

Current Kubernetes, etcd, CoreDNS and containerd are Go modules that need a recent Go (1.26
for Kubernetes v1.37); Debian's v1.20.2 source tree builds with Debian's own Go 1.19 and its
vendored dependencies. Each kit names its toolchain by path, so whichever ``go`` happens to
come first on PATH never decides what a build uses.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from nestkube import _exec
from nestkube.errors import CommandError, ImageBuildError

# The Go that built the preinstalled toolchain on these machines, and the usual place for an
# upstream Go tarball; the go on PATH and $NESTKUBE_GO are tried too.
UPSTREAM_GO = Path("/usr/local/go/bin/go")
# Debian's golang-go points /usr/lib/go at its versioned toolchain (1.19 on bookworm).
DEBIAN_GO = Path("/usr/lib/go/bin/go")
MODULES_MIN_GO = (1, 26)
_GO_VERSION_RE = re.compile(r"\bgo(\d+)\.(\d+)(?:\.(\d+))?\b")


@dataclass(frozen=True)
class GoToolchain:
    go: Path
    version: str  # as `go version` reports it, e.g. "go1.26.8"

    @property
    def release(self) -> tuple[int, int]:
        match = _GO_VERSION_RE.search(self.version)
        return (int(match[1]), int(match[2])) if match else (0, 0)

    def env(self) -> dict[str, str]:
        """Environment for a build: this Go first on PATH, nothing downloaded behind our back."""
        bindir = str(self.go.resolve().parent)
        return {
            "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
            # A go.mod asking for a newer Go must fail, not fetch a toolchain.
            "GOTOOLCHAIN": "local",
            "GOWORK": "off",
            "GOROOT": str(self.go.resolve().parent.parent),
        }


def probe(go: Path) -> GoToolchain | None:
    """The toolchain at ``go``, or None if it is absent or does not answer."""
    if not go.is_file():
        return None
    try:
        out = _exec.run(
            [str(go), "version"], env={"GOTOOLCHAIN": "local"}, timeout=30, what="go version"
        ).stdout
    except CommandError:
        return None
    match = _GO_VERSION_RE.search(out)
    return GoToolchain(go, match[0]) if match else None


def _candidates() -> list[Path]:
    paths: list[Path] = []
    if os.environ.get("NESTKUBE_GO"):
        paths.append(Path(os.environ["NESTKUBE_GO"]))
    on_path = shutil.which("go")
    if on_path:
        paths.append(Path(on_path))
    paths.append(UPSTREAM_GO)
    unique: list[Path] = []
    for path in paths:
        if path not in unique:
            unique.append(path)
    return unique


def modules_toolchain(minimum: tuple[int, int] = MODULES_MIN_GO) -> GoToolchain:
    """The Go for module builds: $NESTKUBE_GO if set, else the newest of PATH's and /usr/local/go's.

    Debian's Go is never chosen here even when it comes first on PATH.
    """
    found = [t for t in (probe(p) for p in _candidates()) if t is not None]
    if os.environ.get("NESTKUBE_GO"):
        chosen = found[0] if found and found[0].go == Path(os.environ["NESTKUBE_GO"]) else None
        if chosen is None:
            raise ImageBuildError(f"NESTKUBE_GO={os.environ['NESTKUBE_GO']} is not a working go")
    else:
        chosen = max(found, key=lambda t: t.release, default=None)
    want = f"go{minimum[0]}.{minimum[1]}"
    if chosen is None:
        raise ImageBuildError(f"no Go toolchain found: Go modules need {want} or newer")
    if chosen.release < minimum:
        raise ImageBuildError(
            f"{chosen.go} is {chosen.version}; Go modules need {want} or newer "
            "(set NESTKUBE_GO to a newer go)"
        )
    return chosen


def debian_toolchain() -> GoToolchain:
    """Debian's packaged Go, for the v1.20.2 tree from Debian's source package."""
    found = probe(DEBIAN_GO)
    if found is None:
        raise ImageBuildError(f"{DEBIAN_GO} missing: install Debian's golang-go")
    return found
