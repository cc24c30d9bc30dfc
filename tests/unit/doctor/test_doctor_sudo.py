"""`doctor --fix --sudo`: the root fixes that are drop-in files or allow-listed commands are
applied through sudo (non-interactively without a terminal); everything else stays printed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from doctor_fixtures import FakeHost, check, context

from nestkube import _exec
from nestkube.doctor.apply import apply_root_fixes, root_applicable
from nestkube.doctor.model import Finding, Fix
from nestkube.errors import CommandError, HostError


class Recorder:
    def __init__(self, fail: str = "") -> None:
        self.calls: list[tuple[list[str], str | None]] = []
        self.fail = fail

    def __call__(self, argv: list[str], **kw: Any) -> _exec.Result:
        self.calls.append((list(argv), kw.get("input")))
        if self.fail and self.fail in argv:
            raise CommandError(argv, 1, "", "sudo: a password is required")
        return _exec.Result(list(argv), 0, "", "")


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder()
    monkeypatch.setattr("nestkube.doctor.apply._exec.run", rec)
    return rec


def test_missing_iptables_modules_are_written_and_loaded_through_sudo(
    tmp_path: Path, recorder: Recorder
) -> None:
    h = FakeHost.healthy(tmp_path)
    h.proc_modules("ip_tables", "overlay")
    ctx = context(h, rootless=True)
    finding = check(ctx, "kernel.iptables-modules")
    assert finding.status == "fail" and root_applicable(finding.fix)
    applied = apply_root_fixes([finding], ctx)
    assert [a.changed for a in applied] == [True]
    argvs = [argv for argv, _ in recorder.calls]
    target = str(h.p(finding.fix.path))
    assert ["sudo", "-n", "tee", target] in argvs
    tee_input = next(i for argv, i in recorder.calls if argv[:3] == ["sudo", "-n", "tee"])
    assert tee_input == finding.fix.content
    # Then the reload the fix names, each part through sudo.
    assert argvs[-1][:2] == ["sudo", "-n"] and "systemd-modules-load.service" in argvs[-1]


def test_linger_command_runs_without_its_printed_sudo_twice(
    tmp_path: Path, recorder: Recorder
) -> None:
    h = FakeHost.healthy(tmp_path)
    fix = Fix("command", command="sudo loginctl enable-linger alice", needs_root=True)
    ctx = context(h, rootless=True)
    applied = apply_root_fixes([Finding("cgroup.delegation", "fail", "x", fix)], ctx)
    assert recorder.calls == [(["sudo", "-n", "loginctl", "enable-linger", "alice"], None)]
    assert applied[0].path == "loginctl enable-linger alice"


def test_a_terminal_lets_sudo_ask_for_the_password(tmp_path: Path, recorder: Recorder) -> None:
    fix = Fix("command", command="sudo modprobe -a ip6_tables", needs_root=True)
    ctx = context(FakeHost.healthy(tmp_path), rootless=True)
    apply_root_fixes([Finding("k", "warn", "x", fix)], ctx, interactive=True)
    assert recorder.calls[0][0] == ["sudo", "modprobe", "-a", "ip6_tables"]


def test_root_runs_the_fix_without_sudo(tmp_path: Path, recorder: Recorder) -> None:
    fix = Fix("command", command="modprobe -a ip6_tables", needs_root=True)
    ctx = context(FakeHost.healthy(tmp_path, uid=0), uid=0, rootless=False)
    apply_root_fixes([Finding("k", "warn", "x", fix)], ctx)
    assert recorder.calls[0][0] == ["modprobe", "-a", "ip6_tables"]


@pytest.mark.parametrize(
    "fix",
    [
        Fix("command", command="sudo grubby --update-kernel=ALL --args=x", needs_root=True),
        Fix("command", command="sudo apt-get install -y podman", needs_root=True),
        Fix("command", command="sudo loginctl enable-linger a && sudo reboot", needs_root=True),
        Fix("file", path="/etc/default/grub", content="x", needs_root=True),
        Fix("file", path="/etc/sysctl.d/../passwd", content="x", needs_root=True),
        Fix(
            "file", path="/etc/sysctl.d/x.conf", content="x", then="sudo rm -rf /", needs_root=True
        ),
        Fix("nix", content="x", needs_root=True),
    ],
)
def test_what_sudo_never_applies(fix: Fix, tmp_path: Path, recorder: Recorder) -> None:
    assert not root_applicable(fix)
    ctx = context(FakeHost.healthy(tmp_path), rootless=True)
    assert apply_root_fixes([Finding("k", "fail", "x", fix)], ctx) == []
    assert recorder.calls == []


def test_a_file_already_right_is_left_alone(tmp_path: Path, recorder: Recorder) -> None:
    h = FakeHost.healthy(tmp_path)
    h.write("/etc/sysctl.d/90-x.conf", "a = 1\n")
    fix = Fix("file", path="/etc/sysctl.d/90-x.conf", content="a = 1\n", needs_root=True)
    applied = apply_root_fixes([Finding("k", "warn", "x", fix)], context(h, rootless=True))
    assert [a.changed for a in applied] == [False] and recorder.calls == []


def test_an_existing_file_is_backed_up_first(tmp_path: Path, recorder: Recorder) -> None:
    h = FakeHost.healthy(tmp_path)
    old = h.write("/etc/sysctl.d/90-x.conf", "a = 0\n")
    fix = Fix("file", path="/etc/sysctl.d/90-x.conf", content="a = 1\n", needs_root=True)
    applied = apply_root_fixes([Finding("k", "warn", "x", fix)], context(h, rootless=True))
    assert recorder.calls[0][0] == [
        "sudo", "-n", "cp", "-p", "-n", str(old), str(old) + ".nestkube-backup"
    ]  # fmt: skip
    assert applied[0].backup == "/etc/sysctl.d/90-x.conf.nestkube-backup"


def test_sudo_refusing_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nestkube.doctor.apply._exec.run", Recorder(fail="loginctl"))
    fix = Fix("command", command="sudo loginctl enable-linger a", needs_root=True)
    ctx = context(FakeHost.healthy(tmp_path), rootless=True)
    with pytest.raises(HostError, match="could not apply a root fix"):
        apply_root_fixes([Finding("k", "fail", "x", fix)], ctx)


def test_the_report_says_a_command_ran_and_a_file_was_updated(tmp_path: Path) -> None:
    from nestkube.doctor.apply import Applied
    from nestkube.doctor.render import text_report

    ctx = context(FakeHost.healthy(tmp_path), rootless=True)
    applied = [
        Applied("cgroup.delegation", "loginctl enable-linger alice", True),
        Applied("sysctl.inotify", "/etc/sysctl.d/90-nestkube-inotify.conf", True),
    ]
    text = text_report(ctx, [], applied, fix_requested=True)
    assert "fixed cgroup.delegation: ran loginctl enable-linger alice" in text
    assert "fixed sysctl.inotify: updated /etc/sysctl.d/90-nestkube-inotify.conf" in text


def test_sudo_without_fix_is_a_usage_error() -> None:
    from typer.testing import CliRunner

    import nestkube.cli.main  # noqa: F401  (attaches the commands)
    from nestkube.cli import groups

    result = CliRunner().invoke(groups.app, ["doctor", "--sudo"])
    assert result.exit_code == 2
    assert "--sudo" in result.output
