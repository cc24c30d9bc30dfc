"""preflight() for `create cluster`, raise_on_failures, the renderers and the CLI."""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any

import pytest
from doctor_fixtures import (
    HOME,
    FakeHost,
    FakeRunner,
    ForbiddenRunner,
    docker_info,
    facts,
    podman_info,
)
from typer.testing import CliRunner

import nestkube.cli.main  # attaches every command to the app
import nestkube.doctor
import nestkube.doctor.context as doctor_context
from nestkube.cli import groups
from nestkube.doctor import (
    CHECKS,
    PreflightError,
    diagnose,
    json_report,
    preflight,
    raise_on_failures,
    text_report,
)
from nestkube.doctor.checks import PREFLIGHT
from nestkube.errors import HostError
from nestkube.host import probe_host
from nestkube.providers.base import ProviderInfo, ProviderName

ENV = {"HOME": HOME, "PATH": "/usr/bin"}


def _info(
    h: FakeHost, *, name: ProviderName = "podman", rootless: bool = True, **kw: Any
) -> ProviderInfo:
    uid = 1000 if rootless else 0
    return ProviderInfo(
        name,
        f"/usr/bin/{name}",
        "4.9.3" if name == "podman" else "24.0.7",
        rootless,
        facts(h, uid=uid, **kw),
    )


@pytest.fixture
def no_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if preflight tries to run anything."""
    monkeypatch.setattr(doctor_context, "default_runner", lambda env=None: ForbiddenRunner())

    def _boom(*a: object, **k: object) -> None:
        raise AssertionError("preflight must not run commands")

    monkeypatch.setattr(doctor_context, "run", _boom)
    monkeypatch.setattr(doctor_context, "fetch", _boom)


@pytest.mark.usefixtures("no_commands")
def test_preflight_healthy_runs_only_its_checks(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    findings = preflight(_info(h), nodes=1, host_ports=[], root=tmp_path, env=ENV)
    assert [f.id for f in findings] == [c for c in CHECKS if c in PREFLIGHT]
    assert not [f for f in findings if f.status == "fail"]
    raise_on_failures(findings)  # nothing to raise


@pytest.mark.usefixtures("no_commands")
def test_preflight_hybrid_rootless_fails_fast_with_the_same_words(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.remove("/sys/fs/cgroup/cgroup.controllers")
    h.cgroup_hybrid("hugetlb")
    findings = preflight(_info(h), nodes=1, host_ports=[80], root=tmp_path, env=ENV)
    failed = {f.id: f for f in findings if f.status == "fail"}
    assert set(failed) == {"cgroup.version", "sysctl.unprivileged-ports"}
    with pytest.raises(HostError) as err:
        raise_on_failures(findings)
    msg = str(err.value)
    assert msg.startswith(failed["cgroup.version"].summary)
    assert "[cgroup.version]" in msg and "fix: " in msg
    assert "systemd.unified_cgroup_hierarchy=1" in msg
    assert "also failing: sysctl.unprivileged-ports" in msg
    assert "\n" not in msg
    assert isinstance(err.value, PreflightError)
    assert [f.id for f in err.value.findings] == ["cgroup.version", "sysctl.unprivileged-ports"]
    assert "net.ipv4.ip_unprivileged_port_start = 80" in err.value.detail


@pytest.mark.usefixtures("no_commands")
def test_preflight_docker_capabilities_need_engine_info_to_fail(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.capbnd("000001fffeffffff")
    info = _info(h, name="docker", rootless=False)
    env = {"HOME": "/root", "PATH": "/usr/bin"}
    by_id = {f.id: f for f in preflight(info, nodes=1, root=tmp_path, env=env)}
    assert by_id["host.capabilities"].status == "warn"
    assert "could not tell which runtime" in by_id["host.capabilities"].summary
    with_info = preflight(info, nodes=1, root=tmp_path, env=env, engine_info=docker_info())
    caps = {f.id: f for f in with_info}["host.capabilities"]
    assert caps.status == "fail"
    with pytest.raises(HostError, match="unable to apply caps"):
        raise_on_failures(with_info)


def test_preflight_on_this_host_is_fast() -> None:
    info = ProviderInfo("podman", "podman", "4.3.1", False, probe_host(probe_oom=False))
    start = time.monotonic()
    findings = preflight(info, nodes=3, host_ports=[80, 443])
    assert time.monotonic() - start < 1.0
    assert {f.id for f in findings} == set(PREFLIGHT)


def test_text_report_layout(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.sysctl("fs.inotify.max_user_watches", 8192)
    h.remove(f"{HOME}/.config/containers/containers.conf")
    runner = FakeRunner()
    runner.add(["systemctl", "--version"], "systemd 255\n")
    report = diagnose(
        provider="podman",
        root=tmp_path,
        env=ENV,
        runner=_podman_runner(runner, podman_info()),
        host=facts(h),
    )
    text = text_report(report.context, report.findings)
    lines = text.splitlines()
    assert lines[0] == "nestkube doctor: podman (rootless) as alice (uid 1000)"
    check_lines = [ln for ln in lines[1:-1] if not ln.startswith(" ")]
    assert len(check_lines) == len(CHECKS)
    inotify = next(i for i, ln in enumerate(lines) if " sysctl.inotify " in ln)
    assert lines[inotify].startswith("WARN  ")
    assert lines[inotify + 1].strip() == (
        "fix: write /etc/sysctl.d/90-nestkube-inotify.conf (as root):"
    )
    assert lines[inotify + 2].strip() == "fs.inotify.max_user_watches = 524288"
    assert lines[inotify + 3].strip() == "then: sudo sysctl --system"
    assert "[nestkube doctor --fix applies this]" in text
    assert lines[-1] == "23 ok, 2 warn, 0 fail, 3 skip"


def _podman_runner(runner: FakeRunner, info: dict[str, Any]) -> FakeRunner:
    runner.add(["podman", "info", "--format", "json"], json.dumps(info))
    return runner


def _cli(
    monkeypatch: pytest.MonkeyPatch, h: FakeHost, info: dict[str, Any], uid: int = 1000
) -> None:
    """Point the CLI's doctor at the fixture host."""
    runner = _podman_runner(FakeRunner(), info)
    runner.add(["systemctl", "--version"], "systemd 255\n")
    env = {"HOME": HOME if uid else "/root", "PATH": "/usr/bin"}
    patched = functools.partial(
        diagnose, root=h.root, env=env, runner=runner, host=facts(h, uid=uid)
    )
    # The command imports the doctor when it runs, so the package attribute is what it finds.
    monkeypatch.setattr(nestkube.doctor, "diagnose", patched)


