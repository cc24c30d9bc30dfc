"""The Go module builder's test binaries (`go test -c`), against a fake `go`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from nestkube.cache import content_key
from nestkube.errors import ImageBuildError
from nestkube.kit import gomod
from nestkube.kit.gomod import GoModuleBuild, build_module
from nestkube.kit.toolchain import GoToolchain

# Logs its argv; `test -c -o FILE PKG` writes FILE unless the package is named "broken".
FAKE_GO = r"""#!/bin/sh
echo "$*" >> "$FAKE_GO_LOG"
case "$1" in
test)
  out=""; pkg=""
  while [ $# -gt 0 ]; do
    case "$1" in -o) out="$2"; shift ;; -*|test) ;; *) pkg="$1" ;; esac
    shift
  done
  case "$pkg" in *broken) exit 0 ;; esac
  echo "test binary of $pkg" > "$out" ;;
esac
"""

SUITE = GoModuleBuild(
    name="suite",
    module="example.com/big",
    version="v1.2.3",
    commands={"e2e.test": "example.com/big/test/e2e", "unit.test": "example.com/big/pkg/unit"},
    variables={"example.com/big/version.V": "v1.2.3"},
    test_binaries=True,
)


@pytest.fixture
def fake_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GoToolchain:
    go = tmp_path / "go" / "bin" / "go"
    go.parent.mkdir(parents=True)
    go.write_text(FAKE_GO)
    go.chmod(0o755)
    monkeypatch.setenv("FAKE_GO_LOG", str(tmp_path / "go.log"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return GoToolchain(go, "go1.26.8")


def go_calls(tmp_path: Path) -> list[str]:
    return (tmp_path / "go.log").read_text().splitlines()


def test_each_test_binary_is_one_go_test_c_with_the_build_flags(
    fake_go: GoToolchain, tmp_path: Path
) -> None:
    built = build_module(SUITE, fake_go)
    assert built.path("e2e.test").read_text() == "test binary of example.com/big/test/e2e\n"
    assert built.path("unit.test").read_text() == "test binary of example.com/big/pkg/unit\n"
    tests = [c for c in go_calls(tmp_path) if c.startswith("test")]
    assert len(tests) == 2
    for line in tests:
        assert line.startswith("test -c -vet=off -trimpath -buildvcs=false")
        assert "-X example.com/big/version.V=v1.2.3" in line
    assert not [c for c in go_calls(tmp_path) if c.startswith("build")]
    before = len(go_calls(tmp_path))
    assert build_module(SUITE, fake_go).directory == built.directory
    assert len(go_calls(tmp_path)) == before  # cached by content


def test_missing_test_binary_is_an_error_and_caches_nothing(
    fake_go: GoToolchain, tmp_path: Path
) -> None:
    broken = dataclasses.replace(SUITE, commands={"x.test": "example.com/big/broken"})
    with pytest.raises(ImageBuildError, match=r"produced no x\.test"):
        build_module(broken, fake_go)
    assert gomod.cached(broken, fake_go) is None
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_test_binaries_change_the_key_but_not_existing_keys() -> None:
    tc = GoToolchain(Path("/go"), "go1.26.8")
    plain = dataclasses.replace(SUITE, test_binaries=False)
    assert plain.key(tc) != SUITE.key(tc)
    # A command build's key is what it was before test binaries existed: caches stay warm.
    assert plain.key(tc) == content_key(
        [
            gomod.RECIPE,
            plain.module,
            plain.version,
            sorted(plain.commands.items()),
            sorted(plain.variables.items()),
            plain.tags,
            plain.cgo,
            plain.local_replaces_at,
            tc.version,
        ]
    )
