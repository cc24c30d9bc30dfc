"""``nestkube runners`` through the real app, with fake helm and kubectl on PATH."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

import nestkube.cli.main  # noqa: F401  (attaches every command to the groups)
from nestkube.cli import groups
from nestkube.errors import CommandError, ConfigError, NestkubeError
from nestkube.runners import model, render
from nestkube.runners.ops import RunnersError

from .conftest import TOKEN
from .fakes import FakeTools

cli = CliRunner()


@pytest.fixture(autouse=True)
def _homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def invoke(*args: str) -> Result:
    return cli.invoke(groups.app, list(args))


def ok(*args: str) -> Result:
    result = invoke(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def fails(*args: str) -> str:
    result = invoke(*args)
    assert result.exit_code != 0
    assert isinstance(result.exception, NestkubeError), result.exception
    message = str(result.exception)
    assert "\n" not in message
    return message


def runners_file(tmp_path: Path) -> Path:
    return tmp_path / "config" / "nestkube" / "runners.yaml"


def add_docker(tmp_path: Path, token_file: Path, *extra: str) -> None:
    ok(
        "runners", "add", "docker",
        "--repository", "https://github.com/o/r",
        "--mode", "privileged",
        "--cache", "/var/lib/docker",
        "--instances", "2",
        "--token-file", str(token_file),
        *extra,
    )  # fmt: skip


# --- add / list / remove ------------------------------------------------------------------
def test_add_writes_the_default_file_and_list_shows_it(
    tmp_path: Path, token_file: Path, tools: FakeTools
) -> None:
    add_docker(tmp_path, token_file)
    doc = yaml.safe_load(runners_file(tmp_path).read_text())
    assert doc["apiVersion"] == "nestkube.io/v1alpha1" and doc["kind"] == "RunnerSet"
    [entry] = doc["runners"]
    assert entry["auth"] == {"pat": {"tokenFile": str(token_file)}}
    assert TOKEN not in runners_file(tmp_path).read_text()

    text = ok("runners", "list").stdout
    assert text.startswith("docker\tprivileged\thttps://github.com/o/r\tinstances=2 min=0 max=1")
    data = json.loads(ok("runners", "list", "-o", "json").stdout)
    assert data[0]["scaleSets"] == ["docker-1", "docker-2"]
    assert data[0]["cacheDirs"] == [
        str(tmp_path / "cache/nestkube/runners/docker/1/1"),
        str(tmp_path / "cache/nestkube/runners/docker/2/1"),
    ]
    assert yaml.safe_load(ok("runners", "list", "-o", "yaml").stdout) == data
    assert tools.calls() == []


def test_add_app_auth_and_remove(tmp_path: Path, key_file: Path, tools: FakeTools) -> None:
    f = str(tmp_path / "r.yaml")
    ok(
        "runners", "add", "app", "--org", "acme", "--auth", "app", "--app-id", "12",
        "--installation-id", "34", "--private-key-file", str(key_file), "-f", f,
    )  # fmt: skip
    loaded = model.load(Path(f))
    app = loaded.doc.runners[0].auth.app
    assert app is not None and (app.app_id, app.installation_id) == ("12", "34")
    ok("runners", "remove", "app", "-f", f)
    assert model.load(Path(f)).doc.runners == []
    assert fails("runners", "remove", "app", "-f", f) == f"{f}: no runner named 'app'"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--token", "ghp_x"], "secrets are never taken on the command line"),
        (["--private-key", "k"], "secrets are never taken on the command line"),
        (["--mode", "docker"], "runners[0].mode: expected one of kubernetes, dind, privileged"),
        (["--min", "3", "--max", "2"], "runners[0].min: min (3) is greater than max (2)"),
        (["--token-file", "/nonexistent/t"], "auth.pat.tokenFile: cannot read /nonexistent/t"),
        (
            ["--auth", "app", "--app-id", "1"],
            "--auth app needs --installation-id, --private-key-file",
        ),
        (["--auth", "sso"], '--auth: expected pat or app; got "sso"'),
        (
            ["--token-env", "T", "--app-id", "1"],
            "--app-id, --installation-id and --private-key-file need --auth app",
        ),
    ],
)
def test_add_bad_input_writes_nothing(
    tmp_path: Path, tools: FakeTools, args: list[str], expected: str
) -> None:
    base = ["runners", "add", "x", "--org", "acme"]
    if not any(a.startswith(("--token", "--auth", "--private-key")) for a in args):
        base += ["--token-env", "T"]
    assert expected in fails(*base, *args)
    assert not runners_file(tmp_path).exists()
    assert tools.calls() == []


def test_add_duplicate_name_keeps_the_file(tmp_path: Path, token_file: Path) -> None:
    add_docker(tmp_path, token_file)
    before = runners_file(tmp_path).read_text()
    message = fails("runners", "add", "docker", "--org", "acme", "--token-env", "T")
    assert message.endswith('runners[1].name: duplicate runner name "docker" (also runners[0])')
    assert runners_file(tmp_path).read_text() == before


def test_token_flag_refused_by_the_real_command(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "nestkube",
            "runners",
            "add",
            "x",
            "--org",
            "a",
            "--token",
            "s3cr3t",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path)},
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("ERROR: secrets are never taken on the command line")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "nestkube").exists()


# --- up -----------------------------------------------------------------------------------
def _argv(call: dict[str, Any]) -> list[str]:
    return list(call["argv"])


def test_up_installs_controller_then_each_instance(
    tmp_path: Path, token_file: Path, tools: FakeTools
) -> None:
    add_docker(tmp_path, token_file)
    result = ok("runners", "up")
    assert result.stdout.split() == ["docker-1", "docker-2"]

    calls = tools.calls()
    assert [c["tool"] for c in calls] == [
        "helm", "kubectl", "kubectl", "helm", "kubectl", "helm", "helm",
    ]  # fmt: skip

    controller = _argv(calls[0])
    assert controller[:2] == ["--kube-context", "nestkube-nestkube"]
    assert controller[2:6] == [
        "upgrade",
        "--install",
        "arc",
        "oci://ghcr.io/actions/actions-runner-controller-charts/gha-runner-scale-set-controller",
    ]
    assert controller[controller.index("--namespace") + 1] == "arc-systems"
    assert controller[controller.index("--version") + 1] == "0.6.1"
    # A privileged runner: the nodes' mounts were made shared (for Bidirectional cgroups).
    assert tools.shared == ["nestkube-nestkube"]
    # Caches: the cache root's mount into the nodes was checked before anything was applied.
    assert tools.mount_checked == [str(tmp_path / "cache/nestkube/runners")]

    namespace = yaml.safe_load(calls[1]["stdin"])
    assert namespace["kind"] == "Namespace" and namespace["metadata"]["name"] == "nestkube-runners"

    secret, hook = yaml.safe_load_all(calls[2]["stdin"])
    assert secret["kind"] == "Secret" and secret["metadata"]["name"] == "docker-1-github"
    assert secret["stringData"] == {"github_token": TOKEN}
    assert hook["kind"] == "ConfigMap" and hook["metadata"]["name"] == "docker-1-hook-template"
    assert hook["metadata"]["labels"]["nestkube.io/release"] == "docker-1"

    scale_set = calls[3]
    argv = _argv(scale_set)
    assert argv[2:6] == [
        "upgrade",
        "--install",
        "docker-1",
        "oci://ghcr.io/actions/actions-runner-controller-charts/gha-runner-scale-set",
    ]
    assert argv[argv.index("--namespace") + 1] == "nestkube-runners"
    loaded = model.load(runners_file(tmp_path))
    inst = render.instances(loaded.doc.runners[0], render.cache_root(loaded))[0]
    assert yaml.safe_load(scale_set["values"]) == render.values(loaded.doc.runners[0], inst)
    # The values file was private, in a private directory, and is gone now.
    assert scale_set["values_mode"] == 0o600 and scale_set["dir_mode"] == 0o700
    assert not os.path.exists(scale_set["values_path"])
    assert _argv(calls[-1])[2:4] == ["list", "--namespace"]

    # The token never appears in an argument list, and no values file holds it.
    for call in calls:
        assert TOKEN not in " ".join(call["argv"])
        assert TOKEN not in call.get("values", "")
    # Each instance's host cache directory exists.
    assert (tmp_path / "cache/nestkube/runners/docker/1/1").is_dir()
    assert (tmp_path / "cache/nestkube/runners/docker/2/1").is_dir()


def test_up_with_chart_dir_and_context(tmp_path: Path, tools: FakeTools) -> None:
    f = tmp_path / "r.yaml"
    f.write_text(
        "apiVersion: nestkube.io/v1alpha1\nkind: RunnerSet\nrunners:\n"
        "- {name: ci, org: acme, auth: {pat: {tokenEnv: GH_T}}}\n"
    )
    result = cli.invoke(
        groups.app,
        ["runners", "up", "-f", str(f), "--context", "prod", "--chart-dir", "/charts"],
        env={"GH_T": "tok"},
    )
    assert result.exit_code == 0, result.output
    helm = tools.calls("helm")
    assert _argv(helm[0])[:2] == ["--kube-context", "prod"]
    assert _argv(helm[0])[5] == "/charts/gha-runner-scale-set-controller"
    assert "--version" not in _argv(helm[0])
    assert _argv(helm[1])[5] == "/charts/gha-runner-scale-set"
    assert all(_argv(c)[:2] == ["--context", "prod"] for c in tools.calls("kubectl"))


def test_up_removes_scale_sets_no_longer_defined(
    tmp_path: Path, token_file: Path, tools: FakeTools
) -> None:
    add_docker(tmp_path, token_file)
    tools.answer(
        "helm",
        ["list"],
        stdout=json.dumps([{"name": "docker-1"}, {"name": "docker-2"}, {"name": "old"}]),
    )
    ok("runners", "up")
    calls = tools.calls()
    uninstall = [c for c in calls if "uninstall" in c["argv"]]
    assert [_argv(c)[3] for c in uninstall] == ["old"]
    delete = [c for c in calls if "delete" in c["argv"]]
    assert "nestkube.io/release=old" in _argv(delete[0])
    assert calls.index(uninstall[0]) < calls.index(delete[0])


@pytest.mark.parametrize(
    ("setup", "args", "error", "expected"),
    [
        ("cached", ["--context", "prod"], RunnersError, "context 'prod' is not a nestkube cluster"),
        ("missing-token", [], ConfigError, "auth.pat.tokenFile: cannot read"),
        ("unset-env", [], ConfigError, "auth.pat.tokenEnv: $NOT_SET_HERE is not set"),
        ("bad-file", [], ConfigError, "runners[0].mode: expected one of"),
    ],
)
def test_up_bad_input_applies_nothing(
    tmp_path: Path,
    token_file: Path,
    tools: FakeTools,
    monkeypatch: pytest.MonkeyPatch,
    setup: str,
    args: list[str],
    error: type[Exception],
    expected: str,
) -> None:
    f = runners_file(tmp_path)
    if setup in ("cached", "missing-token"):
        add_docker(tmp_path, token_file)
        if setup == "missing-token":
            token_file.unlink()
    else:
        f.parent.mkdir(parents=True)
        mode = "dind" if setup == "unset-env" else "docker"
        f.write_text(
            "apiVersion: nestkube.io/v1alpha1\nkind: RunnerSet\nrunners:\n"
            f"- {{name: ci, org: acme, mode: {mode}, auth: {{pat: {{tokenEnv: NOT_SET_HERE}}}}}}\n"
        )
    monkeypatch.delenv("NOT_SET_HERE", raising=False)
    result = invoke("runners", "up", *args)
    assert isinstance(result.exception, error), result.exception
    assert expected in str(result.exception)
    assert tools.calls() == []
    assert not (tmp_path / "cache").exists()


def test_up_reports_a_helm_failure_in_one_line(
    tmp_path: Path, token_file: Path, tools: FakeTools
) -> None:
    add_docker(tmp_path, token_file)
    tools.answer("helm", ["upgrade"], rc=1, stderr="Error: INSTALLATION FAILED: boom\n")
    result = invoke("runners", "up")
    assert isinstance(result.exception, CommandError)
    assert (
        str(result.exception)
        == "helm upgrade --install arc (exit 1): Error: INSTALLATION FAILED: boom"
    )


def test_up_without_helm_says_so(
    tmp_path: Path, token_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_docker(tmp_path, token_file)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert fails("runners", "up") == "helm is not installed (nestkube doctor says how to get it)"


# --- down / status ------------------------------------------------------------------------
def test_down_removes_scale_sets_then_the_controller(tools: FakeTools) -> None:
    tools.answer("helm", ["list"], stdout=json.dumps([{"name": "a"}, {"name": "b"}]))
    ok("runners", "down")
    uninstalls = [_argv(c)[3] for c in tools.calls("helm") if "uninstall" in c["argv"]]
    assert uninstalls == ["a", "b", "arc"]
    # Every scale set is marked deleted before the first uninstall waits for one.
    calls = tools.calls()
    first_uninstall = next(i for i, c in enumerate(calls) if "uninstall" in c["argv"])
    delete = next(i for i, c in enumerate(calls) if "autoscalingrunnersets" in c["argv"])
    assert delete < first_uninstall
    assert _argv(calls[delete])[2:] == [
        "delete", "autoscalingrunnersets", "--all", "--namespace", "nestkube-runners",
        "--ignore-not-found", "--wait=false",
    ]  # fmt: skip
    controller = next(c for c in tools.calls("helm") if "arc" in c["argv"])
    assert _argv(controller)[_argv(controller).index("--namespace") + 1] == "arc-systems"


def test_down_with_nothing_installed(tools: FakeTools) -> None:
    tools.answer(
        "helm",
        ["uninstall"],
        rc=1,
        stderr="Error: uninstall: Release not loaded: arc: release: not found\n",
    )
    result = ok("runners", "down")
    assert "nothing to remove" in result.stderr


ARS = {
    "metadata": {"name": "docker-1"},
    "spec": {"minRunners": 0, "maxRunners": 1},
    "status": {"currentRunners": 1, "pendingEphemeralRunners": 1},
}
ER = {
    "metadata": {"name": "docker-1-abcde-runner-x"},
    "status": {
        "phase": "Failed",
        "reason": "TooManyPodFailures",
        "message": "failed to get runner registration token: "
        "POST https://api.github.com/x: 401 Bad credentials []",
    },
}


def test_status_reports_arcs_objects_and_the_error_verbatim(tools: FakeTools) -> None:
    tools.answer(
        "kubectl",
        ["deployments"],
        stdout=json.dumps({"items": [{"status": {"replicas": 1, "readyReplicas": 1}}]}),
    )
    tools.answer(
        "kubectl",
        ["pods"],
        stdout=json.dumps(
            {"items": [{"metadata": {"name": "docker-1-listener"}, "status": {"phase": "Running"}}]}
        ),
    )
    tools.answer("kubectl", ["autoscalingrunnersets"], stdout=json.dumps({"items": [ARS]}))
    tools.answer("kubectl", ["ephemeralrunners"], stdout=json.dumps({"items": [ER]}))
    report = json.loads(ok("runners", "status", "-o", "json").stdout)
    assert report == {
        "context": "nestkube-nestkube",
        "controller": "1/1 ready",
        "listeners": [{"name": "docker-1-listener", "phase": "Running"}],
        "scaleSets": [
            {"name": "docker-1", "minRunners": 0, "maxRunners": 1, "currentRunners": 1,
             "pending": 1, "running": 0, "failed": 0}
        ],
        "runners": [
            {"name": "docker-1-abcde-runner-x", "phase": "Failed", "reason": "TooManyPodFailures",
             "message": ER["status"]["message"]}
        ],
        "lastError": ER["status"]["message"],
    }  # fmt: skip
    text = ok("runners", "status").stdout
    assert f"last error: {ER['status']['message']}\n" in text
    assert "controller: 1/1 ready" in text


def test_status_falls_back_to_the_controllers_last_error_line(tools: FakeTools) -> None:
    line = (
        "2026-11-30T15:00:00Z\tERROR\tAutoscalingRunnerSet\tFailed to initialize listener\t"
        '{"error": "failed to get runner scale set: dial tcp: lookup api.github.com: no such host"}'
    )
    tools.answer("kubectl", ["logs"], stdout=f"2026 INFO starting\n{line}\n2026 INFO retry\n")
    tools.answer(
        "kubectl",
        ["ephemeralrunners"],
        rc=1,
        stderr='error: the server doesn\'t have a resource type "ephemeralrunners"\n',
    )
    report = json.loads(ok("runners", "status", "-o", "json").stdout)
    assert report["lastError"] == line
    assert report["controller"] == "not installed"
    logs = next(c for c in tools.calls("kubectl") if "logs" in c["argv"])
    assert "app.kubernetes.io/part-of=gha-rs-controller" in _argv(logs)