def test_cli_json_shape_and_exit_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    h = FakeHost.healthy(tmp_path)
    _cli(monkeypatch, h, podman_info())
    result = CliRunner().invoke(groups.app, ["doctor", "-o", "json", "--nodes", "2"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) >= {"nestkube_version", "provider", "rootless", "findings", "summary"}
    assert doc["provider"] == "podman" and doc["rootless"] is True
    assert doc["summary"] == {"ok": 25, "warn": 0, "fail": 0, "skip": 3}
    assert set(doc["summary"]) == {"ok", "warn", "fail", "skip"}
    assert sum(doc["summary"].values()) == len(doc["findings"]) == len(CHECKS)
    for f in doc["findings"]:
        assert set(f) == {"id", "status", "summary", "fix", "auto_fixable"}
        assert f["status"] in ("ok", "warn", "fail", "skip")
        assert f["fix"]["kind"] in ("command", "file", "nix", "none")
        assert isinstance(f["auto_fixable"], bool)


def test_cli_exit_one_on_failure_and_fix_shapes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = FakeHost.healthy(tmp_path)
    h.delegate("cpuset io memory pids")
    h.write("/etc/subuid", "")
    _cli(monkeypatch, h, podman_info())
    result = CliRunner().invoke(groups.app, ["doctor", "--rootless", "-o", "json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    by_id = {f["id"]: f for f in doc["findings"]}
    deleg = by_id["cgroup.delegation"]
    assert deleg["status"] == "fail"
    assert deleg["fix"] == {
        "kind": "file",
        "path": "/etc/systemd/system/user@.service.d/delegate.conf",
        "content": "[Service]\nDelegate=yes\n",
        "action": "write",
        "then": "sudo systemctl daemon-reload",
        "needs_root": True,
        "note": deleg["fix"]["note"],
    }
    assert by_id["userns.subid"]["fix"]["kind"] == "command"
    assert by_id["userns.subid"]["fix"]["command"].startswith("sudo usermod --add-subuids")
    assert doc["summary"]["fail"] == 2


def test_cli_text_fix_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    h = FakeHost.healthy(tmp_path)
    h.remove(f"{HOME}/.config/containers/containers.conf")
    _cli(monkeypatch, h, podman_info())
    first = CliRunner().invoke(groups.app, ["doctor", "--fix"])
    assert first.exit_code == 0, first.output
    assert f"fixed podman.pids-limit: updated {HOME}/.config/containers/containers.conf" in (
        first.stdout
    )
    second = CliRunner().invoke(groups.app, ["doctor", "--fix", "-o", "json"])
    assert json.loads(second.stdout)["fixes_applied"] == []
    third = CliRunner().invoke(groups.app, ["doctor", "--fix"])
    assert third.stdout.splitlines()[1].startswith("--fix: nothing safe to apply here")


def test_cli_nixos_fix_kind_in_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    h = FakeHost.healthy(tmp_path)
    h.nixos()
    h.sysctl("fs.inotify.max_user_watches", 8192)
    _cli(monkeypatch, h, podman_info())
    doc = json.loads(CliRunner().invoke(groups.app, ["doctor", "-o", "json"]).stdout)
    fix = {f["id"]: f for f in doc["findings"]}["sysctl.inotify"]["fix"]
    assert fix["kind"] == "nix" and fix["snippet"].startswith("boot.kernel.sysctl = {")
    assert fix["then"] == "sudo nixos-rebuild switch"
    assert doc["host"]["nixos"] is True


def test_cli_rejects_bad_options() -> None:
    result = CliRunner().invoke(groups.app, ["doctor", "--provider", "lxc"])
    assert result.exit_code == 2
    result = CliRunner().invoke(groups.app, ["doctor", "-o", "yaml"])
    assert result.exit_code == 2


def test_json_report_is_json_serialisable(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    runner = _podman_runner(FakeRunner(), podman_info())
    report = diagnose(provider="podman", root=tmp_path, env=ENV, runner=runner, host=facts(h))
    doc = json_report(report.context, report.findings)
    assert json.loads(json.dumps(doc)) == doc
    assert doc["schema_version"] == 1
