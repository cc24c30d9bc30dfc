from __future__ import annotations

import pytest

from nestkube.errors import ConfigError
from nestkube.kubeadm.version import KubeVersion, kubeadm_api_version, parse_version


def test_parse_with_and_without_v() -> None:
    assert parse_version("v1.20.2") == KubeVersion(1, 20, 2)
    assert parse_version("1.20.2") == KubeVersion(1, 20, 2)
    assert parse_version(" v1.20.2\n") == KubeVersion(1, 20, 2)


def test_parse_prerelease_and_build() -> None:
    assert parse_version("1.29.0-rc.1") == KubeVersion(1, 29, 0, ("rc", 1))
    assert parse_version("v1.29.0-alpha.0+abc.1") == KubeVersion(1, 29, 0, ("alpha", 0))


def test_str_round_trip() -> None:
    assert str(parse_version("1.29.0-rc.1")) == "v1.29.0-rc.1"
    assert str(parse_version("v1.20.2")) == "v1.20.2"


@pytest.mark.parametrize(
    "lower,higher",
    [
        ("v1.20.2", "v1.20.10"),
        ("v1.9.0", "v1.10.0"),
        ("v1.29.0-rc.1", "v1.29.0"),
        ("v1.29.0-alpha.1", "v1.29.0-beta.0"),
        ("v1.29.0-rc.9", "v1.29.0-rc.10"),
        ("v1.29.0-rc.1", "v1.29.0-rc.1.1"),
        ("v1.29.0-1", "v1.29.0-rc"),
        ("v1.28.15", "v1.29.0-alpha.0"),
    ],
)
def test_ordering(lower: str, higher: str) -> None:
    a, b = parse_version(lower), parse_version(higher)
    assert a < b
    assert a <= b
    assert b > a
    assert b >= a
    assert a != b
    assert sorted([b, a]) == [a, b]


def test_equal_ignores_build_metadata() -> None:
    assert parse_version("v1.20.2+really1") == parse_version("1.20.2")
    assert parse_version("v1.20.2") <= parse_version("1.20.2")


@pytest.mark.parametrize(
    "bad", ["", "1.20", "v1.20.x", "1.20.2.3", "v01.20.2", "latest", "1.20.2-"]
)
def test_parse_rejects(bad: str) -> None:
    with pytest.raises(ConfigError, match="not a Kubernetes version"):
        parse_version(bad)


def test_at_least_counts_prereleases_in_their_minor() -> None:
    assert parse_version("v1.23.0-rc.1").at_least(1, 23)
    assert not parse_version("v1.22.17").at_least(1, 23)
    assert parse_version("v2.0.0").at_least(1, 99)


@pytest.mark.parametrize(
    "version,api",
    [
        ("v1.20.2", "kubeadm.k8s.io/v1beta2"),
        ("v1.22.17", "kubeadm.k8s.io/v1beta2"),
        ("v1.23.0-rc.1", "kubeadm.k8s.io/v1beta3"),
        ("v1.23.0", "kubeadm.k8s.io/v1beta3"),
        ("v1.27.3", "kubeadm.k8s.io/v1beta3"),
        ("v1.35.9", "kubeadm.k8s.io/v1beta3"),
        ("v1.36.0-alpha.1", "kubeadm.k8s.io/v1beta4"),
        ("v1.36.0", "kubeadm.k8s.io/v1beta4"),
    ],
)
def test_kubeadm_api_version(version: str, api: str) -> None:
    assert kubeadm_api_version(version) == api
    assert kubeadm_api_version(parse_version(version)) == api
