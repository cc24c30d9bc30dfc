"""Pins and configs of the runtimes built from Go modules beside the node kit: the host
nerdctl set (nerdctl, containerd, CNI plugins) and CRI-O with pinns."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from nestkube.errors import ImageBuildError
from nestkube.kit import crio, releases
from nestkube.kit.gomod import GoModuleBuild
from nestkube.kit.host_nerdctl import CRI_PLUGINS, containerd_config, nerdctl_toml
from nestkube.kit.toolchain import GoToolchain

TOOLCHAIN = GoToolchain(go=Path("/usr/local/go/bin/go"), version="go1.26.8")


def test_host_containerd_has_its_own_root_state_and_socket() -> None:
    text = containerd_config(root=Path("/r"), state=Path("/s"), address=Path("/s/c.sock"))
    config = tomllib.loads(text)
    assert config["version"] == 3
    assert (config["root"], config["state"]) == ("/r", "/s")
    assert config["grpc"]["address"] == "/s/c.sock"
    assert config["ttrpc"]["address"] == "/s/c.sock.ttrpc"
    assert set(config["disabled_plugins"]) == set(CRI_PLUGINS)


def test_nerdctl_toml_points_at_that_containerd() -> None:
    text = nerdctl_toml(
        address=Path("/s/c.sock"), data_root=Path("/d"), cni_path=Path("/cni"), netconf=Path("/n")
    )
    assert tomllib.loads(text) == {
        "address": "/s/c.sock",
        "data_root": "/d",
        "cni_path": "/cni",
        "cni_netconfpath": "/n",
    }


def test_host_cni_set_adds_what_nerdctl_bridges_chain() -> None:
    runtime = releases.runtime_for(releases.DEFAULT_KUBERNETES_VERSION)
    node = releases.cni_plugins_build(runtime)
    host = releases.cni_plugins_build(runtime, releases.HOST_CNI_PLUGINS)
    assert set(host.commands) == set(node.commands) | {"firewall", "tuning"}
    # The node image's build (and its cache key) is unchanged by the host set.
    assert node == releases.cni_plugins_build(runtime, releases.CNI_PLUGINS)


def test_nerdctl_pin_sets_its_version_variable() -> None:
    build = releases.nerdctl_build()
    assert build.version == releases.NERDCTL
    assert build.variables == {"github.com/containerd/nerdctl/v2/pkg/version.Version": "v2.0.4"}


def test_sums_from_module_does_not_change_the_cache_key() -> None:
    plain = GoModuleBuild(name="x", module="example.com/x", version="v1.0.0", commands={"x": "x"})
    seeded = GoModuleBuild(
        name="x",
        module="example.com/x",
        version="v1.0.0",
        commands={"x": "x"},
        sums_from_module=True,
    )
    assert plain.key(TOOLCHAIN) == seeded.key(TOOLCHAIN)


def test_crio_follows_the_kubernetes_minor() -> None:
    assert releases.crio_version_for("v1.34.4") == "v1.34.0"
    assert crio.require_crio("v1.34.4") == "v1.34.0"
    build = releases.crio_build("v1.34.0")
    assert build.cgo and build.sums_from_module
    assert {"containers_image_openpgp", "exclude_graphdriver_btrfs"} <= set(build.tags)


def test_crio_for_an_unserved_minor_is_one_line() -> None:
    with pytest.raises(ImageBuildError) as caught:
        crio.require_crio("v1.37.2")
    msg = str(caught.value)
    assert "\n" not in msg
    assert "Kubernetes v1.37.2" in msg and "v1.34" in msg


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc builds pinns")
def test_pinns_is_compiled_once_per_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    src = tmp_path / "src"
    src.mkdir()
    (src / "pinns.c").write_text("int main(void) { return 0; }\n")
    first = crio.build_pinns("v0.0.1", src)
    assert first.is_file()
    built_at = first.stat().st_mtime_ns
    assert crio.build_pinns("v0.0.1", src) == first
    assert first.stat().st_mtime_ns == built_at
