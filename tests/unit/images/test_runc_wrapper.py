"""nestkube's one runc wrapper (images/nestkube-runc), run on bundles in a scratch directory
with a fake runc that records its arguments and a fake /proc/self/status."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from nestkube.host import CAPABILITIES
from nestkube.images import runc_wrapper

ALL = [CAPABILITIES[bit] for bit in sorted(CAPABILITIES)]
# A bounding set without CAP_SYS_MODULE (bit 16) and CAP_SYS_RESOURCE (bit 24).
MASK = ((1 << len(ALL)) - 1) & ~(1 << 16) & ~(1 << 24)
KEPT = [c for c in ALL if c not in ("CAP_SYS_MODULE", "CAP_SYS_RESOURCE")]


def test_its_capability_table_is_the_hosts() -> None:
    """The wrapper's table (names by bit) and nestkube.host.CAPABILITIES are one table."""
    text = runc_wrapper.PATH.read_text()
    table = text.split('CAPABILITIES="', 1)[1].split('"', 1)[0].split()
    assert ["CAP_" + name for name in table] == ALL


@pytest.fixture
def wrapper(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    runc = tmp_path / "runc"
    runc.write_text(f'#!/bin/sh\necho "$*" > {tmp_path / "argv"}\n')
    runc.chmod(0o755)
    status = tmp_path / "status"
    status.write_text(f"Name:\tsh\nCapBnd:\t{MASK:016x}\nCapAmb:\t0000000000000000\n")
    env = {**os.environ, "NESTKUBE_RUNC": str(runc), "NESTKUBE_PROC_STATUS": str(status)}
    return runc_wrapper.PATH, env


def run(wrapper: tuple[Path, dict[str, str]], *args: str, cwd: Path | None = None) -> str:
    path, env = wrapper
    subprocess.run(["sh", str(path), *args], env=env, cwd=cwd, check=True, timeout=30)
    return (Path(env["NESTKUBE_RUNC"]).parent / "argv").read_text().strip()


def spec(caps: list[str]) -> dict[str, object]:
    kinds = ("bounding", "effective", "permitted", "inheritable", "ambient")
    return {"process": {"capabilities": dict.fromkeys(kinds, caps), "oomScoreAdj": -998}}


@pytest.mark.parametrize("indent", [None, 2], ids=["compact", "pretty"])
def test_create_removes_capabilities_outside_the_bounding_set(
    wrapper: tuple[Path, dict[str, str]], tmp_path: Path, indent: int | None
) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps(spec(ALL), indent=indent))
    argv = run(wrapper, "--root", "/run/runc", "create", "--bundle", str(bundle), "c1")
    assert argv == f"--root /run/runc create --bundle {bundle} c1"
    caps = json.loads((bundle / "config.json").read_text())["process"]["capabilities"]
    assert all(names == KEPT for names in caps.values())


def test_a_missing_capability_alone_or_last_leaves_valid_json(
    wrapper: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    process = tmp_path / "process.json"
    caps = {"bounding": ["CAP_SYS_MODULE"], "effective": ["CAP_CHOWN", "CAP_SYS_RESOURCE"]}
    process.write_text(json.dumps({"capabilities": caps}, indent=1))
    run(wrapper, "exec", f"--process={process}", "c1")
    assert json.loads(process.read_text())["capabilities"] == {
        "bounding": [],
        "effective": ["CAP_CHOWN"],
    }


def test_create_without_bundle_uses_the_working_directory(
    wrapper: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    (tmp_path / "config.json").write_text(json.dumps(spec(["CAP_SYS_MODULE", "CAP_KILL"])))
    run(wrapper, "--log-format", "json", "run", "c1", cwd=tmp_path)
    caps = json.loads((tmp_path / "config.json").read_text())["process"]["capabilities"]
    assert caps["bounding"] == ["CAP_KILL"]


def test_as_the_oom_link_it_raises_negative_scores_to_its_own(
    wrapper: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    path, env = wrapper
    link = tmp_path / "nestkube-runc-oom"
    link.symlink_to(path)
    (tmp_path / "config.json").write_text(json.dumps(spec(["CAP_KILL"])))
    subprocess.run(["sh", str(link), "create", "-b", str(tmp_path), "c1"], env=env, check=True)
    own = int(Path("/proc/self/oom_score_adj").read_text())
    assert json.loads((tmp_path / "config.json").read_text())["process"]["oomScoreAdj"] == own


def test_other_subcommands_pass_through_untouched(
    wrapper: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    assert run(wrapper, "--version") == "--version"
    assert run(wrapper, "state", "c1") == "state c1"


def test_a_copy_names_its_runc(tmp_path: Path) -> None:
    """The doctor's copy hands over to the runc it names, unless $NESTKUBE_RUNC says otherwise."""
    runc = tmp_path / "my runc"
    runc.write_text(f'#!/bin/sh\necho "named $*" > {tmp_path / "argv"}\n')
    runc.chmod(0o755)
    copy = tmp_path / "copy"
    copy.write_text(runc_wrapper.text(str(runc), "# a header\n"))
    assert copy.read_text().splitlines()[:2] == ["#!/bin/sh", "# a header"]
    env = {k: v for k, v in os.environ.items() if k != "NESTKUBE_RUNC"}
    subprocess.run(["sh", str(copy), "state", "c1"], env=env, check=True, timeout=30)
    assert (tmp_path / "argv").read_text().strip() == "named state c1"
