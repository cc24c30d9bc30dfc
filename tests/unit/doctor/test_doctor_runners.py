"""runners.helm: skipped without runner definitions, a warning (never a failure) without helm."""

from __future__ import annotations

from pathlib import Path

from doctor_fixtures import HOME, FakeHost, check, context

RUNNERS = f"{HOME}/.config/nestkube/runners.yaml"


def test_skipped_when_no_runners_are_defined(tmp_path: Path) -> None:
    finding = check(context(FakeHost.healthy(tmp_path)), "runners.helm")
    assert finding.status == "skip"
    assert RUNNERS in finding.summary


def test_warns_with_a_go_install_fix_on_debian_when_runners_exist(tmp_path: Path) -> None:
    host = FakeHost.healthy(tmp_path)
    host.write(RUNNERS, "apiVersion: nestkube.io/v1alpha1\nkind: RunnerSet\n")
    finding = check(context(host), "runners.helm")
    assert finding.status == "warn"
    assert "helm is not on PATH" in finding.summary
    assert finding.fix.command == "go install helm.sh/helm/v3/cmd/helm@v3.22.0"
    assert not finding.fix.needs_root


def test_fix_uses_the_package_manager_where_helm_is_packaged(tmp_path: Path) -> None:
    host = FakeHost.healthy(tmp_path)
    host.os_release(ID="fedora", NAME="Fedora")
    host.write(RUNNERS, "")
    finding = check(context(host), "runners.helm")
    assert finding.fix.command == "sudo dnf install -y helm"


def test_runners_file_follows_xdg_config_home(tmp_path: Path) -> None:
    host = FakeHost.healthy(tmp_path)
    host.write("/srv/cfg/nestkube/runners.yaml", "")
    finding = check(context(host, env={"XDG_CONFIG_HOME": "/srv/cfg"}), "runners.helm")
    assert finding.status == "warn"
    assert "/srv/cfg/nestkube/runners.yaml" in finding.summary


def test_ok_when_helm_is_on_path(tmp_path: Path) -> None:
    host = FakeHost.healthy(tmp_path)
    host.write(RUNNERS, "")
    host.binary("helm", "/usr/local/bin")
    finding = check(context(host), "runners.helm")
    assert finding.status == "ok"
    assert finding.summary == "helm at /usr/local/bin/helm"


def test_nestkube_helm_is_looked_at_first_as_runners_do(tmp_path: Path) -> None:
    host = FakeHost.healthy(tmp_path)
    host.write(RUNNERS, "")
    host.write("/opt/helm/helm", "")
    finding = check(context(host, env={"NESTKUBE_HELM": "/opt/helm/helm"}), "runners.helm")
    assert (finding.status, finding.summary) == ("ok", "helm at /opt/helm/helm ($NESTKUBE_HELM)")
    missing = check(context(host, env={"NESTKUBE_HELM": "/nowhere/helm"}), "runners.helm")
    assert missing.status == "warn"
    assert "$NESTKUBE_HELM names /nowhere/helm, which does not exist" in missing.summary
