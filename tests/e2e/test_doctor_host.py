"""`nestkube doctor` on this real machine: rootful Podman as root, rootless Podman as the
nestkube-rootless test user, and Docker in whatever state its daemon is.

Expectations are derived from the host's own files and syscalls, read here independently of
nestkube's probes, so the test states what this CI machine is rather than trusting doctor.
"""

from __future__ import annotations

import json
import os
import pwd
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import NESTKUBE, ensure_rootless_user, nestkube_as

from nestkube.host import CAPABILITIES

pytestmark = pytest.mark.e2e

ENGINE_RLIMIT = 1 << 20


# --- the host, read independently -----------------------------------------------------------


def cgroup_mode() -> str:
    cg = Path("/sys/fs/cgroup")
    if (cg / "cgroup.controllers").is_file():
        return "v2"
    return "hybrid" if (cg / "unified/cgroup.controllers").is_file() else "v1"


def missing_capabilities() -> set[str]:
    status = Path("/proc/self/status").read_text().splitlines()
    mask = int(next(ln for ln in status if ln.startswith("CapBnd:")).split()[1], 16)
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    return {name for bit, name in CAPABILITIES.items() if bit <= last and not mask >> bit & 1}


def root_can_lower_oom_score_adj() -> bool:
    # Read back: on restricted hosts the write can return without error yet change nothing.
    code = (
        "p='/proc/self/oom_score_adj'\n"
        "want=max(-1000,int(open(p).read())-1)\n"
        "try:\n"
        "    with open(p,'w') as f:\n"
        "        f.write(str(want))\n"
        "except OSError:\n"
        "    raise SystemExit(1)\n"
        "raise SystemExit(0 if int(open(p).read())==want else 1)\n"
    )
    return subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def hard_limits() -> tuple[int, int]:
    return (
        resource.getrlimit(resource.RLIMIT_NOFILE)[1],
        resource.getrlimit(resource.RLIMIT_NPROC)[1],
    )


# --- running doctor ------------------------------------------------------------------------


def by_id(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in doc["findings"]}


def run_json(argv: list[str], **kw: Any) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run(
        [*argv, "-o", "json"], capture_output=True, text=True, timeout=180, check=False, **kw
    )
    assert proc.returncode in (0, 1), proc.stderr
    doc = json.loads(proc.stdout)
    # The exit code is exactly "did anything fail".
    assert proc.returncode == (1 if doc["summary"]["fail"] else 0), doc["summary"]
    return proc.returncode, doc


def require(binary: str) -> None:
    if shutil.which(binary) is None:
        pytest.skip(f"not installed on this machine: {binary}")


# --- rootful --------------------------------------------------------------------------------


