"""Engine checks (present, version, mode, endpoint), the healthy baseline and NixOS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from doctor_fixtures import (
    HOME,
    FakeHost,
    FakeRunner,
    check,
    context,
    docker_down,
    docker_info,
    nerdctl_info,
    podman_info,
)

from nestkube.doctor import count, run_checks
from nestkube.providers.facts import parse_version


def test_healthy_rootless_podman_host_passes_everything(tmp_path: Path) -> None:
    ctx = context(FakeHost.healthy(tmp_path))
    findings = run_checks(ctx)
    bad = [f for f in findings if f.status in ("warn", "fail")]
    assert bad == []
    assert ctx.rootless is True
    assert count(findings)["fail"] == 0
    skipped = {f.id for f in findings if f.status == "skip"}
    # Nothing here is on ZFS and no low host port was asked for.
    # No runner definitions on the fixture host, so helm is not asked for.
    assert skipped == {"storage.zfs", "sysctl.unprivileged-ports", "runners.helm"}


def test_no_engine_binary_fails_with_install_command(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.remove("/usr/bin/podman")
    ctx = context(h, provider=None, info=None)
    f = check(ctx, "engine.present")
    assert f.status == "fail"
    assert "no container engine on PATH" in f.summary
    assert f.fix.kind == "command"
    assert f.fix.command == "sudo apt-get install -y podman"


def test_named_engine_missing_says_which(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.os_release(ID="fedora", PRETTY_NAME="Fedora Linux 40")
    ctx = context(h, provider="docker", info=None)
    f = check(ctx, "engine.present")
    assert f.status == "fail" and f.summary == "no docker on PATH"
    assert f.fix.command == "sudo dnf install -y moby-engine"


def test_auto_detect_picks_first_engine_that_answers(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.binary("docker")
    runner = FakeRunner()
    runner.add(["podman", "info", "--format", "json"], "", rc=125, stderr="boom")
    runner.add(["docker", "info", "--format", "{{json .}}"], json.dumps(docker_info()))
    ctx = context(h, provider=None, info=None, runner=runner)
    assert ctx.provider == "docker"
    assert ctx.requested_provider is False
    assert check(ctx, "engine.present").status == "ok"


def test_docker_daemon_down_fails_with_start_command(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.binary("docker")
    runner = FakeRunner()
    runner.add(["docker", "info", "--format", "{{json .}}"], json.dumps(docker_down()), rc=1)
    ctx = context(h, provider="docker", info=None, runner=runner, uid=0)
    f = check(ctx, "engine.present")
    assert f.status == "fail"
    assert "Cannot connect to the Docker daemon" in f.summary
    assert f.fix.command == "systemctl enable --now docker"
    # Without systemd the daemon has to be started by hand.
    h.remove("/run/systemd/system/.keep")
    h.p("/run/systemd/system").rmdir()
    ctx = context(h, provider="docker", info=None, runner=runner, uid=0)
    assert check(ctx, "engine.present").fix.command.startswith("dockerd ")


def test_podman_info_error_is_reported(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    runner = FakeRunner()
    runner.add(
        ["podman", "info", "--format", "json"],
        rc=125,
        stderr='Error: cannot set up namespace using "/usr/bin/newuidmap": exit status 1\n',
    )
    ctx = context(h, fetch=True, runner=runner)
    f = check(ctx, "engine.present")
    assert f.status == "fail" and "newuidmap" in f.summary
    assert runner.calls[0] == ["/usr/bin/podman", "info", "--format", "json"]


@pytest.mark.parametrize(
    ("rootless", "status"),
    [(True, "fail"), (False, "warn")],
)
def test_old_podman(tmp_path: Path, rootless: bool, status: str) -> None:
    h = FakeHost.healthy(tmp_path)
    ctx = context(h, info=podman_info(version="2.2.1", rootless=rootless), uid=UID_FOR[rootless])
    f = check(ctx, "engine.version")
    assert f.status == status
    assert "older than 3.0" in f.summary


UID_FOR = {True: 1000, False: 0}


def test_old_docker_rootless_fails_and_new_passes(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    ctx = context(h, provider="docker", info=docker_info(rootless=True, version="19.03.15"))
    assert check(ctx, "engine.version").status == "fail"
    ctx = context(h, provider="docker", info=docker_info(rootless=True, version="20.10.24+dfsg1"))
    assert check(ctx, "engine.version").status == "ok"


def test_nerdctl_versions(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    old = context(h, provider="nerdctl", info=nerdctl_info(client="v1.6.2"))
    assert check(old, "engine.version").status == "fail"
    old_containerd = context(h, provider="nerdctl", info=nerdctl_info(containerd="v1.6.28"))
    f = check(old_containerd, "engine.version")
    assert f.status == "fail" and "containerd v1.6.28" in f.summary
    good = context(h, provider="nerdctl", info=nerdctl_info())
    assert check(good, "engine.version").status == "ok"
    assert good.rootless is True


def test_docker_rootless_read_from_security_options(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    ctx = context(h, provider="docker", info=docker_info(rootless=True))
    assert ctx.engine.rootless is True and ctx.rootless is True
    ctx = context(h, provider="docker", info=docker_info(rootless=False), uid=0)
    assert ctx.engine.rootless is False and ctx.rootless is False


def test_rootless_asked_but_docker_is_rootful(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    ctx = context(h, provider="docker", info=docker_info(rootless=False), rootless=True)
    f = check(ctx, "engine.mode")
    assert f.status == "fail" and "reports it is rootful" in f.summary
    assert "DOCKER_HOST=unix://$XDG_RUNTIME_DIR/docker.sock" in f.fix.command


def test_rootless_asked_as_root(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    ctx = context(h, info=podman_info(rootless=False), rootless=True, uid=0)
    f = check(ctx, "engine.mode")
    assert f.status == "fail" and "runs as root" in f.summary


def test_rootful_asked_but_engine_rootless(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    ctx = context(h, info=podman_info(rootless=True), rootless=False)
    f = check(ctx, "engine.mode")
    assert f.status == "fail" and "rootful mode asked for" in f.summary


def test_docker_endpoint_from_context_and_env(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.binary("docker")
    h.docker_context("rootless", "unix:///run/user/1000/docker.sock")
    h.write("/run/user/1000/docker.sock", "")
    info = docker_info(rootless=True)
    f = check(context(h, provider="docker", info=info), "engine.endpoint")
    assert f.status == "ok"
    assert f.summary == "docker context rootless -> unix:///run/user/1000/docker.sock"

    env = {"DOCKER_HOST": "unix:///run/user/1000/docker.sock", "DOCKER_CONTEXT": "other"}
    f = check(context(h, provider="docker", info=info, env=env), "engine.endpoint")
    assert f.status == "warn" and "overrides DOCKER_CONTEXT=other" in f.summary

    env = {"DOCKER_HOST": "tcp://10.0.0.5:2376"}
    f = check(context(h, provider="docker", info=info, env=env), "engine.endpoint")
    assert f.status == "warn" and "remote daemon" in f.summary


def test_docker_socket_missing(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.binary("docker")
    f = check(context(h, provider="docker", info=docker_info(), uid=0), "engine.endpoint")
    assert f.status == "warn"
    assert "/var/run/docker.sock does not exist" in f.summary


def test_podman_container_host_is_remote(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    env = {"CONTAINER_HOST": "ssh://core@10.0.0.9/run/podman/podman.sock"}
    f = check(context(h, env=env), "engine.endpoint")
    assert f.status == "warn" and "remote service" in f.summary
    assert f.fix.command == "unset CONTAINER_HOST"
    f = check(context(h), "engine.endpoint")
    assert f.status == "ok" and "/run/user/1000/podman/podman.sock" in f.summary


def test_nixos_detected_by_marker_and_os_release(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.nixos()
    ctx = context(h)
    assert ctx.nixos
    f = check(ctx, "host.os")
    assert "configuration.nix" in f.summary
    h.remove("/etc/NIXOS")
    assert context(h).nixos  # ID=nixos alone is enough
    h.remove("/usr/bin/podman")
    f = check(context(h, info=None, provider=None), "engine.present")
    assert f.fix.kind == "nix" and f.fix.content == "virtualisation.podman.enable = true;"
    assert f.fix.then == "sudo nixos-rebuild switch"


def test_nixos_rootless_docker_fix_is_nix(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.nixos()
    ctx = context(h, provider="docker", info=docker_info(rootless=False), rootless=True)
    f = check(ctx, "engine.mode")
    assert f.fix.kind == "nix" and "virtualisation.docker.rootless" in f.fix.content


def test_home_comes_from_environment(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    ctx = context(h, env={"HOME": "/scratch/home"})
    assert ctx.user.home == "/scratch/home" and ctx.user.name == "alice"
    assert context(h).user.home == HOME


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("4.3.1", (4, 3, 1)),
        ("v1.7.6", (1, 7, 6)),
        ("20.10.24+dfsg1", (20, 10, 24)),
        ("2.2.2-1", (2, 2, 2)),
        ("5.0", (5, 0, 0)),
        ("dev", None),
    ],
)
def test_parse_version(text: str, want: tuple[int, ...] | None) -> None:
    assert parse_version(text) == want


def test_rootless_docker_setup_links_debians_scripts_next_to_the_cli() -> None:
    from nestkube.doctor.checks.engine import DEBIAN_CONTRIB, rootless_docker_setup

    for os_release in ({"ID": "debian"}, {"ID": "linuxmint", "ID_LIKE": "ubuntu debian"}):
        setup = rootless_docker_setup(os_release)
        assert f"ln -sf {DEBIAN_CONTRIB}/dockerd-rootless.sh ~/bin/" in setup
        assert "ln -sf /usr/bin/docker ~/bin/docker" in setup
        assert setup.endswith(
            f"PATH=$HOME/bin:$PATH {DEBIAN_CONTRIB}/dockerd-rootless-setuptool.sh install"
        )
    assert rootless_docker_setup({"ID": "fedora"}) == "dockerd-rootless-setuptool.sh install"
