from __future__ import annotations

import tomllib
from typing import Any

import pytest

from nestkube.errors import ConfigError
from nestkube.kubeadm.containerd import merge_tables, render_containerd_config

CRI = "io.containerd.grpc.v1.cri"


def render(**overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "restrict_oom_score_adj": True,
        "cgroup_driver": "cgroupfs",
        "sandbox_image": "k8s.gcr.io/pause:3.2",
    }
    kwargs.update(overrides)
    return tomllib.loads(render_containerd_config(**kwargs))


def cri(config: dict[str, Any]) -> dict[str, Any]:
    section: dict[str, Any] = config["plugins"][CRI]
    return section


def test_defaults() -> None:
    config = render()
    assert config["version"] == 2
    plugin = cri(config)
    assert plugin["sandbox_image"] == "k8s.gcr.io/pause:3.2"
    assert plugin["restrict_oom_score_adj"] is True
    assert plugin["tolerate_missing_hugetlb_controller"] is True
    assert plugin["disable_apparmor"] is True
    assert plugin["containerd"]["snapshotter"] == "overlayfs"
    assert plugin["containerd"]["discard_unpacked_layers"] is False
    assert plugin["containerd"]["default_runtime_name"] == "runc"
    runc = plugin["containerd"]["runtimes"]["runc"]
    assert runc == {"runtime_type": "io.containerd.runc.v2", "options": {"SystemdCgroup": False}}
    assert plugin["cni"] == {"bin_dir": "/opt/cni/bin", "conf_dir": "/etc/cni/net.d"}


def test_parameters() -> None:
    plugin = cri(
        render(
            restrict_oom_score_adj=False,
            cgroup_driver="systemd",
            sandbox_image="registry.k8s.io/pause:3.9",
            snapshotter="fuse-overlayfs",
            disable_apparmor=False,
        )
    )
    assert plugin["restrict_oom_score_adj"] is False
    assert plugin["sandbox_image"] == "registry.k8s.io/pause:3.9"
    assert plugin["containerd"]["snapshotter"] == "fuse-overlayfs"
    assert plugin["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is True
    assert plugin["disable_apparmor"] is False


def test_unknown_cgroup_driver() -> None:
    with pytest.raises(ConfigError, match="unknown cgroup driver 'cgroup'"):
        render(cgroup_driver="cgroup")


def test_toml_patches_merge_tables_and_replace_values() -> None:
    patch = f"""
[plugins."{CRI}"]
sandbox_image = "example/pause:1"

[plugins."{CRI}".containerd.runtimes.runc.options]
BinaryName = "/usr/local/bin/runc"

[plugins."{CRI}".registry.mirrors."docker.io"]
endpoint = ["http://mirror:5000"]
"""
    config = render(patches=[patch, f'[plugins."{CRI}".cni]\nconf_dir = "/x"\n'])
    plugin = cri(config)
    assert plugin["sandbox_image"] == "example/pause:1"
    assert plugin["restrict_oom_score_adj"] is True
    assert plugin["containerd"]["runtimes"]["runc"] == {
        "runtime_type": "io.containerd.runc.v2",
        "options": {"SystemdCgroup": False, "BinaryName": "/usr/local/bin/runc"},
    }
    assert plugin["registry"]["mirrors"]["docker.io"]["endpoint"] == ["http://mirror:5000"]
    assert plugin["cni"] == {"bin_dir": "/opt/cni/bin", "conf_dir": "/x"}


def test_toml_patch_table_replaces_scalar_and_arrays_replace() -> None:
    assert merge_tables({"a": 1, "l": [1, 2]}, {"a": {"b": 2}, "l": [3]}) == {
        "a": {"b": 2},
        "l": [3],
    }
    base = {"t": {"x": 1}}
    merge_tables(base, {"t": {"y": 2}})
    assert base == {"t": {"x": 1}}


def test_bad_toml_patch() -> None:
    with pytest.raises(ConfigError, match=r"^containerdConfigPatches\[1\]: not valid TOML: ") as e:
        render(patches=["version = 2\n", "[plugins\nx = 1\n"])
    assert "\n" not in str(e.value)


def test_json6902_patches() -> None:
    ops = f"""
- op: replace
  path: /plugins/{CRI}/containerd/snapshotter
  value: native
- op: remove
  path: /plugins/{CRI}/disable_apparmor
- op: add
  path: /plugins/{CRI}/cni/extra
  value: [1, 2]
"""
    plugin = cri(render(json6902=[ops, '[{"op": "add", "path": "/root", "value": "x"}]']))
    assert plugin["containerd"]["snapshotter"] == "native"
    assert "disable_apparmor" not in plugin
    assert plugin["cni"]["extra"] == [1, 2]


def test_json6902_runs_after_toml_patches() -> None:
    config = render(
        patches=["[extra]\nvalue = 1\n"],
        json6902=["- {op: test, path: /extra/value, value: 1}"],
    )
    assert config["extra"] == {"value": 1}


@pytest.mark.parametrize(
    "ops,message",
    [
        (
            "- {op: remove, path: /nope}",
            r"^containerdConfigPatchesJSON6902\[0\]: operation 0 \(remove /nope\): "
            r"/nope does not exist$",
        ),
        (
            "- {op: add, path: /version, value: null}",
            r"^containerdConfigPatchesJSON6902\[0\]: the result cannot be written as TOML",
        ),
        (
            "- {op: replace, path: '', value: [1]}",
            r"^containerdConfigPatchesJSON6902\[0\]: the patched config is no longer a table$",
        ),
        ("- {op: nope}", r"^containerdConfigPatchesJSON6902\[0\]: operation 0 has unknown op"),
    ],
)
def test_json6902_errors(ops: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        render(json6902=[ops])