def test_rootful_podman_verdicts_match_the_host() -> None:
    require("podman")
    assert os.geteuid() == 0, "the rootful doctor test runs as root"
    _, doc = run_json([str(NESTKUBE), "doctor", "--provider", "podman", "--rootful"])
    f = by_id(doc)
    assert doc["provider"] == "podman" and doc["rootless"] is False
    version = subprocess.run(
        ["podman", "version", "--format", "{{.Client.Version}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert f["engine.present"]["status"] == "ok" and version in f["engine.present"]["summary"]
    assert f["engine.mode"]["status"] == "ok"

    mode = cgroup_mode()
    assert doc["host"]["cgroup"] == mode
    assert f["cgroup.version"]["status"] == ("ok" if mode == "v2" else "warn")
    if mode == "hybrid":
        assert "hybrid cgroups" in f["cgroup.version"]["summary"]

    missing = missing_capabilities()
    caps = f["host.capabilities"]
    if missing:
        # Podman asks only for what the host has: nothing to change, so ok with a note (#27).
        assert caps["status"] == "ok" and "nothing to change" in caps["fix"]["note"]
        for name in missing:
            assert name in caps["summary"]
    else:
        assert caps["status"] == "ok"

    oom = f["host.oom-score-adj"]
    if root_can_lower_oom_score_adj():
        assert oom["status"] == "ok"
    else:
        assert oom["status"] == "ok" and "cannot be lowered" in oom["summary"]
        assert "nothing to change" in oom["fix"]["note"]
        assert "restrict_oom_score_adj = true" in oom["summary"]

    nofile, nproc = hard_limits()
    rl = f["host.rlimits"]
    assert f"nofile={nofile}" in rl["summary"] and f"nproc={nproc}" in rl["summary"]
    if min(nofile, nproc) < ENGINE_RLIMIT:
        assert rl["status"] == "ok" and "--ulimit nofile=" in rl["summary"]
        assert "nothing to change" in rl["fix"]["note"]

    # No warning asks nothing of the user (issue #27).
    noise = [
        fid
        for fid, finding in f.items()
        if finding["status"] == "warn" and "nothing to change" in finding["fix"]["note"]
    ]
    assert noise == []

    # Rootless-only checks say so instead of judging a rootful setup.
    for cid in ("cgroup.delegation", "userns.subid", "device.tun", "device.fuse"):
        assert f[cid]["status"] == "skip"


def test_rootful_text_output_one_line_per_check() -> None:
    require("podman")
    proc = subprocess.run(
        [str(NESTKUBE), "doctor", "--provider", "podman", "--rootful"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    lines = proc.stdout.splitlines()
    checks = [ln for ln in lines[1:-1] if not ln.startswith(" ")]
    labels = {ln.split()[0] for ln in checks}
    assert labels <= {"ok", "WARN", "FAIL", "skip"}
    _, doc = run_json([str(NESTKUBE), "doctor", "--provider", "podman", "--rootful"])
    assert len(checks) == len(doc["findings"])
    assert proc.returncode == (1 if "FAIL" in labels else 0)


def test_docker_verdict_matches_daemon_state() -> None:
    require("docker")
    info = subprocess.run(
        ["docker", "info", "--format", "{{json .}}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    _, doc = run_json([str(NESTKUBE), "doctor", "--provider", "docker"])
    f = by_id(doc)
    data = json.loads(info.stdout) if info.stdout.strip().startswith("{") else {}
    if info.returncode != 0 or not data.get("ServerVersion"):
        assert f["engine.present"]["status"] == "fail"
        assert "info` failed" in f["engine.present"]["summary"]
        return
    assert f["engine.present"]["status"] == "ok"
    assert data["ServerVersion"] in f["engine.present"]["summary"]
    caps = f["host.capabilities"]
    if missing_capabilities():
        runtime = data.get("DefaultRuntime", "")
        if runtime in ("runc", "io.containerd.runc.v2"):
            assert caps["status"] == "fail" and "unable to apply caps" in caps["summary"]
            assert caps["fix"]["kind"] == "file"
        else:
            assert caps["status"] == "warn" and runtime in caps["summary"]


# --- rootless -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rootless_user() -> pwd.struct_passwd:
    require("podman")
    return ensure_rootless_user()


@pytest.fixture
def scratch_home(rootless_user: pwd.struct_passwd) -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="nestkube-doctor-home-"))
    os.chown(home, rootless_user.pw_uid, rootless_user.pw_gid)
    home.chmod(0o700)
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_rootless_podman_verdicts_match_the_host(
    rootless_user: pwd.struct_passwd, scratch_home: Path
) -> None:
    user, home = rootless_user.pw_name, scratch_home
    argv = [*nestkube_as(user, home), "doctor", "--provider", "podman", "--rootless"]
    rc, doc = run_json(argv, cwd=str(home))
    f = by_id(doc)
    assert doc["rootless"] is True and doc["user"]["uid"] == rootless_user.pw_uid
    assert doc["user"]["home"] == str(home)
    assert f["engine.present"]["status"] == "ok", f["engine.present"]
    assert f["engine.mode"]["status"] == "ok" and doc["engine"]["rootless"] is True

    mode = cgroup_mode()
    if mode != "v2":
        # No cgroup v2 means no delegation: a rootless kubelet cannot run on this host.
        assert f["cgroup.version"]["status"] == "fail"
        assert "rootless clusters cannot run here" in f["cgroup.version"]["summary"]
        fix = f["cgroup.version"]["fix"]
        init = Path("/proc/1/comm").read_text().strip()
        if init == "systemd":
            assert "systemd.unified_cgroup_hierarchy=1" in fix["command"], fix
        else:
            # Only systemd reads that kernel parameter: another PID 1 (a micro-VM's agent)
            # is named, and told to mount cgroup2 itself.
            assert fix["kind"] == "none" and init in fix["note"], fix
            assert "mount -t cgroup2" in fix["note"], fix
        assert f["cgroup.delegation"]["status"] == "skip"
        assert rc == 1

    # What scripts/ensure-rootless-user.sh set up.
    assert f["userns.subid"]["status"] == "ok", f["userns.subid"]
    assert f["device.tun"]["status"] == "ok", f["device.tun"]
    fuse_mode = os.stat("/dev/fuse").st_mode & 0o777 if os.path.exists("/dev/fuse") else 0
    if fuse_mode & 0o006 == 0o006:
        assert f["device.fuse"]["status"] == "ok"
    else:
        assert f["device.fuse"]["status"] in ("warn", "fail")
        assert "/dev/fuse" in f["device.fuse"]["summary"]

    missing = missing_capabilities()
    for name in missing:
        assert name in f["host.capabilities"]["summary"]
    oom = f["host.oom-score-adj"]
    assert oom["status"] == "ok" and "cannot be lowered" in oom["summary"]
    nofile, nproc = hard_limits()
    assert f"nofile={nofile} nproc={nproc}" in f["host.rlimits"]["summary"]


def _snapshot(home: Path) -> dict[str, tuple[bytes, int]]:
    """The files doctor --fix may write, with content and mtime (podman's own state aside)."""
    conf = home / ".config/containers"
    out: dict[str, tuple[bytes, int]] = {}
    for p in sorted(conf.glob("containers.conf*")) if conf.is_dir() else []:
        out[p.name] = (p.read_bytes(), p.stat().st_mtime_ns)
    return out


def test_rootless_fix_twice_changes_nothing_the_second_time(
    rootless_user: pwd.struct_passwd, scratch_home: Path
) -> None:
    argv = [*nestkube_as(rootless_user.pw_name, scratch_home), "doctor", "-p", "podman", "--fix"]
    _, first = run_json(argv, cwd=str(scratch_home))
    pids = by_id(first)["podman.pids-limit"]
    applied = first["fixes_applied"]
    if applied:
        assert applied == [
            {
                "id": "podman.pids-limit",
                "path": str(scratch_home / ".config/containers/containers.conf"),
                "changed": True,
                "backup": "",
            }
        ]
    assert pids["status"] == "ok"
    conf = scratch_home / ".config/containers/containers.conf"
    if applied:
        assert conf.stat().st_uid == rootless_user.pw_uid
        assert "pids_limit = 65536" in conf.read_text()
    before = _snapshot(scratch_home)

    _, second = run_json(argv, cwd=str(scratch_home))
    assert second["fixes_applied"] == []
    assert _snapshot(scratch_home) == before
    assert by_id(second)["podman.pids-limit"] == pids
