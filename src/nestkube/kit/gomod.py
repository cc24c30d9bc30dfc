"""Build commands from published Go modules, cached by content.

A throwaway build module requires the wanted module at its release and builds the named main
packages from it with ``go build``; the module's source stays in Go's module cache and never
enters this repository. Finished binaries are published atomically under
``$XDG_CACHE_HOME/nestkube/kit/go/<name>/<version>-<key>``, so a failed or interrupted build
leaves nothing that a later build could mistake for a result.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from nestkube import _exec
from nestkube.cache import cache_root, content_key, file_sha256, publish_dir
from nestkube.errors import CommandError, ImageBuildError
from nestkube.kit.toolchain import GoToolchain
from nestkube.status import SILENT, Status

# Bump when the way binaries are built changes, so cached results are rebuilt.
RECIPE = "gomod-1"
FETCH_TIMEOUT = 20 * 60.0
BUILD_TIMEOUT = 60 * 60.0
_LOCAL_REPLACE_RE = re.compile(r"^\s*(\S+)\s*=>\s*\./\S+\s*$", re.M)


@dataclass(frozen=True)
class GoModuleBuild:
    """What to build: main packages of one module at one release, and how."""

    name: str  # cache folder and what progress lines call it
    module: str
    version: str
    # output binary name -> main package import path
    commands: Mapping[str, str]
    # -X settings: variable -> value
    variables: Mapping[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    cgo: bool = False
    # Modules whose go.mod points its own sub-modules at local paths (Kubernetes' staging
    # repositories) are required here at their published tag instead, e.g. "v0.37.2".
    local_replaces_at: str | None = None
    # Build each command as its package's test binary (`go test -c`), e.g. Kubernetes' e2e.test.
    test_binaries: bool = False
    # Verify dependencies against the module's own go.sum first: CRI-O pins a pseudo-version
    # of containerd/nri that the proxy serves but the checksum database does not know. The
    # hashes come from the module, itself verified, and the binaries built stay the same.
    sums_from_module: bool = False
    # Files of the module itself (not Go) kept beside the binaries: output name -> path in the
    # module, e.g. MetalLB's own manifest, so they stay at the version the binaries are.
    files: Mapping[str, str] = field(default_factory=dict)

    def key(self, toolchain: GoToolchain) -> str:
        parts: list[object] = [
            RECIPE,
            self.module,
            self.version,
            sorted(self.commands.items()),
            sorted(self.variables.items()),
            self.tags,
            self.cgo,
            self.local_replaces_at,
            toolchain.version,
        ]
        if self.test_binaries:
            # Appended only when set, so the keys of existing command builds stay the same.
            parts.append("test-binaries")
        if self.files:
            parts.append(sorted(self.files.items()))
        return content_key(parts)


@dataclass(frozen=True)
class GoBinaries:
    build: GoModuleBuild
    directory: Path

    def path(self, command: str) -> Path:
        return self.directory / command


def go_kit_dir() -> Path:
    return cache_root() / "kit" / "go"


def _final_dir(build: GoModuleBuild, toolchain: GoToolchain) -> Path:
    return go_kit_dir() / build.name / f"{build.version}-{build.key(toolchain)}"


def cached(build: GoModuleBuild, toolchain: GoToolchain) -> GoBinaries | None:
    final = _final_dir(build, toolchain)
    if (final / "manifest.json").is_file():
        return GoBinaries(build, final / "bin")
    return None


def build_module(
    build: GoModuleBuild, toolchain: GoToolchain, status: Status = SILENT
) -> GoBinaries:
    """The binaries of ``build``, from the cache or built now with ``toolchain``."""
    hit = cached(build, toolchain)
    if hit is not None:
        status.detail(f"{build.name} {build.version}: cache hit {hit.directory}")
        return hit
    final = _final_dir(build, toolchain)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        work = tmp / "work"
        work.mkdir()
        env = _build_env(build, toolchain)
        with status.step(f"Fetching {build.module}@{build.version}"):
            replaces = _local_replaces(build, toolchain, work, env)
            _write_go_mod(work, build, toolchain, replaces)
            if build.sums_from_module:
                shutil.copyfile(
                    _module_dir(build, toolchain, work, env) / "go.sum", work / "go.sum"
                )
            _go(toolchain, ["get", f"{build.module}@{build.version}"], work, env, build, "fetch")
        out_bin = tmp / "bin"
        out_bin.mkdir()
        with status.step(f"Building {build.name} {build.version} ({', '.join(build.commands)})"):
            _compile(build, toolchain, work, env, out_bin)
        if build.files:
            source = _module_dir(build, toolchain, work, env)
            for name, inside in build.files.items():
                if not (source / inside).is_file():
                    raise ImageBuildError(f"{build.module}@{build.version} has no {inside}")
                shutil.copyfile(source / inside, out_bin / name)
        (tmp / "manifest.json").write_text(
            json.dumps(
                {
                    "module": build.module,
                    "version": build.version,
                    "go": toolchain.version,
                    "replaces": replaces,
                    "sha256": {c: file_sha256(out_bin / c) for c in build.commands},
                },
                indent=2,
            )
        )
        shutil.rmtree(work)
        publish_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return GoBinaries(build, final / "bin")


def _build_env(build: GoModuleBuild, toolchain: GoToolchain) -> dict[str, str]:
    return {
        **toolchain.env(),
        "CGO_ENABLED": "1" if build.cgo else "0",
        # Resolve requirements into the throwaway go.mod as the build needs them.
        "GOFLAGS": "-mod=mod",
    }


def _go(
    toolchain: GoToolchain,
    args: list[str],
    cwd: Path,
    env: Mapping[str, str],
    build: GoModuleBuild,
    step: str,
) -> str:
    timeout = FETCH_TIMEOUT if step == "fetch" else BUILD_TIMEOUT
    try:
        return _exec.run(
            [str(toolchain.go), *args],
            cwd=cwd,
            env=env,
            timeout=timeout,
            what=f"go {args[0]} {build.module}@{build.version}",
            hint="is the Go module proxy reachable? `go env GOPROXY`",
        ).stdout
    except CommandError as exc:
        if step == "fetch":
            raise ImageBuildError(
                f"cannot fetch Go module {build.module}@{build.version}: {_reason(exc)}"
            ) from exc
        raise ImageBuildError(
            f"building {build.name} {build.version} failed: {_reason(exc)}"
        ) from exc


def _reason(exc: CommandError) -> str:
    """The last line of go's output that says something, without the URL noise."""
    lines = [ln.strip() for ln in (exc.stderr or exc.stdout or "").splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("go: downloading")]
    if not lines:
        return str(exc)
    line = lines[-1]
    # "go: k8s.io/kubernetes@v1.99.0: reading https://…/@v/v1.99.0.info: 404 Not Found"
    line = re.sub(r"reading \S+: ", "", line)
    return line[:300]


