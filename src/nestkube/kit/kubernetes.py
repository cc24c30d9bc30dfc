"""Kubernetes binaries: from the ``k8s.io/kubernetes`` Go module, or Debian's source package.

Current releases build from the Go module (:func:`build_from_modules`) with the modules Go.

Debian 12 ships the full Kubernetes v1.20.2 tree with vendor/. Built as-is with Go 1.19 kubeadm
panics inside json-iterator (modern-go/reflect2 v1.0.1 reads runtime internals that moved), so
the kit swaps in reflect2 v1.0.2 from Debian's golang package before building.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nestkube import _exec
from nestkube.cache import cache_root, content_key, file_sha256, publish_dir
from nestkube.errors import ImageBuildError
from nestkube.kit import releases
from nestkube.kit.gomod import build_module
from nestkube.kit.toolchain import GoToolchain, debian_toolchain, modules_toolchain
from nestkube.status import SILENT, Status

KUBE_COMMANDS = releases.KUBE_COMMANDS
# Bump when the build recipe changes, so cached binaries are rebuilt.
RECIPE = "debian-src-3"
REFLECT2_SRC = Path("/usr/share/gocode/src/github.com/modern-go/reflect2")
DEB_SRC_LIST = Path("/etc/apt/sources.list.d/nestkube-deb-src.sources")
DEB_SRC_ENTRY = """\
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


@dataclass(frozen=True)
class KubernetesBinaries:
    """A directory holding the Kubernetes commands, and the version they report."""

    directory: Path
    version: str

    def path(self, command: str) -> Path:
        return self.directory / command


def binaries_from_dir(directory: Path) -> KubernetesBinaries:
    """Validate a user-supplied binaries directory and read its version from kubeadm."""
    if not directory.is_dir():
        raise ImageBuildError(f"--kubernetes-binaries: {directory} is not a directory")
    missing = [c for c in KUBE_COMMANDS if not (directory / c).is_file()]
    if missing:
        raise ImageBuildError(f"--kubernetes-binaries: {directory} lacks {', '.join(missing)}")
    return KubernetesBinaries(directory, kubeadm_version(directory / "kubeadm"))


def kubeadm_version(kubeadm: Path) -> str:
    out = _exec.run(
        [str(kubeadm), "version", "-o", "short"], what="kubeadm version", timeout=60
    ).stdout
    version = out.strip()
    if not re.fullmatch(r"v\d+\.\d+\.\d+\S*", version):
        raise ImageBuildError(f"{kubeadm} reports an unusable version {version!r}")
    return version


def build_from_modules(version: str, status: Status = SILENT) -> KubernetesBinaries:
    """The seven commands of ``version`` from the k8s.io/kubernetes module (cached)."""
    spec = releases.kubernetes_build(version)
    built = build_module(spec, modules_toolchain(), status)
    reported = kubeadm_version(built.path("kubeadm"))
    if reported != spec.version:
        raise ImageBuildError(f"kubeadm built for {spec.version} reports {reported}")
    return KubernetesBinaries(built.directory, spec.version)


def _source_info() -> tuple[str, str]:
    """(version, dsc sha256) of Debian's kubernetes source package, enabling deb-src if needed."""
    out = _exec.run(["apt-cache", "showsrc", "kubernetes"], check=False, timeout=120).stdout
    if "Package: kubernetes" not in out:
        _enable_deb_src()
        out = _exec.run(
            ["apt-cache", "showsrc", "kubernetes"], what="apt-cache showsrc", timeout=120
        ).stdout
    version = re.search(r"^Version: (\S+)", out, re.M)
    dsc = re.search(r"^ ([0-9a-f]{64}) \d+ kubernetes_\S+\.dsc$", out, re.M)
    if not version or not dsc:
        raise ImageBuildError("apt-cache showsrc kubernetes gave no version or .dsc checksum")
    return version.group(1), dsc.group(1)


def _enable_deb_src() -> None:
    if os.geteuid() != 0:
        raise ImageBuildError(
            "Debian source packages are not enabled; as root add a deb-src entry for bookworm "
            f"({DEB_SRC_LIST}) and run apt-get update"
        )
    DEB_SRC_LIST.write_text(DEB_SRC_ENTRY)
    _exec.run(["apt-get", "update", "-qq"], what="apt-get update", timeout=900)


def kit_dir() -> Path:
    return cache_root() / "kit" / "kubernetes"


