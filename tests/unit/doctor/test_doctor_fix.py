"""Podman's pids_limit and `--fix`: only the user's own containers.conf, idempotent, reversible."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from doctor_fixtures import HOME, FakeHost, check, context, podman_info

from nestkube.doctor import diagnose
from nestkube.doctor.apply import apply_fixes, merge_toml
from nestkube.errors import HostError

USER_CONF = f"{HOME}/.config/containers/containers.conf"


def _snapshot(root: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file under root with its content, mode and mtime (ns)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            st = p.stat()
            out[str(p.relative_to(root))] = (p.read_bytes(), st.st_mode, st.st_mtime_ns)
    return out


def test_pids_limit_default_warns_and_is_auto_fixable(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.remove(USER_CONF)
    f = check(context(h), "podman.pids-limit")
    assert f.status == "warn"
    assert "pids_limit = 2048 (Podman's built-in default)" in f.summary
    assert f.auto_fixable
    assert f.fix.kind == "file" and f.fix.action == "merge" and f.fix.path == USER_CONF
    assert f.fix.content == "[containers]\npids_limit = 65536\n"
    assert not f.fix.needs_root


def test_pids_limit_later_files_win(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.write("/usr/share/containers/containers.conf", "[containers]\npids_limit = 2048\n")
    h.write("/etc/containers/containers.conf", "[containers]\npids_limit = 100\n")
    h.write(USER_CONF, "[containers]\npids_limit = 70000\n")
    f = check(context(h), "podman.pids-limit")
    assert f.status == "ok" and f"pids_limit = 70000 ({USER_CONF})" in f.summary
    h.write("/etc/containers/containers.conf.d/50-low.conf", "[containers]\npids_limit = 4096\n")
    h.remove(USER_CONF)
    f = check(context(h), "podman.pids-limit")
    assert f.status == "warn" and "/etc/containers/containers.conf.d/50-low.conf" in f.summary


def test_pids_limit_root_is_not_auto_fixable(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    f = check(context(h, uid=0, info=podman_info(rootless=False)), "podman.pids-limit")
    assert f.status == "warn" and not f.auto_fixable
    assert f.fix.path == "/etc/containers/containers.conf" and f.fix.needs_root


def test_pids_limit_containers_conf_env_is_the_only_file(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.write("/tmp/custom.conf", "[containers]\npids_limit = 512\n")
    ctx = context(h, env={"CONTAINERS_CONF": "/tmp/custom.conf"})
    f = check(ctx, "podman.pids-limit")
    assert f.status == "warn" and "512 (/tmp/custom.conf)" in f.summary
    # Outside the home: printed, not applied.
    assert not f.auto_fixable


def test_pids_limit_skipped_for_docker(tmp_path: Path) -> None:
    ctx = context(FakeHost.healthy(tmp_path), provider="docker", info={"ServerVersion": "24.0"})
    assert check(ctx, "podman.pids-limit").status == "skip"


def test_fix_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.remove(USER_CONF)
    ctx = context(h)
    first = diagnose(context=ctx, fix=True)
    assert [(a.finding_id, a.changed) for a in first.applied] == [("podman.pids-limit", True)]
    conf = h.p(USER_CONF)
    assert tomllib.loads(conf.read_text())["containers"]["pids_limit"] == 65536
    # After the fix the report is re-run on the new state.
    after = {f.id: f for f in first.findings}
    assert after["podman.pids-limit"].status == "ok"
    before = _snapshot(tmp_path)

    second = diagnose(context=context(h), fix=True)
    assert second.applied == []
    assert _snapshot(tmp_path) == before


def test_fix_keeps_comments_and_other_keys_and_backs_up_once(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    original = (
        "# my settings\n[containers]\n# lower for my laptop\npids_limit = 1024\n"
        'log_driver = "k8s-file"\n\n[engine]\ncgroup_manager = "cgroupfs"\n'
    )
    h.write(USER_CONF, original, 0o600)
    findings = diagnose(context=context(h)).findings
    applied = apply_fixes(findings, context(h))
    assert applied[0].changed and applied[0].backup == USER_CONF + ".nestkube-backup"
    text = h.p(USER_CONF).read_text()
    assert text == original.replace("pids_limit = 1024", "pids_limit = 65536")
    assert h.p(USER_CONF + ".nestkube-backup").read_text() == original
    assert h.p(USER_CONF).stat().st_mode & 0o777 == 0o600
    # A second run leaves both files alone.
    snap = _snapshot(tmp_path)
    assert apply_fixes(diagnose(context=context(h)).findings, context(h)) == []
    assert _snapshot(tmp_path) == snap


def test_merge_adds_key_to_table_or_table_to_file(tmp_path: Path) -> None:
    conf = tmp_path / "c.conf"
    conf.write_text('[containers]\nlog_driver = "journald"\n[network]\nx = 1\n')
    assert merge_toml(conf, "[containers]\npids_limit = 65536\n")[0]
    data = tomllib.loads(conf.read_text())
    assert data["containers"] == {"log_driver": "journald", "pids_limit": 65536}
    assert data["network"] == {"x": 1}
    other = tmp_path / "d.conf"
    other.write_text('[engine]\nevents_logger = "file"')
    merge_toml(other, "[containers]\npids_limit = 65536\n")
    assert tomllib.loads(other.read_text())["engine"] == {"events_logger": "file"}
    assert merge_toml(other, "[containers]\npids_limit = 65536\n") == (False, "")


def test_merge_refuses_invalid_toml(tmp_path: Path) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text("[containers\npids_limit = \n")
    with pytest.raises(HostError, match="not valid TOML"):
        merge_toml(conf, "[containers]\npids_limit = 65536\n")
    assert conf.read_text() == "[containers\npids_limit = \n"


def test_fix_refuses_paths_outside_home(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.remove(USER_CONF)
    ctx = context(h)
    f = check(ctx, "podman.pids-limit")
    import dataclasses

    sneaky = dataclasses.replace(f, fix=dataclasses.replace(f.fix, path="/etc/passwd"))
    with pytest.raises(HostError, match="refusing to auto-fix"):
        apply_fixes([sneaky], ctx)
    assert "alice" in h.p("/etc/passwd").read_text()


def test_fix_never_touches_root_only_fixes(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.sysctl("fs.inotify.max_user_watches", 8192)
    h.remove(USER_CONF)
    report = diagnose(context=context(h), fix=True)
    assert [a.finding_id for a in report.applied] == ["podman.pids-limit"]
    assert not h.p("/etc/sysctl.d").exists()
    assert {f.id: f.status for f in report.findings}["sysctl.inotify"] == "warn"
