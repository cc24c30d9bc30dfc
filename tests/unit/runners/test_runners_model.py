"""The RunnerSet file: what loads, the defaults, and every bad input as one line with its path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from nestkube.errors import ConfigError
from nestkube.runners import credentials, model

from .conftest import PEM, TOKEN

HEAD = "apiVersion: nestkube.io/v1alpha1\nkind: RunnerSet\n"


def parse(body: str, path: Path = Path("r.yaml")) -> model.RunnerFile:
    return model.parse(HEAD + textwrap.dedent(body), path)


def error_of(body: str, head: str = HEAD) -> str:
    with pytest.raises(ConfigError) as info:
        model.parse(head + textwrap.dedent(body), Path("r.yaml"))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("r.yaml: ")
    return message.removeprefix("r.yaml: ")


ONE = """\
runners:
- name: ci
  repository: https://github.com/owner/repo
  auth: {pat: {tokenEnv: GH_TOKEN}}
"""


def runner(**fields: str) -> str:
    """A one-runner body with ``fields`` (YAML flow values) replacing or adding keys."""
    base = {
        "name": "ci",
        "repository": "https://github.com/owner/repo",
        "auth": "{pat: {tokenEnv: GH_TOKEN}}",
    }
    base.update(fields)
    lines = [f"  {k}: {v}" for k, v in base.items() if v != "-"]
    return "runners:\n- " + "\n".join(lines).lstrip() + "\n"


def test_defaults() -> None:
    r = parse(ONE).doc.runners[0]
    assert (r.mode, r.instances, r.min, r.max, r.caches, r.labels) == (
        "kubernetes",
        1,
        0,
        1,
        [],
        [],
    )
    assert r.auth.pat is not None and r.auth.pat.token_env == "GH_TOKEN"


def test_a_full_document_loads(tmp_path: Path) -> None:
    loaded = parse(
        """\
        context: nestkube-dev
        cacheRoot: caches
        runners:
        - name: docker
          org: my-org
          mode: privileged
          caches: [/var/lib/docker, /root/.cache]
          instances: 3
          min: 1
          max: 1
          auth: {app: {appId: "12345", installationId: "678", privateKeyFile: key.pem}}
          image: localhost/runner:1
        """,
        tmp_path / "r.yaml",
    )
    assert loaded.doc.context == "nestkube-dev"
    assert loaded.resolve("caches") == tmp_path / "caches"
    r = loaded.doc.runners[0]
    assert r.auth.app is not None and r.auth.app.installation_id == "678"
    assert (r.instances, r.min, r.max, r.labels) == (3, 1, 1, [])


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    loaded = parse(ONE, tmp_path / "sub" / "r.yaml")
    model.save(loaded)
    assert model.load(tmp_path / "sub" / "r.yaml").doc == loaded.doc


def test_missing_file_is_empty_only_when_allowed(tmp_path: Path) -> None:
    assert model.load(tmp_path / "none.yaml", missing_ok=True).doc.runners == []
    with pytest.raises(ConfigError, match="runners file not found"):
        model.load(tmp_path / "none.yaml")


def test_default_file_follows_xdg_config_home() -> None:
    assert model.default_file({"XDG_CONFIG_HOME": "/c"}) == Path("/c/nestkube/runners.yaml")
    assert model.default_file({"HOME": "/h"}) == Path("/h/.config/nestkube/runners.yaml")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            runner(mode="docker"),
            'runners[0].mode: expected one of kubernetes, dind, privileged; got "docker"',
        ),
        (runner(min="3", max="2"), "runners[0].min: min (3) is greater than max (2)"),
        (
            ONE + ONE.removeprefix("runners:\n"),
            'runners[1].name: duplicate runner name "ci" (also runners[0])',
        ),
        (
            runner(repository="http://github.com/o/r"),
            'runners[0].repository: "http://github.com/o/r": expected https://HOST/OWNER/REPO',
        ),
        (
            runner(repository="https://github.com/o"),
            'runners[0].repository: "https://github.com/o": expected https://HOST/OWNER/REPO',
        ),
        (
            runner(repository="https://github.com/o/r/tree/main"),
            'runners[0].repository: "https://github.com/o/r/tree/main": expected https://HOST/OWNER/REPO',
        ),
        (
            runner(repository="https://github.com/o/r.git"),
            'runners[0].repository: "https://github.com/o/r.git": '
            "expected https://HOST/OWNER/REPO (no .git)",
        ),
        (
            runner(repository="not a url"),
            'runners[0].repository: "not a url": expected https://HOST/OWNER/REPO',
        ),
        (runner(org="my-org"), "runners[0]: set exactly one of repository and org"),
        (runner(repository="-"), "runners[0]: set exactly one of repository and org"),
        (
            runner(repository="-", org="bad_org"),
            'runners[0].org: "bad_org" is not an organization name',
        ),
        (runner(name="CI"), 'runners[0].name: "CI": use lowercase letters, digits and "-"'),
        (
            runner(name="a" * 44, instances="2"),
            f'runners[0].name: "{"a" * 44}-2" is longer than 45 characters (ARC\'s limit)',
        ),
        (runner(instances="0"), "runners[0].instances: must be at least 1"),
        (runner(min="-1"), "runners[0].min: must be 0 or more"),
        (runner(max="0", min="0"), "runners[0].max: must be at least 1"),
        (runner(instances='"2"'), 'runners[0].instances: expected an integer, got "2"'),
        (
            runner(caches="[var/cache]"),
            'runners[0].caches[0]: "var/cache": a cache is an absolute path in the job container',
        ),
        (
            runner(caches="[/sys/fs/cgroup]"),
            'runners[0].caches[0]: "/sys/fs/cgroup": /sys is the job\'s own, it cannot be a cache',
        ),
        (runner(caches="[/a, /a]"), 'runners[0].caches[1]: "/a" is listed twice'),
        (
            runner(caches="[/var/lib/docker]", max="2"),
            "runners[0].max: with caches each instance runs one job at a time (max 1, got 2); "
            "use instances for parallel jobs",
        ),
        (runner(labels='["a b"]'), 'runners[0].labels[0]: "a b": labels have no spaces or commas'),
        # The pinned ARC (charts 0.6.1) has no scale-set labels: refused, never ignored.
        (runner(labels="[linux]"), f"runners[0].labels: {model.LABELS_UNSUPPORTED}"),
        (runner(auth="{}"), "runners[0].auth: set exactly one of pat and app"),
        (
            runner(
                auth="{pat: {tokenEnv: A}, "
                "app: {appId: '1', installationId: '2', privateKeyFile: k}}"
            ),
            "runners[0].auth: set exactly one of pat and app",
        ),
        (
            runner(auth="{pat: {tokenEnv: A, tokenFile: t}}"),
            "runners[0].auth.pat: set exactly one of tokenFile and tokenEnv",
        ),
        (
            runner(auth="{pat: {tokenEnv: 1A}}"),
            'runners[0].auth.pat.tokenEnv: "1A" is not a variable name',
        ),
        (
            runner(auth="{pat: {token: ghp_x}}"),
            'runners[0].auth.pat.token: unknown key "token"; did you mean "tokenEnv"?',
        ),
        (
            runner(auth="{app: {appId: '1', installationId: x, privateKeyFile: k}}"),
            'runners[0].auth.app.installationId: "x" is not a number',
        ),
        (
            runner(auth="{app: {appId: 1, installationId: '2', privateKeyFile: k}}"),
            "runners[0].auth.app.appId: expected a string, got 1 (put the value in quotes)",
        ),
        (
            runner(auth="{app: {appId: '1', installationId: '2'}}"),
            "runners[0].auth.app.privateKeyFile: missing required key",
        ),
        (runner(modes="[dind]"), 'runners[0].modes: unknown key "modes"; did you mean "mode"?'),
        ("contexts: x\n", 'contexts: unknown key "contexts"; did you mean "context"?'),
        ("cacheRoot: ''\n", "cacheRoot: must not be empty"),
        ("context: ' '\n", "context: must not be empty"),
    ],
)
def test_bad_input_is_one_line_with_the_key_path(body: str, expected: str) -> None:
    assert error_of(body) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "kind: RunnerSet\napiVersion: nestkube.io/v1\n",
            "apiVersion: expected nestkube.io/v1alpha1",
        ),
        ("kind: Cluster\napiVersion: nestkube.io/v1alpha1\n", "kind: expected RunnerSet"),
        ("- a\n", "expected a RunnerSet document (a mapping)"),
        ("kind: [\n", "invalid YAML: "),
        (
            HEAD + "context: a\ncontext: b\n",
            'invalid YAML: duplicate key "context" (line 4, column 1)',
        ),
    ],
)
def test_bad_documents(text: str, expected: str) -> None:
    assert error_of(text, head="").startswith(expected)


# --- credentials ------------------------------------------------------------------------
def _with_auth(tmp_path: Path, auth: str) -> model.RunnerFile:
    return parse(runner(auth=auth), tmp_path / "r.yaml")


def test_pat_from_a_file_relative_to_the_runners_file(tmp_path: Path, token_file: Path) -> None:
    loaded = _with_auth(tmp_path, f"{{pat: {{tokenFile: {token_file.name}}}}}")
    assert credentials.read(loaded, loaded.doc.runners[0]) == {"github_token": TOKEN}


def test_pat_from_the_environment(tmp_path: Path) -> None:
    loaded = _with_auth(tmp_path, "{pat: {tokenEnv: GH_TOKEN}}")
    assert credentials.read(loaded, loaded.doc.runners[0], {"GH_TOKEN": TOKEN}) == {
        "github_token": TOKEN
    }
    with pytest.raises(ConfigError, match=r"runners\[0\].auth.pat.tokenEnv: \$GH_TOKEN is not set"):
        credentials.read(loaded, loaded.doc.runners[0], {})


def test_app_credentials_use_arcs_keys(tmp_path: Path, key_file: Path) -> None:
    loaded = _with_auth(
        tmp_path, f"{{app: {{appId: '12', installationId: '34', privateKeyFile: {key_file}}}}}"
    )
    assert credentials.read(loaded, loaded.doc.runners[0]) == {
        "github_app_id": "12",
        "github_app_installation_id": "34",
        "github_app_private_key": PEM,
    }


@pytest.mark.parametrize(
    ("auth", "content", "expected"),
    [
        (
            "{pat: {tokenFile: missing}}",
            None,
            "runners[0].auth.pat.tokenFile: cannot read {dir}/missing: No such file or directory",
        ),
        ("{pat: {tokenFile: f}}", "  \n", "runners[0].auth.pat.tokenFile: {dir}/f is empty"),
        (
            "{app: {appId: '1', installationId: '2', privateKeyFile: f}}",
            "not a key",
            "runners[0].auth.app.privateKeyFile: not a PEM private key",
        ),
        (
            "{app: {appId: '1', installationId: '2', privateKeyFile: missing}}",
            None,
            "runners[0].auth.app.privateKeyFile: cannot read {dir}/missing: "
            "No such file or directory",
        ),
    ],
)
def test_unreadable_credentials(
    tmp_path: Path, auth: str, content: str | None, expected: str
) -> None:
    if content is not None:
        (tmp_path / "f").write_text(content)
    loaded = _with_auth(tmp_path, auth)
    with pytest.raises(ConfigError) as info:
        credentials.read(loaded, loaded.doc.runners[0])
    assert str(info.value) == f"{tmp_path}/r.yaml: " + expected.format(dir=tmp_path)


def test_check_files_names_a_missing_key_file(tmp_path: Path) -> None:
    loaded = _with_auth(tmp_path, "{app: {appId: '1', installationId: '2', privateKeyFile: k.pem}}")
    with pytest.raises(
        ConfigError, match=rf"auth.app.privateKeyFile: cannot read {tmp_path}/k.pem"
    ):
        credentials.check_files(loaded, loaded.doc.runners[0])
