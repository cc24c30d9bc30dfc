"""Kubeconfig path rules, merge/remove semantics, file safety and locking.

Every test passes an explicit ``env`` mapping rooted in ``tmp_path``, so the real HOME and
KUBECONFIG of whoever runs the tests are never read or written.
"""

from __future__ import annotations

import multiprocessing
import os
import stat
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from nestkube import kubeconfig
from nestkube.errors import NestkubeError
from nestkube.kubeconfig import KubeconfigError

ADMIN_CONF = """\
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0EtREFUQQ==
    server: https://dev-control-plane:6443
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: kubernetes-admin
  name: kubernetes-admin@kubernetes
current-context: kubernetes-admin@kubernetes
kind: Config
preferences: {}
users:
- name: kubernetes-admin
  user:
    client-certificate-data: Q0VSVC1EQVRB
    client-key-data: S0VZLURBVEE=
"""

SERVER = "https://127.0.0.1:43123"

# A user's file with an unrelated cluster and the fields kubectl and other tools leave.
OTHER_CONF = """\
apiVersion: v1
kind: Config
preferences:
  colors: true
clusters:
- name: work
  cluster:
    server: https://work.example:6443
users:
- name: work-admin
  user:
    token: secret-token
contexts:
- name: work
  context:
    cluster: work
    user: work-admin
    namespace: team
current-context: work
extensions:
- name: some-tool
  extension:
    last-update: Tue, 02 Jan 2024 10:00:00 UTC
x-unknown-key:
  kept: [1, 2, 3]
"""


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict)
    return doc


def names(doc: dict[str, Any], section: str) -> list[str]:
    return [entry["name"] for entry in doc.get(section) or []]


def entry(doc: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    matches = [e for e in doc[section] if e["name"] == name]
    assert len(matches) == 1, f"{name} appears {len(matches)} times in {section}"
    found: dict[str, Any] = matches[0]
    return found


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home)}


@pytest.fixture
def default_file(env: dict[str, str]) -> Path:
    return Path(env["HOME"]) / ".kube" / "config"


def hold_lock(path: Path, seconds: float) -> threading.Thread:
    """Create ``path``'s lock now, as another kubectl would, and drop it after ``seconds``."""
    lock = Path(f"{path}.lock")
    lock.write_text("12345\n")

    def release() -> None:
        time.sleep(seconds)
        lock.unlink()

    thread = threading.Thread(target=release)
    thread.start()
    return thread


# --- names and paths -----------------------------------------------------------------------


def test_context_name() -> None:
    assert kubeconfig.context_name("dev") == "nestkube-dev"


def test_error_is_a_nestkube_error() -> None:
    assert issubclass(KubeconfigError, NestkubeError)


def test_explicit_path_wins_over_kubeconfig_env(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "a")}
    explicit = str(tmp_path / "explicit")
    assert kubeconfig.kubeconfig_paths(explicit, env=env) == [Path(explicit)]
    assert kubeconfig.write_target(explicit, env=env) == Path(explicit)


