"""Restricted hosts: capabilities, oom_score_adj, rlimits, the OCI runtime; and resources."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import pytest
from doctor_fixtures import GIB, FakeHost, check, context, docker_info, facts, podman_info

from nestkube.doctor.checks.host import CAPFILTER_PATH, capability_filter

# CapBnd of a host lacking CAP_SYS_RESOURCE (bit 24), as seen on this project's CI VMs.
NO_SYS_RESOURCE = "000001fffeffffff"


def _restricted(tmp_path: Path) -> FakeHost:
    h = FakeHost.healthy(tmp_path)
    h.capbnd(NO_SYS_RESOURCE)
    h.binary("docker")
    return h


def test_full_bounding_set_ok(tmp_path: Path) -> None:
    f = check(context(FakeHost.healthy(tmp_path)), "host.capabilities")
    assert f.status == "ok"


def test_missing_capability_with_podman_is_explained(tmp_path: Path) -> None:
    h = _restricted(tmp_path)
    ctx = context(h, uid=0, info=podman_info(rootless=False))
    assert ctx.host.missing_capabilities == {"CAP_SYS_RESOURCE"}
    f = check(ctx, "host.capabilities")
    # Nothing for the user to change: ok, with the note saying so (issue #27).
    assert f.status == "ok" and "nothing to change" in f.fix.note
    assert "CAP_SYS_RESOURCE missing from the bounding set" in f.summary
    assert "podman --privileged asks only for capabilities the host has" in f.summary


def test_missing_capability_with_docker_and_runc_fails_with_wrapper(tmp_path: Path) -> None:
    h = _restricted(tmp_path)
    ctx = context(h, provider="docker", info=docker_info(), uid=0)
    f = check(ctx, "host.capabilities")
    assert f.status == "fail"
    assert "unable to apply caps" in f.summary and "runtime wrapper" in f.summary
    assert f.fix.kind == "file" and f.fix.path == CAPFILTER_PATH
    assert "CAP_SYS_RESOURCE" in f.fix.content
    assert f.fix.content.startswith("#!/bin/sh\n")
    assert "--default-runtime nestkube-runc" in f.fix.then


def test_missing_capability_with_docker_wrapper_runtime_warns(tmp_path: Path) -> None:
    h = _restricted(tmp_path)
    info = docker_info(runtime="nestkube-capfilter")
    f = check(context(h, provider="docker", info=info, uid=0), "host.capabilities")
    assert f.status == "warn" and "default runtime is nestkube-capfilter" in f.summary


def test_capability_filter_script_drops_caps(tmp_path: Path) -> None:
    """The wrapper really removes the capability the bounding set lacks and then runs the
    runtime it names."""
    fake_runc = tmp_path / "runc"
    fake_runc.write_text('#!/bin/sh\necho "runc $*"\n')
    fake_runc.chmod(0o755)
    wrapper = tmp_path / "wrapper"
    wrapper.write_text(capability_filter(str(fake_runc)))
    wrapper.chmod(0o755)
    status = tmp_path / "status"
    status.write_text(f"CapBnd:\t{NO_SYS_RESOURCE}\n")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    caps = ["CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_SYS_ADMIN"]
    import json

    (bundle / "config.json").write_text(
        json.dumps({"process": {"capabilities": {"bounding": caps, "effective": caps}}})
    )
    env = {**os.environ, "NESTKUBE_PROC_STATUS": str(status)}
    env.pop("NESTKUBE_RUNC", None)
    out = subprocess.run(
        [str(wrapper), "create", "--bundle", str(bundle), "c1"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    assert out.stdout.strip() == f"runc create --bundle {bundle} c1"
    spec = json.loads((bundle / "config.json").read_text())
    assert spec["process"]["capabilities"]["bounding"] == ["CAP_CHOWN", "CAP_SYS_ADMIN"]
    assert spec["process"]["capabilities"]["effective"] == ["CAP_CHOWN", "CAP_SYS_ADMIN"]


def test_oom_cannot_be_lowered_as_root(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    ctx = context(h, uid=0, info=podman_info(rootless=False), host_facts=facts(h, uid=0, oom=False))
    f = check(ctx, "host.oom-score-adj")
    assert f.status == "ok" and "cannot be lowered, even by root" in f.summary
    assert "nothing to change" in f.fix.note
    assert "restrict_oom_score_adj = true" in f.summary


def test_oom_as_user_is_expected(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    f = check(context(h, host_facts=facts(h, oom=False)), "host.oom-score-adj")
    assert f.status == "ok" and "normal for a non-root user" in f.summary
    f = check(context(h), "host.oom-score-adj")
    assert f.status == "ok" and f.summary == "oom_score_adj can be lowered"


def test_rlimits_low_explains_ulimit_flags(tmp_path: Path) -> None:
    """Rootful Podman as root whose CAP_SYS_RESOURCE does not work (this project's CI host):
    the limits bite, and nestkube's --ulimit flags are the way round them."""
    h = FakeHost.healthy(tmp_path)
    low = facts(h, uid=0, nofile=20000, nproc=96364, oom=False)
    f = check(context(h, uid=0, host_facts=low), "host.rlimits")
    assert f.status == "ok" and "nothing to change" in f.fix.note
    assert "hard limits nofile=20000 nproc=96364" in f.summary
    assert "not raisable here" in f.summary
    assert "--ulimit nofile=" in f.summary and "--ulimit nproc=" in f.summary


def test_rlimits_too_low_fails_and_high_ok(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    f = check(context(h, host_facts=facts(h, nofile=1024)), "host.rlimits")
    assert f.status == "fail" and "nofile=1024" in f.summary
    assert check(context(h), "host.rlimits").status == "ok"


def _hybrid(h: FakeHost) -> None:
    h.remove("/sys/fs/cgroup/cgroup.controllers")
    h.cgroup_hybrid()


def test_crun_on_hybrid_uses_runc(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    _hybrid(h)
    ctx = context(h, uid=0, info=podman_info(rootless=False, runtime="crun", cgroup="v1"))
    f = check(ctx, "host.oci-runtime")
    assert f.status == "ok" and "nothing to change" in f.fix.note
    assert "crun refuses hybrid cgroups; nestkube passes --runtime runc" in f.summary


def test_crun_on_hybrid_without_runc_fails(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    _hybrid(h)
    h.remove("/usr/bin/runc")
    ctx = context(h, uid=0, info=podman_info(rootless=False, runtime="crun", cgroup="v1"))
    f = check(ctx, "host.oci-runtime")
    assert f.status == "fail" and f.fix.command == "apt-get install -y runc"


def test_runtime_ok_on_v2(tmp_path: Path) -> None:
    f = check(context(FakeHost.healthy(tmp_path)), "host.oci-runtime")
    assert f.status == "ok" and f.summary == "podman uses crun"


@pytest.mark.parametrize(
    ("nodes", "total", "avail", "status"),
    [
        (1, 16, 12, "ok"),
        (3, 16, 12, "ok"),
        (3, 3, 3, "fail"),
        (3, 8, 3, "warn"),
        (1, 1, 1, "fail"),
    ],
)
def test_memory(tmp_path: Path, nodes: int, total: int, avail: int, status: str) -> None:
    h = FakeHost.healthy(tmp_path)
    h.meminfo(total * GIB, avail * GIB)
    f = check(context(h, nodes=nodes), "resources.memory")
    assert f.status == status
    need = 2 + (nodes - 1)
    assert f"{need:.1f} GiB" in f.summary


def test_disk(tmp_path: Path) -> None:
    ctx = context(FakeHost.healthy(tmp_path), nodes=2)
    low = dataclasses.replace(ctx, disk_free=5 * GIB)
    f = check(low, "resources.disk")
    assert f.status == "fail" and "2 nodes need about 6.0 GiB" in f.summary
    assert "podman system prune" in f.fix.note
    ok = dataclasses.replace(ctx, disk_free=50 * GIB)
    assert check(ok, "resources.disk").status == "ok"
    # The data dir that is measured is the engine's own.
    assert ctx.data_dir == "/home/alice/.local/share/containers/storage"
