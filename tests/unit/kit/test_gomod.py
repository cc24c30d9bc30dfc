"""The Go module builder against a fake `go`: what it writes, runs, caches and refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nestkube.errors import ImageBuildError
from nestkube.kit import gomod
from nestkube.kit.gomod import GoModuleBuild, build_module
from nestkube.kit.toolchain import GoToolchain

# A stand-in for `go`: logs its argv, serves one module's go.mod, fails to fetch v9.9.9 as the
# proxy would, and "builds" each package into a file named as go names it.
FAKE_GO = r"""#!/bin/sh
echo "$*" >> "$FAKE_GO_LOG"
case "$1" in
version) echo "go version go1.26.8 linux/amd64" ;;
mod)
  printf 'module example.com/big\nreplace (\n\texample.com/big/sub => ./staging/sub\n)\n' \
    > "$FAKE_GO_DIR/big.mod"
  printf '{"Path":"example.com/big","GoMod":"%s"}\n' "$FAKE_GO_DIR/big.mod" ;;
get)
  case "$2" in *@v9.9.9)
    echo "go: example.com/big@v9.9.9: reading https://proxy.example/v9.9.9.info: 404 Not Found" >&2
    exit 1 ;;
  esac ;;
build)
  out=""; pkgs=""
  while [ $# -gt 0 ]; do
    case "$1" in -o) out="$2"; shift ;; -*|build) ;; *) pkgs="$pkgs $1" ;; esac
    shift
  done
  for p in $pkgs; do
    name=$(basename "$p"); case "$name" in v[0-9]*) name=$(basename "$(dirname "$p")") ;; esac
    echo "binary of $p" > "$out$name"
  done ;;
esac
"""


@pytest.fixture
def fake_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GoToolchain:
    root = tmp_path / "go"
    (root / "bin").mkdir(parents=True)
    go = root / "bin" / "go"
    go.write_text(FAKE_GO)
    go.chmod(0o755)
    monkeypatch.setenv("FAKE_GO_LOG", str(tmp_path / "go.log"))
    monkeypatch.setenv("FAKE_GO_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return GoToolchain(go, "go1.26.8")


def calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "go.log"
    return log.read_text().splitlines() if log.exists() else []


BIG = GoModuleBuild(
    name="big",
    module="example.com/big",
    version="v1.2.3",
    commands={"tool": "example.com/big/cmd/tool", "server": "example.com/big/server/v3"},
    variables={"example.com/big/version.V": "v1.2.3"},
    local_replaces_at="v0.2.3",
)


def test_builds_every_command_in_one_go_build_and_caches(
    fake_go: GoToolchain, tmp_path: Path
) -> None:
    built = build_module(BIG, fake_go)
    assert built.path("tool").read_text() == "binary of example.com/big/cmd/tool\n"
    # go names a /vN package after the element before it; the builder renames to the command.
    assert built.path("server").read_text() == "binary of example.com/big/server/v3\n"
    builds = [c for c in calls(tmp_path) if c.startswith("build")]
    assert len(builds) == 1
    assert "-X example.com/big/version.V=v1.2.3" in builds[0]
    assert "-trimpath" in builds[0]
    manifest = json.loads((built.directory.parent / "manifest.json").read_text())
    assert manifest["replaces"] == {"example.com/big/sub": "v0.2.3"}
    assert manifest["version"] == "v1.2.3"
    assert set(manifest["sha256"]) == {"tool", "server"}

    before = len(calls(tmp_path))
    again = build_module(BIG, fake_go)
    assert again.directory == built.directory
    assert len(calls(tmp_path)) == before  # a cache hit runs no go at all


def test_go_mod_points_local_replaces_at_published_versions(
    fake_go: GoToolchain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, str] = {}
    real_compile = gomod._compile

    def spy(build: GoModuleBuild, tc: GoToolchain, work: Path, *rest: object) -> None:
        seen["go.mod"] = (work / "go.mod").read_text()
        real_compile(build, tc, work, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(gomod, "_compile", spy)
    build_module(BIG, fake_go)
    text = seen["go.mod"]
    assert "require example.com/big v1.2.3" in text
    assert "example.com/big/sub => example.com/big/sub v0.2.3" in text
    assert "go 1.26" in text


def test_unfetchable_version_is_one_line_error_and_caches_nothing(
    fake_go: GoToolchain, tmp_path: Path
) -> None:
    missing = GoModuleBuild(
        name="big", module="example.com/big", version="v9.9.9", commands={"tool": "x/cmd/tool"}
    )
    with pytest.raises(ImageBuildError) as info:
        build_module(missing, fake_go)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("cannot fetch Go module example.com/big@v9.9.9:")
    assert "404 Not Found" in message
    assert "proxy.example" not in message
    leftovers = list((tmp_path / "cache").rglob("*"))
    assert [p for p in leftovers if p.is_file()] == []
    assert not any("v9.9.9" in p.name for p in leftovers)


def test_key_follows_every_input() -> None:
    tc = GoToolchain(Path("/go"), "go1.26.8")
    keys = {
        BIG.key(tc),
        BIG.key(GoToolchain(Path("/go"), "go1.26.9")),
        GoModuleBuild(**{**BIG.__dict__, "version": "v1.2.4"}).key(tc),
        GoModuleBuild(**{**BIG.__dict__, "tags": ("x",)}).key(tc),
        GoModuleBuild(**{**BIG.__dict__, "cgo": True}).key(tc),
        GoModuleBuild(**{**BIG.__dict__, "variables": {}}).key(tc),
    }
    assert len(keys) == 6


def test_cgo_builds_link_statically(fake_go: GoToolchain, tmp_path: Path) -> None:
    build_module(
        GoModuleBuild(
            name="c",
            module="example.com/c",
            version="v1.0.0",
            commands={"c": "example.com/c"},
            tags=("seccomp",),
            cgo=True,
        ),
        fake_go,
    )
    line = next(c for c in calls(tmp_path) if c.startswith("build"))
    assert "-extldflags=-static" in line
    assert "-tags=seccomp" in line
