"""The pinned component table: one place, and every build derived from it."""

from __future__ import annotations

import pytest

from nestkube.errors import ImageBuildError
from nestkube.kit import releases


def test_default_release_is_current_and_has_a_runtime() -> None:
    assert releases.DEFAULT_KUBERNETES_VERSION == "v1.37.2"
    assert releases.from_modules(releases.DEFAULT_KUBERNETES_VERSION)
    assert releases.runtime_for(releases.DEFAULT_KUBERNETES_VERSION).containerd.startswith("v2.")


def test_debian_release_is_not_a_module_build() -> None:
    assert not releases.from_modules("v1.20.2")
    with pytest.raises(ImageBuildError, match="Debian's source package"):
        releases.kubernetes_build("v1.20.2")


def test_every_pinned_runtime_is_containerd_2() -> None:
    for minor, runtime in releases.RUNTIMES.items():
        assert runtime.containerd.startswith("v2."), minor
        assert runtime.crictl <= f"v1.{minor}.99", minor


def test_unknown_minor_is_refused() -> None:
    with pytest.raises(
        ImageBuildError, match=r"no node runtime is pinned for Kubernetes v1\.40\.0"
    ):
        releases.runtime_for("v1.40.0")


def test_kubernetes_build_sets_versions_and_staging() -> None:
    spec = releases.kubernetes_build("v1.34.4")
    assert spec.module == "k8s.io/kubernetes"
    assert spec.version == "v1.34.4"
    assert spec.local_replaces_at == "v0.34.4"
    assert spec.variables["k8s.io/component-base/version.gitVersion"] == "v1.34.4"
    assert spec.variables["k8s.io/component-base/version.gitMinor"] == "34"
    assert set(spec.commands) == set(releases.KUBE_COMMANDS)


def test_image_builds_follow_kubeadm_tags() -> None:
    etcd = releases.etcd_build("3.7.0-0")
    assert (etcd.module, etcd.version) == ("go.etcd.io/etcd/server/v3", "v3.7.0")
    coredns = releases.coredns_build("v1.14.6")
    assert (coredns.module, coredns.version) == ("github.com/coredns/coredns", "v1.14.6")


def test_runtime_builds() -> None:
    runtime = releases.runtime_for("v1.37.2")
    assert set(releases.containerd_build(runtime).commands) == {
        "containerd",
        "containerd-shim-runc-v2",
        "ctr",
    }
    runc = releases.runc_build(runtime)
    assert runc.cgo and "seccomp" in runc.tags
    assert set(releases.cni_plugins_build(runtime).commands) == set(releases.CNI_PLUGINS)
    assert releases.crictl_build(runtime).version == runtime.crictl
