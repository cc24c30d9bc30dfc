"""CRI-O for a node image: crio from its Go module, and pinns from the C sources the same
module carries (CRI-O pins namespaces and sysctls for pods with it).

conmon, the per-container monitor CRI-O starts, is Debian's package in the node image: it is
C with glib, packaged at a version CRI-O accepts, so nothing needs building for it.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nestkube import _exec
from nestkube.cache import cache_root, content_key, file_sha256, publish_dir
from nestkube.errors import CommandError, ImageBuildError
from nestkube.kit.gomod import build_module, module_dir
from nestkube.kit.releases import CRIO, crio_build, crio_version_for
from nestkube.kit.toolchain import modules_toolchain
from nestkube.status import SILENT, Status

PINNS_RECIPE = "pinns-1"
# What pinns/Makefile passes, -Werror aside (a newer gcc must not fail an old release).
PINNS_CFLAGS = ("-std=c99", "-Os", "-Wall", "-Wextra", "-static", "-s")


@dataclass(frozen=True)
class CrioKit:
    version: str
    crio: Path
    pinns: Path


def supported_minors() -> str:
    return ", ".join(f"v1.{m}" for m in sorted(CRIO))


def require_crio(kubernetes_version: str) -> str:
    """CRI-O's release for ``kubernetes_version``, or why there is none (one line)."""
    version = crio_version_for(kubernetes_version)
    if version is None:
        raise ImageBuildError(
            f"runtime cri-o needs a CRI-O of the same minor as Kubernetes {kubernetes_version}, "
            f"and the module proxy serves a buildable one only for {supported_minors()}: "
            "use one of those Kubernetes versions with cri-o, or runtime containerd"
        )
    return version


def gather_crio(kubernetes_version: str, status: Status = SILENT) -> CrioKit:
    version = require_crio(kubernetes_version)
    toolchain = modules_toolchain()
    build = crio_build(version)
    crio = build_module(build, toolchain, status)
    source = module_dir(build, toolchain) / "pinns" / "src"
    return CrioKit(version, crio.path("crio"), build_pinns(version, source, status))


def build_pinns(version: str, source: Path, status: Status = SILENT) -> Path:
    """pinns compiled with gcc from ``source`` (read-only in Go's module cache, so copied)."""
    sources = sorted(source.iterdir())
    key = content_key([PINNS_RECIPE, version, [(p.name, file_sha256(p)) for p in sources]])
    final = cache_root() / "kit" / "pinns" / f"{version}-{key}"
    if (final / "pinns").is_file():
        return final / "pinns"
    if not shutil.which("gcc"):
        raise ImageBuildError("gcc not found: it builds CRI-O's pinns (install build-essential)")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        work = tmp / "src"
        shutil.copytree(source, work)
        c_files = [str(p) for p in sorted(work.glob("*.c"))]
        with status.step(f"Building pinns {version}"):
            _exec.run(
                ["gcc", *PINNS_CFLAGS, "-o", str(tmp / "pinns"), *c_files],
                cwd=work,
                timeout=300,
                what="gcc pinns (install libc6-dev)",
            )
        shutil.rmtree(work)
        publish_dir(tmp, final)
    except CommandError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ImageBuildError(f"building pinns {version} failed: {exc.output_tail(1)}") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final / "pinns"
