"""nerdctl: info and version parsing, the rootless version gate and command lines.

nerdctl is not packaged for Debian 12, so these command-line tests are what runs here.
"""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest

from nestkube.errors import HostError, ProviderError
from nestkube.providers.base import LABEL_CLUSTER, LABEL_ROLE, NodeSpec, ProviderInfo
from nestkube.providers.facts import containerd_version, parse_version
from nestkube.providers.nerdctl import (
    NerdctlProvider,
    check_rootless_versions,
    parse_nerdctl_info,
    probe_nerdctl,
)

from .fakes import RESTRICTED_HOST, FakeEngine
from .nodes import assert_node_run_args, node_spec

INFO_ROOTLESS: dict[str, Any] = {
    "ServerVersion": "v1.7.13",
    "Driver": "overlayfs",
    "CgroupDriver": "systemd",
    "CgroupVersion": "2",
    "SecurityOptions": ["name=seccomp,profile=default", "name=cgroupns", "name=rootless"],
}
INFO_ROOTFUL: dict[str, Any] = {
    **INFO_ROOTLESS,
    "CgroupDriver": "cgroupfs",
    "CgroupVersion": "1",
    "SecurityOptions": ["name=apparmor", "name=seccomp,profile=default"],
}


def version_json(nerdctl: str, containerd: str) -> dict[str, Any]:
    return {
        "Client": {"Version": nerdctl, "GitCommit": "x", "GoVersion": "go1.21"},
        "Server": {"Components": [{"Name": "containerd", "Version": containerd}]},
    }


def info(rootless: bool = False) -> ProviderInfo:
    return ProviderInfo("nerdctl", "nerdctl", "v1.7.6", rootless, RESTRICTED_HOST)


def spec() -> NodeSpec:
    return node_spec("nc", 40002)


@pytest.mark.parametrize(
    ("text", "want"),
    [("v1.7.6", (1, 7, 6)), ("1.6.20~ds1-1", (1, 6, 20)), ("2.0.0-rc.1", (2, 0, 0)), ("", None)],
)
def test_parse_version(text: str, want: tuple[int, int, int] | None) -> None:
    assert parse_version(text) == want


def test_containerd_version_prefers_components() -> None:
    assert containerd_version(INFO_ROOTLESS, version_json("v1.7.6", "v1.7.20")) == "v1.7.20"
    assert containerd_version(INFO_ROOTLESS, {}) == "v1.7.13"


def test_rootless_recent_pair_is_accepted() -> None:
    got = parse_nerdctl_info(
        INFO_ROOTLESS, version_json("v1.7.6", "v1.7.13"), "nerdctl", RESTRICTED_HOST
    )
    assert got.name == "nerdctl"
    assert got.rootless
    assert got.version == "v1.7.6"
    assert got.cgroup_driver == "systemd"
    assert got.storage_driver == "overlayfs"


@pytest.mark.parametrize(
    ("nerdctl", "containerd", "blamed"),
    [
        ("v1.6.2", "v1.7.13", "nerdctl v1.6.2"),
        ("v1.7.6", "v1.6.20", "containerd v1.6.20"),
        ("v0.23.0", "v1.5.0", "nerdctl v0.23.0 and containerd v1.5.0"),
        ("", "v1.7.0", "nerdctl unknown"),
    ],
)
def test_rootless_old_versions_refused_with_fix(nerdctl: str, containerd: str, blamed: str) -> None:
    with pytest.raises(ProviderError) as caught:
        parse_nerdctl_info(
            INFO_ROOTLESS, version_json(nerdctl, containerd), "nerdctl", RESTRICTED_HOST
        )
    msg = str(caught.value)
    assert blamed in msg
    assert ">= 1.7" in msg
    assert "containerd-rootless-setuptool.sh install" in msg


def test_rootful_old_versions_are_not_gated() -> None:
    got = parse_nerdctl_info(
        INFO_ROOTFUL, version_json("v1.5.0", "v1.6.20"), "nerdctl", RESTRICTED_HOST
    )
    assert not got.rootless
    assert got.cgroup_driver == "cgroupfs"


def test_check_rootless_versions_boundary() -> None:
    check_rootless_versions("1.7.0", "1.7.0")
    check_rootless_versions("v2.0.0", "v2.0.0")


def test_probe_asks_info_and_version(
    fake_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/local/bin/{name}")
    fake_engine.on(["info"], out=json.dumps(INFO_ROOTLESS))
    fake_engine.on(["version"], out=json.dumps(version_json("v1.7.6", "v1.7.13")))
    got = probe_nerdctl(host=RESTRICTED_HOST)
    assert got.binary == "/usr/local/bin/nerdctl"
    assert fake_engine.calls == [
        ["/usr/local/bin/nerdctl", "info", "--format", "{{json .}}"],
        ["/usr/local/bin/nerdctl", "version", "--format", "{{json .}}"],
    ]


def test_probe_rootless_too_old(fake_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/local/bin/{name}")
    fake_engine.on(["info"], out=json.dumps(INFO_ROOTLESS))
    fake_engine.on(["version"], out=json.dumps(version_json("v1.6.0", "v1.6.9")))
    with pytest.raises(ProviderError, match="rootless nerdctl needs"):
        probe_nerdctl(host=RESTRICTED_HOST)


def test_probe_not_installed_says_not_packaged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ProviderError, match="not packaged for Debian 12"):
        probe_nerdctl(host=RESTRICTED_HOST)


def test_node_run_args() -> None:
    assert_node_run_args(
        NerdctlProvider(info()).node_run_args(spec()),
        (
            "--volume nc-control-plane-var:/var",
            "--env container=nerdctl",
            "--publish 127.0.0.1:40002:6443/tcp",
            f"--label {LABEL_CLUSTER}=nc",
        ),
    )


def test_create_node_uses_nerdctl_binary(fake_engine: FakeEngine) -> None:
    NerdctlProvider(info()).create_node(spec())
    assert [c[0] for c in fake_engine.calls] == ["nerdctl", "nerdctl"]
    assert fake_engine.calls[0][1:3] == ["volume", "create"]


def test_caps_failure_explained_for_containerd(fake_engine: FakeEngine) -> None:
    fake_engine.on(
        ["run"],
        code=1,
        err="FATA[0000] failed to create shim task: OCI runtime create failed: runc create "
        "failed: unable to start container process: unable to apply caps: operation not "
        "permitted: unknown\n",
    )
    with pytest.raises(HostError, match=r"CAP_SYS_RESOURCE.*BinaryName"):
        NerdctlProvider(info()).create_node(spec())


def test_list_nodes_from_status_without_state(fake_engine: FakeEngine) -> None:
    rows = [
        {
            "Names": "nc-control-plane",
            "Status": "Up",
            "Labels": f"{LABEL_CLUSTER}=nc,{LABEL_ROLE}=control-plane",
        },
        {
            "Names": "nc-worker",
            "Status": "Exited (137) 2 minutes ago",
            "Labels": f"{LABEL_CLUSTER}=nc,{LABEL_ROLE}=worker",
        },
    ]
    fake_engine.on(["ps"], out="\n".join(json.dumps(r) for r in rows))
    nodes = NerdctlProvider(info()).list_nodes("nc")
    assert [(n.name, n.state) for n in nodes] == [
        ("nc-control-plane", "running"),
        ("nc-worker", "exited"),
    ]
