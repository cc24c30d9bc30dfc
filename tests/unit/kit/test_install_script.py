"""scripts/install-system-deps.sh's Go logic (issue #27): Debian 12 ships Go 1.19, so the script
finds the newest Go, and below 1.26 fetches 1.26 through GOTOOLCHAIN (Go 1.21 or newer can),
first installing bookworm-backports' golang-1.23-go when no Go can; where it cannot, it prints
the exact steps. Sourced with NESTKUBE_DEPS_LIB=1, only its functions run, with stand-in gos;
nothing is installed or fetched."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts/install-system-deps.sh"
PROXY_LIST = "\n".join(
    [
        "v0.0.1-go1.21.0.linux-amd64",
        "v0.0.1-go1.26.0.linux-amd64",
        "v0.0.1-go1.26.9.linux-amd64",
        "v0.0.1-go1.26.10.linux-amd64",
        "v0.0.1-go1.26.11.linux-arm64",
        "v0.0.1-go1.26rc2.linux-amd64",
        "v0.0.1-go1.27.1.linux-amd64",
        "v0.0.1-go1.26.10.darwin-amd64",
    ]
)


def fake_go(directory: Path, version: str) -> Path:
    """A `go` that answers `env GOVERSION` (only with GOTOOLCHAIN=local, as the script asks)."""
    go = directory / "bin" / "go"
    go.parent.mkdir(parents=True)
    go.write_text(
        "#!/bin/sh\n"
        '[ "$GOTOOLCHAIN" = local ] || exit 3\n'
        f'[ "$1 $2" = "env GOVERSION" ] && echo go{version} && exit 0\n'
        '[ "$1 $2" = "env GOARCH" ] && echo amd64 && exit 0\n'
        "exit 2\n"
    )
    go.chmod(0o755)
    return go


@pytest.fixture(autouse=True)
def tools_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PATH with the text tools the script uses and no go, whatever this host has."""
    tools = tmp_path / "tools"
    tools.mkdir()
    for name in ("sed", "sort", "head", "tail", "grep", "readlink", "cat"):
        found = shutil.which(name)
        assert found, name
        (tools / name).symlink_to(found)
    monkeypatch.setattr(sys.modules[__name__], "PATH", str(tools))


PATH = "/usr/bin:/bin"
BASH = shutil.which("bash") or "/bin/bash"


def bash(
    code: str, *, candidates: str = "", nestkube_go: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": PATH,
        "NESTKUBE_DEPS_LIB": "1",
        "GO_CANDIDATES": candidates,
        "NESTKUBE_GO": nestkube_go,
    }
    return subprocess.run(
        [BASH, "-c", f'source "{SCRIPT}"\n{code}'],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("version", "plan"),
    [
        ("", "bootstrap"),
        ("1.19.8", "bootstrap"),  # Debian 12's golang-go
        ("1.20.14", "bootstrap"),
        ("1.21.0", "switch"),
        ("1.23.4", "switch"),  # bookworm-backports' golang-1.23-go
        ("1.26", "ok"),
        ("1.26.8", "ok"),
        ("1.27.0", "ok"),
    ],
)
def test_the_plan_for_the_newest_go(version: str, plan: str) -> None:
    assert bash(f'go_plan "{version}"').stdout.strip() == plan


def test_the_newest_go_1_26_toolchain_for_this_arch_from_the_proxy_list() -> None:
    done = bash(f"latest_toolchain amd64 <<'LIST'\n{PROXY_LIST}\nLIST")
    assert done.stdout.strip() == "go1.26.10"
    assert bash("latest_toolchain riscv64 </dev/null").stdout.strip() == ""


def test_the_newest_of_the_gos_found_is_chosen(tmp_path: Path) -> None:
    debian = fake_go(tmp_path / "go-1.19", "1.19.8")
    backports = fake_go(tmp_path / "go-1.23", "1.23.4")
    found = bash("newest_go", candidates=f"{debian} {backports} {tmp_path}/absent/bin/go")
    assert found.stdout.split() == ["1.23.4", str(backports)]
    # $NESTKUBE_GO alone, when set.
    only = bash("newest_go", candidates=f"{backports}", nestkube_go=str(debian))
    assert only.stdout.split() == ["1.19.8", str(debian)]
    assert bash("newest_go", candidates="").stdout.strip() == ""


def test_go_1_23_fetches_1_26_through_gotoolchain(tmp_path: Path) -> None:
    backports = fake_go(tmp_path / "go-1.23", "1.23.4")
    fetched = fake_go(tmp_path / "toolchain", "1.26.10")
    done = bash(
        # Stand-ins for the steps that install or download.
        "ensure_backports_go() { echo should-not-bootstrap; exit 9; }\n"
        f'fetch_go() {{ echo "fetch with $1" >&2; echo {fetched}; }}\n'
        "ensure_go",
        candidates=str(backports),
    )
    assert done.returncode == 0, done.stderr
    assert f"fetch with {backports}" in done.stderr
    assert f"Go 1.26.10 at {fetched}" in done.stderr


def test_go_1_19_installs_backports_first(tmp_path: Path) -> None:
    debian = fake_go(tmp_path / "go-1.19", "1.19.8")
    backports = fake_go(tmp_path / "go-1.23", "1.23.4")
    fetched = fake_go(tmp_path / "toolchain", "1.26.10")
    done = bash(
        f"ensure_backports_go() {{ echo {backports}; }}\n"
        f'fetch_go() {{ echo "fetch with $1" >&2; echo {fetched}; }}\n'
        "ensure_go",
        candidates=str(debian),
    )
    assert done.returncode == 0, done.stderr
    assert "installing golang-1.23-go" in done.stderr
    assert f"fetch with {backports}" in done.stderr


def test_where_it_cannot_the_exact_steps_are_printed(tmp_path: Path) -> None:
    debian = fake_go(tmp_path / "go-1.19", "1.19.8")
    done = bash("ensure_backports_go() { return 1; }\nensure_go", candidates=str(debian))
    assert done.returncode == 1
    steps = done.stderr
    assert "Suites: bookworm-backports" in steps
    assert "apt-get install -y -t bookworm-backports golang-1.23-go" in steps
    assert '"$proxy/golang.org/toolchain/@v/list"' in steps
    assert "GOTOOLCHAIN=go1.26.N /usr/lib/go-1.23/bin/go env GOROOT" in steps
    assert "from Go's downloads page into /usr/local/go" in steps


def test_a_new_enough_go_needs_nothing(tmp_path: Path) -> None:
    go = fake_go(tmp_path / "go", "1.26.8")
    done = bash(
        "ensure_backports_go() { exit 9; }\nfetch_go() { exit 9; }\nensure_go", candidates=str(go)
    )
    assert done.returncode == 0 and done.stderr == ""


def test_a_too_old_nestkube_go_is_refused_not_replaced(tmp_path: Path) -> None:
    go = fake_go(tmp_path / "go", "1.23.4")
    done = bash("fetch_go() { exit 9; }\nensure_go", nestkube_go=str(go))
    assert done.returncode == 1 and f"NESTKUBE_GO={go} is Go 1.23.4" in done.stderr
