"""Registry hosts files, the KEP-1755 ConfigMap and the proxy's variables and drop-ins."""

from __future__ import annotations

import tomllib

import pytest
import yaml

from nestkube.errors import ConfigError
from nestkube.kubeadm import proxy
from nestkube.kubeadm.containerd import render_containerd_config
from nestkube.kubeadm.registries import (
    CONFIG_PATH_PATCH,
    check_mirror_url,
    crio_registries_conf,
    hosts_files,
    local_registry_hosting,
)


def test_hosts_files_send_each_name_to_its_endpoint() -> None:
    files = hosts_files({"localhost:5001": "http://10.89.0.250:5000", "docker.io": "http://m:5000"})
    local = tomllib.loads(files["/etc/containerd/certs.d/localhost:5001/hosts.toml"])
    assert local == {"host": {"http://10.89.0.250:5000": {"capabilities": ["pull", "resolve"]}}}
    hub = tomllib.loads(files["/etc/containerd/certs.d/docker.io/hosts.toml"])
    # Docker Hub's images are served from registry-1.docker.io when the mirror fails.
    assert hub["server"] == "https://registry-1.docker.io"
    assert list(hub["host"]) == ["http://m:5000"]


def test_crio_gets_the_same_endpoints_as_mirrors_tried_first() -> None:
    text = crio_registries_conf(
        {"localhost:5001": "http://10.89.0.250:5000", "ghcr.io": "https://m.example/ghcr"}
    )
    registries = tomllib.loads(text)["registry"]
    assert registries == [
        {
            "prefix": "localhost:5001",
            "location": "localhost:5001",
            "mirror": [{"location": "10.89.0.250:5000", "insecure": True}],
        },
        {
            "prefix": "ghcr.io",
            "location": "ghcr.io",
            "mirror": [{"location": "m.example/ghcr", "insecure": False}],
        },
    ]


def test_the_config_path_patch_gives_containerd_its_hosts_directory() -> None:
    text = render_containerd_config(
        restrict_oom_score_adj=False,
        cgroup_driver="systemd",
        sandbox_image="registry.k8s.io/pause:3.10",
        patches=[CONFIG_PATH_PATCH],
    )
    cri = tomllib.loads(text)["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["registry"] == {"config_path": "/etc/containerd/certs.d"}
    assert cri["sandbox_image"] == "registry.k8s.io/pause:3.10"


@pytest.mark.parametrize("url", ["nope", "ftp://x", "http://", "http://h:99999", "h:5000"])
def test_a_mirror_that_is_not_a_url_is_one_line(url: str) -> None:
    with pytest.raises(ConfigError, match="is not a URL") as err:
        check_mirror_url(url, "registryMirrors.docker.io")
    assert "\n" not in str(err.value)


def test_local_registry_hosting_is_kep_1755s_configmap() -> None:
    doc = yaml.safe_load(local_registry_hosting("localhost:5001", "10.89.0.250:5000"))
    assert doc["metadata"] == {"name": "local-registry-hosting", "namespace": "kube-public"}
    hosting = yaml.safe_load(doc["data"]["localRegistryHosting.v1"])
    assert hosting["host"] == "localhost:5001"
    assert hosting["hostFromContainerRuntime"] == "10.89.0.250:5000"


def test_the_proxy_reads_either_case_upper_first_and_the_config_wins() -> None:
    env = {"http_proxy": "http://low:1", "HTTPS_PROXY": "http://up:2", "https_proxy": "x"}
    assert proxy.from_environment(env) == proxy.Proxy("http://low:1", "http://up:2", "")
    configured = proxy.Proxy(http="http://cfg:3")
    assert proxy.resolve(configured, env) == proxy.Proxy("http://cfg:3", "http://up:2", "")
    assert not proxy.resolve(None, {"NO_PROXY": "a"})


def test_no_proxy_keeps_the_users_entries_first_and_each_once() -> None:
    got = proxy.no_proxy("corp.example, localhost", ["10.244.0.0/16", "node-a", "node-a"])
    assert got.split(",") == [
        "corp.example",
        "localhost",
        "127.0.0.1",
        "::1",
        ".svc",
        ".svc.cluster.local",
        "10.244.0.0/16",
        "node-a",
    ]


def test_drop_ins_set_both_cases_for_each_unit() -> None:
    files = proxy.drop_ins(proxy.Proxy("http://p:3128", "", "a,b"), ["containerd", "kubelet"])
    assert set(files) == {
        "/etc/systemd/system/containerd.service.d/10-nestkube-proxy.conf",
        "/etc/systemd/system/kubelet.service.d/10-nestkube-proxy.conf",
    }
    text = files["/etc/systemd/system/kubelet.service.d/10-nestkube-proxy.conf"]
    assert text.splitlines() == [
        "[Service]",
        'Environment="HTTP_PROXY=http://p:3128"',
        'Environment="http_proxy=http://p:3128"',
        'Environment="NO_PROXY=a,b"',
        'Environment="no_proxy=a,b"',
    ]
    assert proxy.drop_ins(proxy.Proxy(no_proxy="a"), ["kubelet"]) == {}