def _local_replaces(
    build: GoModuleBuild, toolchain: GoToolchain, work: Path, env: Mapping[str, str]
) -> dict[str, str]:
    """Module -> version for every sub-module the wanted module replaces with a local path."""
    if build.local_replaces_at is None:
        return {}
    go_mod = Path(_download(build, toolchain, work, env)["GoMod"]).read_text()
    return {m: build.local_replaces_at for m in _LOCAL_REPLACE_RE.findall(go_mod)}


def _download(
    build: GoModuleBuild, toolchain: GoToolchain, work: Path, env: Mapping[str, str]
) -> dict[str, str]:
    """`go mod download -json` of the wanted module: where its go.mod and source landed."""
    out = _go(
        toolchain,
        ["mod", "download", "-json", f"{build.module}@{build.version}"],
        work,
        env,
        build,
        "fetch",
    )
    info: dict[str, str] = json.loads(out)
    if info.get("Error"):
        raise ImageBuildError(
            f"cannot fetch Go module {build.module}@{build.version}: {info['Error']}"
        )
    return info


def _module_dir(
    build: GoModuleBuild, toolchain: GoToolchain, work: Path, env: Mapping[str, str]
) -> Path:
    return Path(_download(build, toolchain, work, env)["Dir"])


def module_dir(build: GoModuleBuild, toolchain: GoToolchain) -> Path:
    """The wanted module's source in Go's module cache (read-only), fetched if absent; for
    the parts of a module that are not Go (CRI-O's pinns is C)."""
    with tempfile.TemporaryDirectory(prefix="nestkube-gomod-") as work:
        return _module_dir(build, toolchain, Path(work), _build_env(build, toolchain))


def _write_go_mod(
    work: Path, build: GoModuleBuild, toolchain: GoToolchain, replaces: Mapping[str, str]
) -> None:
    major, minor = toolchain.release
    lines = [f"module nestkube.local/kit/{build.name}", "", f"go {major}.{minor}", ""]
    lines.append(f"require {build.module} {build.version}")
    if replaces:
        lines += ["", "replace ("]
        lines += [f"\t{module} => {module} {version}" for module, version in replaces.items()]
        lines.append(")")
    (work / "go.mod").write_text("\n".join(lines) + "\n")


def _compile(
    build: GoModuleBuild,
    toolchain: GoToolchain,
    work: Path,
    env: Mapping[str, str],
    out_bin: Path,
) -> None:
    ldflags = ["-s", "-w", *[f"-X {var}={value}" for var, value in build.variables.items()]]
    if build.cgo:
        # Node images run these on another libc than the build host's: link statically.
        ldflags.append("-extldflags=-static")
    args = ["build", "-trimpath", "-buildvcs=false", f"-ldflags={' '.join(ldflags)}"]
    if build.tags:
        args.append(f"-tags={','.join(build.tags)}")
    staging = work / "out"
    staging.mkdir()
    if build.test_binaries:
        # go test -c writes one package's test binary per call; the compile cache is shared.
        # Vetting every package of a large suite costs minutes and changes nothing built.
        for command, package in build.commands.items():
            test_args = ["test", "-c", "-vet=off", *args[1:], "-o", str(staging / command), package]
            _go(toolchain, test_args, work, env, build, "build")
            if not (staging / command).is_file():
                raise ImageBuildError(f"go test -c of {package} produced no {command}")
            shutil.move(str(staging / command), out_bin / command)
        return
    # One go build for all commands shares compilation and links in parallel.
    _go(
        toolchain, [*args, "-o", f"{staging}/", *build.commands.values()], work, env, build, "build"
    )
    for command, package in build.commands.items():
        produced = staging / _default_binary_name(package)
        if not produced.is_file():
            raise ImageBuildError(f"go build of {package} produced no {produced.name}")
        shutil.move(str(produced), out_bin / command)


def _default_binary_name(package: str) -> str:
    """go build's name for a main package: its last path element that is not a /vN suffix."""
    parts = package.split("/")
    if len(parts) > 1 and re.fullmatch(r"v\d+", parts[-1]):
        return parts[-2]
    return parts[-1]