def test_kubeconfig_env_list_drops_empty_entries_and_duplicates(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    value = os.pathsep.join(["", str(a), "", str(b), str(a), ""])
    env = {"HOME": str(tmp_path), "KUBECONFIG": value}
    assert kubeconfig.kubeconfig_paths(env=env) == [a, b]


@pytest.mark.parametrize("value", [None, "", os.pathsep, os.pathsep * 3])
def test_default_is_home_kube_config(tmp_path: Path, value: str | None) -> None:
    env = {"HOME": str(tmp_path)}
    if value is not None:
        env["KUBECONFIG"] = value
    expected = tmp_path / ".kube" / "config"
    assert kubeconfig.kubeconfig_paths(env=env) == [expected]
    assert kubeconfig.write_target(env=env) == expected


def test_empty_explicit_path_means_not_given(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    assert kubeconfig.kubeconfig_paths("", env=env) == [tmp_path / ".kube" / "config"]


def test_write_target_is_first_existing_kubeconfig_file(tmp_path: Path) -> None:
    first, second, third = tmp_path / "first", tmp_path / "second", tmp_path / "third"
    second.write_text("")
    third.write_text("")
    env = {"HOME": str(tmp_path), "KUBECONFIG": os.pathsep.join(map(str, [first, second, third]))}
    assert kubeconfig.write_target(env=env) == second


def test_write_target_is_last_entry_when_none_exists(tmp_path: Path) -> None:
    # kubectl (client-go GetDefaultFilename) and kind both create the last file of the list.
    first, second = tmp_path / "first", tmp_path / "second"
    env = {"HOME": str(tmp_path), "KUBECONFIG": os.pathsep.join([str(first), str(second)])}
    assert kubeconfig.write_target(env=env) == second


def test_write_target_skips_a_directory(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.write_text("")
    env = {"HOME": str(tmp_path), "KUBECONFIG": os.pathsep.join([str(first), str(second)])}
    assert kubeconfig.write_target(env=env) == second


def test_single_kubeconfig_entry_is_the_target_even_if_missing(tmp_path: Path) -> None:
    only = tmp_path / "only"
    env = {"HOME": str(tmp_path), "KUBECONFIG": str(only)}
    assert kubeconfig.write_target(env=env) == only


# --- build_kubeconfig ----------------------------------------------------------------------


def test_build_renames_entries_sets_server_and_keeps_credentials() -> None:
    doc = yaml.safe_load(kubeconfig.build_kubeconfig(ADMIN_CONF, "dev", SERVER))
    assert doc["apiVersion"] == "v1"
    assert doc["kind"] == "Config"
    assert doc["current-context"] == "nestkube-dev"
    assert doc["clusters"] == [
        {
            "name": "nestkube-dev",
            "cluster": {"certificate-authority-data": "Q0EtREFUQQ==", "server": SERVER},
        }
    ]
    assert doc["users"] == [
        {
            "name": "nestkube-dev",
            "user": {
                "client-certificate-data": "Q0VSVC1EQVRB",
                "client-key-data": "S0VZLURBVEE=",
            },
        }
    ]
    assert doc["contexts"] == [
        {"name": "nestkube-dev", "context": {"cluster": "nestkube-dev", "user": "nestkube-dev"}}
    ]


def test_build_uses_the_only_context_when_current_context_is_missing() -> None:
    admin = yaml.safe_load(ADMIN_CONF)
    del admin["current-context"]
    doc = yaml.safe_load(kubeconfig.build_kubeconfig(yaml.safe_dump(admin), "x", SERVER))
    assert names(doc, "clusters") == ["nestkube-x"]


@pytest.mark.parametrize(
    "admin",
    [
        "",
        "clusters: [\n",
        "- a list\n",
        "contexts: []\n",
        ADMIN_CONF.replace("    user: kubernetes-admin\n", "    user: nobody\n"),
        ADMIN_CONF.replace("clusters:\n", "clusters: 3\nignored:\n"),
    ],
    ids=["empty", "bad-yaml", "not-a-mapping", "no-context", "dangling-user", "bad-section"],
)
def test_build_rejects_unusable_admin_conf(admin: str) -> None:
    with pytest.raises(KubeconfigError) as info:
        kubeconfig.build_kubeconfig(admin, "dev", SERVER)
    assert "\n" not in str(info.value)


# --- merge ---------------------------------------------------------------------------------


def test_merge_into_missing_file_creates_private_dir_and_file(
    env: dict[str, str], default_file: Path
) -> None:
    written = kubeconfig.merge_cluster(ADMIN_CONF, "dev", SERVER, env=env)
    assert written == default_file
    assert mode(default_file) == 0o600
    assert mode(default_file.parent) == 0o700
    doc = load(default_file)
    assert doc["current-context"] == "nestkube-dev"
    assert entry(doc, "clusters", "nestkube-dev")["cluster"]["server"] == SERVER
    assert not Path(f"{default_file}.lock").exists()
    # Only the file itself is left behind: no temp file, no lock.
    assert sorted(p.name for p in default_file.parent.iterdir()) == ["config"]


def test_merge_creates_missing_parents_private(tmp_path: Path, env: dict[str, str]) -> None:
    target = tmp_path / "deep" / "er" / "config"
    kubeconfig.merge_cluster(ADMIN_CONF, "dev", SERVER, str(target), env=env)
    assert mode(tmp_path / "deep") == 0o700
    assert mode(tmp_path / "deep" / "er") == 0o700
    assert mode(target) == 0o600


@pytest.mark.parametrize(
    "text",
    ["", "\n", "# only a comment\n", "clusters:\nusers: null\ncontexts: ~\n"],
    ids=["empty", "blank", "comment", "null-lists"],
)
def test_merge_into_empty_or_null_list_file(tmp_path: Path, env: dict[str, str], text: str) -> None:
    target = tmp_path / "config"
    target.write_text(text)
    kubeconfig.merge_cluster(ADMIN_CONF, "dev", SERVER, str(target), env=env)
    doc = load(target)
    for section in ("clusters", "users", "contexts"):
        assert names(doc, section) == ["nestkube-dev"]
    assert doc["current-context"] == "nestkube-dev"
    assert doc["apiVersion"] == "v1"
    assert doc["kind"] == "Config"


def test_merge_keeps_unrelated_entries_and_unknown_keys(
    tmp_path: Path, env: dict[str, str]
) -> None:
    target = tmp_path / "config"
    target.write_text(OTHER_CONF)
    before = yaml.safe_load(OTHER_CONF)

    kubeconfig.merge_cluster(ADMIN_CONF, "dev", SERVER, str(target), env=env)

    doc = load(target)
    assert names(doc, "clusters") == ["work", "nestkube-dev"]
    assert names(doc, "users") == ["work-admin", "nestkube-dev"]
    assert names(doc, "contexts") == ["work", "nestkube-dev"]
    assert entry(doc, "clusters", "work") == entry(before, "clusters", "work")
    assert entry(doc, "users", "work-admin") == entry(before, "users", "work-admin")
    assert entry(doc, "contexts", "work") == entry(before, "contexts", "work")
    for key in ("preferences", "extensions", "x-unknown-key"):
        assert doc[key] == before[key]
    assert doc["current-context"] == "nestkube-dev"


def test_remerge_replaces_entries_in_place(tmp_path: Path, env: dict[str, str]) -> None:
    target = tmp_path / "config"
    target.write_text(OTHER_CONF)
    kubeconfig.merge_cluster(ADMIN_CONF, "dev", SERVER, str(target), env=env)
    kubeconfig.merge_cluster(ADMIN_CONF, "other", SERVER, str(target), env=env)
    new_server = "https://127.0.0.1:50000"

    kubeconfig.merge_cluster(ADMIN_CONF, "dev", new_server, str(target), env=env)

    doc = load(target)
    assert names(doc, "clusters") == ["work", "nestkube-dev", "nestkube-other"]
    assert names(doc, "users") == ["work-admin", "nestkube-dev", "nestkube-other"]
    assert names(doc, "contexts") == ["work", "nestkube-dev", "nestkube-other"]
    assert entry(doc, "clusters", "nestkube-dev")["cluster"]["server"] == new_server
    assert entry(doc, "clusters", "nestkube-other")["cluster"]["server"] == SERVER
    assert doc["current-context"] == "nestkube-dev"


def test_merge_switches_current_context_each_time(tmp_path: Path, env: dict[str, str]) -> None:
    target = tmp_path / "config"
    target.write_text(OTHER_CONF)
    kubeconfig.merge_cluster(ADMIN_CONF, "a", SERVER, str(target), env=env)
    assert load(target)["current-context"] == "nestkube-a"
    kubeconfig.merge_cluster(ADMIN_CONF, "b", SERVER, str(target), env=env)
    assert load(target)["current-context"] == "nestkube-b"


def test_merge_tightens_an_existing_file_to_0600(tmp_path: Path, env: dict[str, str]) -> None:
    target = tmp_path / "config"
    target.write_text(OTHER_CONF)
    target.chmod(0o644)
    kubeconfig.merge_cluster(ADMIN_CONF, "dev", SERVER, str(target), env=env)
    assert mode(target) == 0o600


def test_merge_writes_to_the_first_existing_kubeconfig_file(
    tmp_path: Path, env: dict[str, str]
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    second.write_text(OTHER_CONF)
    env["KUBECONFIG"] = os.pathsep.join([str(first), str(second)])
    assert kubeconfig.merge_cluster(ADMIN_CONF, "dev", SERVER, env=env) == second
    assert not first.exists()
    assert "nestkube-dev" in names(load(second), "clusters")


def test_merge_through_a_symlink_keeps_the_link(tmp_path: Path, env: dict[str, str]) -> None:
    real = tmp_path / "dotfiles" / "kubeconfig"
    real.parent.mkdir()
    real.write_text(OTHER_CONF)
    link = tmp_path / "config"
    link.symlink_to(real)
    kubeconfig.merge_cluster(ADMIN_CONF, "dev", SERVER, str(link), env=env)
    assert link.is_symlink()
    assert "nestkube-dev" in names(load(real), "clusters")
    assert mode(real) == 0o600


def test_merge_does_not_share_yaml_anchors(tmp_path: Path, env: dict[str, str]) -> None:
    target = tmp_path / "config"
    kubeconfig.merge_cluster(ADMIN_CONF, "dev", SERVER, str(target), env=env)
    text = target.read_text()
    assert "&" not in text
    assert "*" not in text


@pytest.mark.parametrize(
    "text",
    [
        "clusters: [\n  - name: a\n",
        "apiVersion: v1\n\tkind: Config\n",
        "- just\n- a list\n",
        "clusters: not-a-list\n",
        "clusters:\n- just-a-string\n",
    ],
    ids=["unclosed", "tab", "top-level-list", "section-not-list", "entry-not-mapping"],
)
def test_merge_into_malformed_file_fails_and_leaves_it_untouched(
    tmp_path: Path, env: dict[str, str], text: str
) -> None:
    target = tmp_path / "config"
    target.write_text(text)
    target.chmod(0o644)
    before = target.read_bytes()

    with pytest.raises(KubeconfigError) as info:
        kubeconfig.merge_cluster(ADMIN_CONF, "dev", SERVER, str(target), env=env)

    message = str(info.value)
    assert "\n" not in message
    assert str(target) in message
    assert target.read_bytes() == before
    assert mode(target) == 0o644
    # The lock is released on error too, and no temp file is left.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config", "home"]


def test_bad_admin_conf_fails_before_touching_the_target(
    tmp_path: Path, env: dict[str, str]
) -> None:
    target = tmp_path / "config"
    with pytest.raises(KubeconfigError):
        kubeconfig.merge_cluster("contexts: []\n", "dev", SERVER, str(target), env=env)
    assert not target.exists()


# --- locking -------------------------------------------------------------------------------


def test_merge_waits_for_a_held_lock_then_succeeds(tmp_path: Path, env: dict[str, str]) -> None:
    target = tmp_path / "config"
    target.write_text(OTHER_CONF)
    releaser = hold_lock(target, 0.4)
    started = time.monotonic()
    try:
        kubeconfig.merge_cluster(ADMIN_CONF, "dev", SERVER, str(target), env=env, lock_timeout=5)
        # Measured before joining, which itself waits for the release.
        waited = time.monotonic() - started
    finally:
        releaser.join()
    assert waited >= 0.35
    assert "nestkube-dev" in names(load(target), "clusters")
    assert not Path(f"{target}.lock").exists()


def test_merge_times_out_on_a_lock_never_released(tmp_path: Path, env: dict[str, str]) -> None:
    target = tmp_path / "config"
    target.write_text(OTHER_CONF)
    lock = Path(f"{target}.lock")
    lock.write_text("12345\n")
    started = time.monotonic()

    with pytest.raises(KubeconfigError) as info:
        kubeconfig.merge_cluster(ADMIN_CONF, "dev", SERVER, str(target), env=env, lock_timeout=0.2)

    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 2
    message = str(info.value)
    assert "\n" not in message
    assert str(lock) in message
    assert target.read_text() == OTHER_CONF
    # Someone else's lock is theirs to remove.
    assert lock.read_text() == "12345\n"


def test_remove_times_out_on_a_lock_never_released(tmp_path: Path, env: dict[str, str]) -> None:
    target = tmp_path / "config"
    kubeconfig.merge_cluster(ADMIN_CONF, "dev", SERVER, str(target), env=env)
    before = target.read_bytes()
    lock = Path(f"{target}.lock")
    lock.write_text("")
    with pytest.raises(KubeconfigError, match="locked"):
        kubeconfig.remove_cluster("dev", str(target), env=env, lock_timeout=0.1)
    assert target.read_bytes() == before


def test_eight_threads_merging_into_one_file_keep_every_entry(
    tmp_path: Path, env: dict[str, str]
) -> None:
    target = tmp_path / "config"
    target.write_text(OTHER_CONF)
    clusters = [f"c{i}" for i in range(8)]
    barrier = threading.Barrier(len(clusters))

    def merge(cluster: str) -> Path:
        barrier.wait()
        return kubeconfig.merge_cluster(ADMIN_CONF, cluster, SERVER, str(target), env=env)

    with ThreadPoolExecutor(max_workers=len(clusters)) as pool:
        results = list(pool.map(merge, clusters))

    assert results == [target] * len(clusters)
    doc = load(target)
    expected = {"work", *(kubeconfig.context_name(c) for c in clusters)}
    assert set(names(doc, "clusters")) == expected
    assert set(names(doc, "contexts")) == expected
    assert len(names(doc, "users")) == len(clusters) + 1
    assert doc["current-context"] in expected - {"work"}
    assert not Path(f"{target}.lock").exists()


def test_eight_processes_merging_into_one_file_keep_every_entry(
    tmp_path: Path, env: dict[str, str]
) -> None:
    target = tmp_path / "config"
    clusters = [f"p{i}" for i in range(8)]
    # spawn, not fork: each worker is a separate interpreter, as separate CLI runs would be.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(clusters), mp_context=context) as pool:
        futures = [
            pool.submit(kubeconfig.merge_cluster, ADMIN_CONF, c, SERVER, str(target), env=env)
            for c in clusters
        ]
        results = [f.result(timeout=60) for f in futures]

    assert results == [target] * len(clusters)
    doc = load(target)
    expected = {kubeconfig.context_name(c) for c in clusters}
    for section in ("clusters", "users", "contexts"):
        assert set(names(doc, section)) == expected
    assert mode(target) == 0o600


# --- remove and has_entries ----------------------------------------------------------------


def test_remove_cleans_every_kubeconfig_file(tmp_path: Path, env: dict[str, str]) -> None:
    first, missing, third = tmp_path / "first", tmp_path / "missing", tmp_path / "third"
    first.write_text(OTHER_CONF)
    third.write_text(OTHER_CONF)
    kubeconfig.merge_cluster(ADMIN_CONF, "dev", SERVER, str(first), env=env)
    kubeconfig.merge_cluster(ADMIN_CONF, "keep", SERVER, str(first), env=env)
    kubeconfig.merge_cluster(ADMIN_CONF, "dev", SERVER, str(third), env=env)
    env["KUBECONFIG"] = os.pathsep.join(map(str, [first, missing, third]))
    assert kubeconfig.has_entries("dev", env=env)

    changed = kubeconfig.remove_cluster("dev", env=env)

    assert changed == [first, third]
    assert not missing.exists()
    assert not Path(f"{missing}.lock").exists()
    assert not kubeconfig.has_entries("dev", env=env)
    assert kubeconfig.has_entries("keep", env=env)
    original = yaml.safe_load(OTHER_CONF)
    first_doc, third_doc = load(first), load(third)
    assert names(first_doc, "clusters") == ["work", "nestkube-keep"]
    assert names(first_doc, "users") == ["work-admin", "nestkube-keep"]
    assert names(first_doc, "contexts") == ["work", "nestkube-keep"]
    # current-context pointed at another cluster in the first file: left alone.
    assert first_doc["current-context"] == "nestkube-keep"
    # ...and at the removed one in the third: unset.
    assert third_doc["current-context"] == ""
    for key in ("clusters", "users", "contexts", "preferences", "extensions", "x-unknown-key"):
        assert third_doc[key] == original[key]
    assert mode(first) == mode(third) == 0o600


def test_remove_leaves_a_current_context_of_another_cluster(
    tmp_path: Path, env: dict[str, str]
) -> None:
    target = tmp_path / "config"
    kubeconfig.merge_cluster(ADMIN_CONF, "dev", SERVER, str(target), env=env)
    doc = load(target)
    doc["current-context"] = "elsewhere"
    target.write_text(yaml.safe_dump(doc))
    kubeconfig.remove_cluster("dev", str(target), env=env)
    assert load(target)["current-context"] == "elsewhere"


def test_remove_does_not_rewrite_files_without_entries(tmp_path: Path, env: dict[str, str]) -> None:
    target = tmp_path / "config"
    target.write_text(OTHER_CONF)
    target.chmod(0o644)
    assert kubeconfig.remove_cluster("dev", str(target), env=env) == []
    assert target.read_text() == OTHER_CONF
    assert mode(target) == 0o644


def test_remove_only_touches_exact_names(tmp_path: Path, env: dict[str, str]) -> None:
    target = tmp_path / "config"
    kubeconfig.merge_cluster(ADMIN_CONF, "dev", SERVER, str(target), env=env)
    kubeconfig.merge_cluster(ADMIN_CONF, "dev2", SERVER, str(target), env=env)
    kubeconfig.remove_cluster("dev", str(target), env=env)
    assert names(load(target), "clusters") == ["nestkube-dev2"]


def test_remove_with_no_files_at_all(env: dict[str, str], default_file: Path) -> None:
    assert kubeconfig.remove_cluster("dev", env=env) == []
    assert not default_file.parent.exists()


def test_remove_handles_empty_and_null_list_files(tmp_path: Path, env: dict[str, str]) -> None:
    empty, nulls = tmp_path / "empty", tmp_path / "nulls"
    empty.write_text("")
    nulls.write_text("clusters:\nusers:\ncontexts:\ncurrent-context: nestkube-dev\n")
    env["KUBECONFIG"] = os.pathsep.join([str(empty), str(nulls)])
    assert kubeconfig.remove_cluster("dev", env=env) == [nulls]
    assert empty.read_text() == ""
    assert load(nulls)["current-context"] == ""


def test_remove_cleans_other_files_then_reports_a_malformed_one(
    tmp_path: Path, env: dict[str, str]
) -> None:
    bad, good = tmp_path / "bad", tmp_path / "good"
    bad.write_text("clusters: [\n")
    kubeconfig.merge_cluster(ADMIN_CONF, "dev", SERVER, str(good), env=env)
    env["KUBECONFIG"] = os.pathsep.join([str(bad), str(good)])

    with pytest.raises(KubeconfigError) as info:
        kubeconfig.remove_cluster("dev", env=env)

    assert str(bad) in str(info.value)
    assert "\n" not in str(info.value)
    assert bad.read_text() == "clusters: [\n"
    assert names(load(good), "clusters") == []


def test_has_entries_with_no_file(env: dict[str, str]) -> None:
    assert not kubeconfig.has_entries("dev", env=env)


def test_has_entries_sees_any_one_kind_of_entry(tmp_path: Path, env: dict[str, str]) -> None:
    target = tmp_path / "config"
    target.write_text("users:\n- name: nestkube-dev\n  user: {}\n")
    assert kubeconfig.has_entries("dev", str(target), env=env)
    assert not kubeconfig.has_entries("other", str(target), env=env)