def build_from_debian_source(
    status: Status = SILENT, *, jobs: int | None = None
) -> KubernetesBinaries:
    """Build (or reuse from the cache) the Kubernetes commands from Debian's source package."""
    toolchain = debian_toolchain()
    go = toolchain.version
    pkg_version, dsc_sha = _source_info()
    key = content_key([RECIPE, pkg_version, dsc_sha, go, *KUBE_COMMANDS])
    final = kit_dir() / key
    manifest = final / "manifest.json"
    if manifest.is_file():
        data = json.loads(manifest.read_text())
        status.detail(f"kit cache hit: {final}")
        return KubernetesBinaries(final / "bin", str(data["version"]))
    kit_dir().mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{key}.", suffix=".tmp", dir=kit_dir()))
    try:
        work = tmp / "work"
        work.mkdir()
        with status.step("Fetching Debian's kubernetes source package"):
            _exec.run(
                ["apt-get", "source", "--download-only", "kubernetes"],
                cwd=work,
                what="apt-get source kubernetes",
                timeout=1800,
            )
            dsc = next(work.glob("kubernetes_*.dsc"))
            _exec.run(
                ["dpkg-source", "-x", dsc.name, "src"], cwd=work, what="dpkg-source -x", timeout=600
            )
        src = work / "src"
        with status.step("Swapping vendored reflect2 for v1.0.2"):
            swap_reflect2(src)
        upstream = _upstream_version(pkg_version)
        with status.step(f"Building Kubernetes {upstream} (about 10 minutes on 2 cores)"):
            make_kubernetes(src, upstream, toolchain, jobs=jobs)
        out_bin = tmp / "bin"
        out_bin.mkdir()
        for command in KUBE_COMMANDS:
            shutil.copy2(src / "_output" / "bin" / command, out_bin / command)
        version = kubeadm_version(out_bin / "kubeadm")
        shutil.rmtree(work)
        manifest_tmp = tmp / "manifest.json"
        manifest_tmp.write_text(
            json.dumps(
                {
                    "version": version,
                    "debian_source": pkg_version,
                    "dsc_sha256": dsc_sha,
                    "go": go,
                    "sha256": {c: file_sha256(out_bin / c) for c in KUBE_COMMANDS},
                },
                indent=2,
            )
        )
        publish_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return KubernetesBinaries(final / "bin", version)


def _upstream_version(debian_version: str) -> str:
    """'1.20.5+really1.20.2-1.1+deb12u1' -> 'v1.20.2' (the tree really is 1.20.2)."""
    base = debian_version.split("-")[0]
    if "really" in base:
        base = base.split("really")[-1]
    return "v" + base.split("+")[0]


def swap_reflect2(src: Path) -> None:
    if not REFLECT2_SRC.is_dir():
        raise ImageBuildError(
            f"{REFLECT2_SRC} missing: install golang-github-modern-go-reflect2-dev"
        )
    vendored = src / "vendor/github.com/modern-go/reflect2"
    shutil.rmtree(vendored, ignore_errors=True)
    shutil.copytree(REFLECT2_SRC, vendored)
    files = [src / "go.mod", src / "vendor/modules.txt", *src.glob("staging/src/k8s.io/*/go.mod")]
    for path in files:
        text = path.read_text()
        new = text.replace("modern-go/reflect2 v1.0.1", "modern-go/reflect2 v1.0.2")
        if new != text:
            path.write_text(new)


def make_kubernetes(
    src: Path, version: str | None, toolchain: GoToolchain, *, jobs: int | None = None
) -> Path:
    """Run Kubernetes' own make for the commands nestkube needs; returns _output/bin."""
    gopath = src / ".go"
    link = gopath / "src/k8s.io/kubernetes"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to(src.resolve())
    env = {
        **toolchain.env(),
        "GOPATH": str(gopath),
        "CGO_ENABLED": "0",
        "HOME": str(src / ".home"),
        "GOFLAGS": "-mod=vendor",
    }
    if version:
        # A tree that is not a git checkout would otherwise report v0.0.0, and kubeadm
        # refuses to deploy a control plane newer than itself.
        env["KUBE_GIT_VERSION"] = version
        env["KUBE_GIT_TREE_STATE"] = "clean"
    if jobs:
        env["GOMAXPROCS"] = str(jobs)
    what = " ".join(f"cmd/{c}" for c in KUBE_COMMANDS)
    _exec.run(["make", f"WHAT={what}"], cwd=src, env=env, what="make kubernetes", timeout=90 * 60.0)
    return src / "_output" / "bin"


def build_from_source_tree(src: Path, status: Status = SILENT) -> KubernetesBinaries:
    """Compile the commands from a Kubernetes source tree with the modules Go."""
    if not (src / "cmd" / "kubeadm").is_dir() or not (src / "Makefile").is_file():
        raise ImageBuildError(f"--kubernetes-source: {src} is not a Kubernetes source tree")
    with status.step(f"Building Kubernetes from {src}"):
        out = make_kubernetes(src, None, modules_toolchain())
    return binaries_from_dir(out)
