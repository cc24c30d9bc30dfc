from __future__ import annotations

import base64
import dataclasses
from typing import Any

import pytest
import yaml

from nestkube.errors import ConfigError
from nestkube.kubeadm.config import (
    KubeadmParams,
    render_discovery_kubeconfig,
    render_init_config,
    render_join_config,
    skip_phases_args,
)

SOCKET_URL = "unix:///run/containerd/containerd.sock"


def params(version: str = "v1.20.2", **overrides: Any) -> KubeadmParams:
    base = KubeadmParams(
        kubernetes_version=version,
        cluster_name="demo",
        node_name="demo-control-plane",
        node_ip="10.89.0.2",
        control_plane_endpoint="demo-control-plane:6443",
        api_server_cert_sans=("localhost", "127.0.0.1"),
    )
    return dataclasses.replace(base, **overrides)


def init_docs(p: KubeadmParams) -> dict[str, dict[str, Any]]:
    docs = list(yaml.safe_load_all(render_init_config(p)))
    by_kind = {d["kind"]: d for d in docs}
    assert len(by_kind) == len(docs) == 4
    return by_kind


def join_doc(p: KubeadmParams) -> dict[str, Any]:
    docs = list(yaml.safe_load_all(render_join_config(p)))
    assert len(docs) == 1
    doc: dict[str, Any] = docs[0]
    assert doc["kind"] == "JoinConfiguration"
    return doc


ALL_VERSIONS = ["v1.20.2", "v1.22.17", "v1.23.17", "v1.27.3", "v1.35.0", "v1.36.0"]


@pytest.mark.parametrize(
    "version,api",
    [
        ("v1.20.2", "v1beta2"),
        ("v1.22.17", "v1beta2"),
        ("v1.23.17", "v1beta3"),
        ("v1.27.3", "v1beta3"),
        ("v1.35.0", "v1beta3"),
        ("v1.36.0", "v1beta4"),
    ],
)
def test_api_versions_per_band(version: str, api: str) -> None:
    docs = init_docs(params(version))
    assert docs["InitConfiguration"]["apiVersion"] == f"kubeadm.k8s.io/{api}"
    assert docs["ClusterConfiguration"]["apiVersion"] == f"kubeadm.k8s.io/{api}"
    assert docs["KubeletConfiguration"]["apiVersion"] == "kubelet.config.k8s.io/v1beta1"
    assert docs["KubeProxyConfiguration"]["apiVersion"] == "kubeproxy.config.k8s.io/v1alpha1"
    assert join_doc(params(version))["apiVersion"] == f"kubeadm.k8s.io/{api}"


def test_document_order_is_init_cluster_kubelet_proxy() -> None:
    kinds = [d["kind"] for d in yaml.safe_load_all(render_init_config(params()))]
    assert kinds == [
        "InitConfiguration",
        "ClusterConfiguration",
        "KubeletConfiguration",
        "KubeProxyConfiguration",
    ]


def test_v1_20_full_shape() -> None:
    docs = init_docs(params("v1.20.2", node_labels={"b": "2", "a": "1"}))
    init = docs["InitConfiguration"]
    assert init["bootstrapTokens"] == [{"token": "abcdef.0123456789abcdef"}]
    assert init["localAPIEndpoint"] == {"advertiseAddress": "10.89.0.2", "bindPort": 6443}
    assert init["nodeRegistration"] == {
        "name": "demo-control-plane",
        "criSocket": "/run/containerd/containerd.sock",
        "kubeletExtraArgs": {
            "node-ip": "10.89.0.2",
            "node-labels": "a=1,b=2",
            "container-runtime": "remote",
            "container-runtime-endpoint": SOCKET_URL,
        },
    }
    assert "skipPhases" not in init
    assert "timeouts" not in init

    cluster = docs["ClusterConfiguration"]
    assert cluster["kubernetesVersion"] == "v1.20.2"
    assert cluster["clusterName"] == "demo"
    assert cluster["controlPlaneEndpoint"] == "demo-control-plane:6443"
    assert cluster["imageRepository"] == "k8s.gcr.io"
    assert cluster["networking"] == {
        "podSubnet": "10.244.0.0/16",
        "serviceSubnet": "10.96.0.0/16",
        "dnsDomain": "cluster.local",
    }
    assert cluster["apiServer"] == {
        "certSANs": ["localhost", "127.0.0.1"],
        "timeoutForControlPlane": "8m0s",
    }
    assert cluster["controllerManager"] == {"extraArgs": {"enable-hostpath-provisioner": "true"}}
    assert "scheduler" not in cluster
    assert cluster["etcd"] == {"local": {"dataDir": "/var/lib/etcd"}}
    assert cluster["dns"] == {"type": "CoreDNS"}
    assert cluster["useHyperKubeImage"] is False

    kubelet = docs["KubeletConfiguration"]
    assert kubelet["cgroupDriver"] == "cgroupfs"
    assert kubelet["failSwapOn"] is False
    assert kubelet["evictionHard"]["imagefs.available"] == "0%"
    assert kubelet["evictionHard"]["nodefs.available"] == "0%"
    assert kubelet["evictionHard"]["nodefs.inodesFree"] == "0%"
    assert "cgroupsPerQOS" not in kubelet
    assert "featureGates" not in kubelet
    assert "containerRuntimeEndpoint" not in kubelet

    proxy = docs["KubeProxyConfiguration"]
    assert proxy["mode"] == "iptables"
    assert proxy["clusterCIDR"] == "10.244.0.0/16"
    assert proxy["conntrack"] == {"maxPerCore": 0}


def test_rootless_before_1_22_gets_no_user_namespace_tweaks() -> None:
    docs = init_docs(params("v1.21.14", rootless=True))
    assert "featureGates" not in docs["KubeletConfiguration"]
    assert docs["KubeProxyConfiguration"]["conntrack"] == {"maxPerCore": 0}


def test_1_22_rootful() -> None:
    docs = init_docs(params("v1.22.17"))
    assert "featureGates" not in docs["KubeletConfiguration"]
    assert docs["KubeProxyConfiguration"]["conntrack"] == {"maxPerCore": 0}


def test_1_22_rootless() -> None:
    docs = init_docs(params("v1.22.17", rootless=True, cgroup_driver="systemd"))
    kubelet = docs["KubeletConfiguration"]
    assert kubelet["featureGates"] == {"KubeletInUserNamespace": True}
    assert kubelet["cgroupDriver"] == "systemd"
    assert docs["KubeProxyConfiguration"]["conntrack"] == {
        "maxPerCore": 0,
        "tcpEstablishedTimeout": "0s",
        "tcpCloseWaitTimeout": "0s",
    }
    # Still v1beta2 at 1.22.
    assert docs["ClusterConfiguration"]["dns"] == {"type": "CoreDNS"}


@pytest.mark.parametrize("version", ["v1.23.17", "v1.27.3", "v1.35.0", "v1.36.0"])
def test_rootless_later_versions(version: str) -> None:
    docs = init_docs(params(version, rootless=True))
    assert docs["KubeletConfiguration"]["featureGates"]["KubeletInUserNamespace"] is True
    assert docs["KubeProxyConfiguration"]["conntrack"]["tcpCloseWaitTimeout"] == "0s"


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("rootless", [False, True])
def test_conntrack_max_per_core_is_always_zero(version: str, rootless: bool) -> None:
    docs = init_docs(params(version, rootless=rootless))
    assert docs["KubeProxyConfiguration"]["conntrack"]["maxPerCore"] == 0


def test_1_23_drops_v1beta2_only_fields_and_carries_skip_phases() -> None:
    docs = init_docs(params("v1.23.17", skip_phases=("addon/kube-proxy",)))
    cluster = docs["ClusterConfiguration"]
    assert "dns" not in cluster
    assert "useHyperKubeImage" not in cluster
    assert cluster["imageRepository"] == "k8s.gcr.io"
    init = docs["InitConfiguration"]
    assert init["skipPhases"] == ["addon/kube-proxy"]
    assert init["nodeRegistration"]["criSocket"] == SOCKET_URL
    assert init["nodeRegistration"]["kubeletExtraArgs"] == {
        "node-ip": "10.89.0.2",
        "container-runtime": "remote",
        "container-runtime-endpoint": SOCKET_URL,
    }
    assert "containerRuntimeEndpoint" not in docs["KubeletConfiguration"]


def test_v1beta2_never_renders_skip_phases() -> None:
    docs = init_docs(params("v1.20.2", skip_phases=("addon/kube-proxy",)))
    assert "skipPhases" not in docs["InitConfiguration"]
    assert "skipPhases" not in join_doc(params("v1.20.2", skip_phases=("preflight",)))


@pytest.mark.parametrize(
    "version,flags,field",
    [
        (
            "v1.20.2",
            {"container-runtime": "remote", "container-runtime-endpoint": SOCKET_URL},
            False,
        ),
        (
            "v1.23.17",
            {"container-runtime": "remote", "container-runtime-endpoint": SOCKET_URL},
            False,
        ),
        ("v1.24.0", {"container-runtime-endpoint": SOCKET_URL}, False),
        ("v1.26.15", {"container-runtime-endpoint": SOCKET_URL}, False),
        ("v1.27.0", {}, True),
        ("v1.35.0", {}, True),
        ("v1.36.0", {}, True),
    ],
)
def test_kubelet_runtime_endpoint(version: str, flags: dict[str, str], field: bool) -> None:
    docs = init_docs(params(version))
    kubelet = docs["KubeletConfiguration"]
    if field:
        assert kubelet["containerRuntimeEndpoint"] == SOCKET_URL
    else:
        assert "containerRuntimeEndpoint" not in kubelet
    raw = docs["InitConfiguration"]["nodeRegistration"]["kubeletExtraArgs"]
    args = {a["name"]: a["value"] for a in raw} if isinstance(raw, list) else raw
    assert args == {"node-ip": "10.89.0.2", **flags}


@pytest.mark.parametrize(
    "version,repo",
    [
        ("v1.20.2", "k8s.gcr.io"),
        ("v1.24.17", "k8s.gcr.io"),
        ("v1.25.0-rc.0", "registry.k8s.io"),
        ("v1.25.0", "registry.k8s.io"),
        ("v1.27.3", "registry.k8s.io"),
        ("v1.36.0", "registry.k8s.io"),
    ],
)
def test_image_repository(version: str, repo: str) -> None:
    assert init_docs(params(version))["ClusterConfiguration"]["imageRepository"] == repo


GATES = {"SomeGate": True, "AnotherGate": False}
RUNTIME = {"api/all": "false", "apps/v1": "true"}


@pytest.mark.parametrize("version", ["v1.20.2", "v1.23.17", "v1.27.3", "v1.35.0"])
def test_extra_args_are_maps_before_v1beta4(version: str) -> None:
    docs = init_docs(params(version, feature_gates=GATES, runtime_config=RUNTIME))
    cluster = docs["ClusterConfiguration"]
    gates = "AnotherGate=false,SomeGate=true"
    assert cluster["apiServer"]["extraArgs"] == {
        "runtime-config": "api/all=false,apps/v1=true",
        "feature-gates": gates,
    }
    assert cluster["controllerManager"]["extraArgs"] == {
        "enable-hostpath-provisioner": "true",
        "feature-gates": gates,
    }
    assert cluster["scheduler"]["extraArgs"] == {"feature-gates": gates}
    assert isinstance(docs["InitConfiguration"]["nodeRegistration"]["kubeletExtraArgs"], dict)
    assert docs["KubeletConfiguration"]["featureGates"] == GATES
    assert docs["KubeProxyConfiguration"]["featureGates"] == GATES


def test_v1beta4_extra_args_are_name_value_lists() -> None:
    docs = init_docs(
        params(
            "v1.36.0",
            feature_gates=GATES,
            runtime_config=RUNTIME,
            node_labels={"tier": "x"},
            provider="podman",
        )
    )
    cluster = docs["ClusterConfiguration"]
    gates = "AnotherGate=false,SomeGate=true"
    assert cluster["apiServer"]["extraArgs"] == [
        {"name": "feature-gates", "value": gates},
        {"name": "runtime-config", "value": "api/all=false,apps/v1=true"},
    ]
    assert cluster["controllerManager"]["extraArgs"] == [
        {"name": "enable-hostpath-provisioner", "value": "true"},
        {"name": "feature-gates", "value": gates},
    ]
    assert cluster["scheduler"]["extraArgs"] == [{"name": "feature-gates", "value": gates}]
    assert docs["InitConfiguration"]["nodeRegistration"]["kubeletExtraArgs"] == [
        {"name": "node-ip", "value": "10.89.0.2"},
        {"name": "node-labels", "value": "tier=x"},
        {"name": "provider-id", "value": "nestkube://podman/demo/demo-control-plane"},
    ]


def test_v1beta4_timeouts_replace_old_fields() -> None:
    docs = init_docs(params("v1.36.0", control_plane_timeout="6m0s"))
    assert docs["InitConfiguration"]["timeouts"] == {
        "controlPlaneComponentHealthCheck": "6m0s",
        "kubernetesAPICall": "8m0s",
    }
    assert "timeoutForControlPlane" not in docs["ClusterConfiguration"]["apiServer"]
    assert "dns" not in docs["ClusterConfiguration"]
    assert "useHyperKubeImage" not in docs["ClusterConfiguration"]
    join = join_doc(params("v1.36.0", discovery_timeout="7m0s"))
    assert join["timeouts"] == {"discovery": "7m0s", "kubernetesAPICall": "8m0s"}
    assert "timeout" not in join["discovery"]


@pytest.mark.parametrize("version", ["v1.20.2", "v1.23.17", "v1.35.0"])
def test_pre_v1beta4_timeouts(version: str) -> None:
    cluster = init_docs(params(version, control_plane_timeout="6m0s"))["ClusterConfiguration"]
    assert cluster["apiServer"]["timeoutForControlPlane"] == "6m0s"
    join = join_doc(params(version, discovery_timeout="7m0s"))
    assert join["discovery"]["timeout"] == "7m0s"
    assert "timeouts" not in join


def test_user_feature_gate_can_override_rootless_gate() -> None:
    docs = init_docs(
        params("v1.27.3", rootless=True, feature_gates={"KubeletInUserNamespace": False})
    )
    assert docs["KubeletConfiguration"]["featureGates"] == {"KubeletInUserNamespace": False}


def test_kube_proxy_mode_and_pod_subnet() -> None:
    docs = init_docs(params("v1.27.3", kube_proxy_mode="ipvs", pod_subnet="10.200.0.0/16"))
    proxy = docs["KubeProxyConfiguration"]
    assert proxy["mode"] == "ipvs"
    assert proxy["clusterCIDR"] == "10.200.0.0/16"
    assert docs["ClusterConfiguration"]["networking"]["podSubnet"] == "10.200.0.0/16"


def test_provider_id_optional() -> None:
    args = init_docs(params())["InitConfiguration"]["nodeRegistration"]["kubeletExtraArgs"]
    assert "provider-id" not in args
    args = init_docs(params(provider="docker"))["InitConfiguration"]["nodeRegistration"][
        "kubeletExtraArgs"
    ]
    assert args["provider-id"] == "nestkube://docker/demo/demo-control-plane"


def test_node_ip_is_not_validated_so_plans_can_show_placeholders() -> None:
    docs = init_docs(params(node_ip="<control-plane-address>"))
    endpoint = docs["InitConfiguration"]["localAPIEndpoint"]
    assert endpoint["advertiseAddress"] == "<control-plane-address>"


def test_version_without_v_is_normalised() -> None:
    assert init_docs(params("1.27.3"))["ClusterConfiguration"]["kubernetesVersion"] == "v1.27.3"


def test_worker_join_v1beta2() -> None:
    doc = join_doc(
        params("v1.20.2", control_plane=False, node_name="demo-worker", node_ip="10.89.0.3")
    )
    assert doc["discovery"] == {
        "file": {"kubeConfigPath": "/etc/nestkube/discovery.conf"},
        "tlsBootstrapToken": "abcdef.0123456789abcdef",
        "timeout": "5m0s",
    }
    assert "controlPlane" not in doc
    reg = doc["nodeRegistration"]
    assert reg["name"] == "demo-worker"
    assert reg["criSocket"] == "/run/containerd/containerd.sock"
    assert reg["kubeletExtraArgs"]["node-ip"] == "10.89.0.3"
    assert reg["kubeletExtraArgs"]["container-runtime"] == "remote"
    # kubeadm rejects "all" in a config file; preflight is skipped as a phase instead.
    assert "ignorePreflightErrors" not in reg


@pytest.mark.parametrize("version", ["v1.23.17", "v1.36.0"])
def test_control_plane_join(version: str) -> None:
    doc = join_doc(params(version, certificate_key="ab" * 32, skip_phases=("preflight",)))
    assert doc["controlPlane"] == {
        "localAPIEndpoint": {"advertiseAddress": "10.89.0.2", "bindPort": 6443},
        "certificateKey": "ab" * 32,
    }
    assert doc["skipPhases"] == ["preflight"]
    assert doc["nodeRegistration"]["criSocket"] == SOCKET_URL


def test_control_plane_join_without_certificate_key() -> None:
    doc = join_doc(params("v1.20.2"))
    assert doc["controlPlane"] == {
        "localAPIEndpoint": {"advertiseAddress": "10.89.0.2", "bindPort": 6443}
    }


def test_v1beta4_join_kubelet_args_are_lists() -> None:
    doc = join_doc(params("v1.36.0", control_plane=False))
    assert doc["nodeRegistration"]["kubeletExtraArgs"] == [
        {"name": "node-ip", "value": "10.89.0.2"}
    ]


def test_skip_phases_args() -> None:
    assert skip_phases_args("v1.20.2", ("preflight", "addon/kube-proxy")) == [
        "--skip-phases=preflight,addon/kube-proxy"
    ]
    assert skip_phases_args("v1.22.17", []) == []
    assert skip_phases_args("v1.23.0", ["preflight"]) == []
    assert skip_phases_args("v1.36.0", ["preflight"]) == []


def test_string_values_stay_strings_in_yaml() -> None:
    text = render_init_config(params("v1.20.2"))
    # "true" must be quoted or kubeadm would decode a bool into a string map.
    assert "enable-hostpath-provisioner: 'true'" in text
    assert text.count("\n---\n") == 3


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"kubernetes_version": "1.20"}, "not a Kubernetes version"),
        ({"cgroup_driver": "sytemd"}, "unknown cgroup driver 'sytemd'"),
        ({"kube_proxy_mode": "userspace"}, "unknown kube-proxy mode 'userspace'"),
        ({"pod_subnet": "10.244.0.1/16"}, "pod subnet '10.244.0.1/16' is not a CIDR"),
        ({"service_subnet": "x"}, "service subnet 'x' is not a CIDR"),
    ],
)
def test_invalid_params(overrides: dict[str, Any], message: str) -> None:
    p = params(**overrides)
    with pytest.raises(ConfigError, match=message):
        render_init_config(p)
    with pytest.raises(ConfigError, match=message):
        render_join_config(p)


@pytest.mark.parametrize(
    ("version", "cgroup_v1", "expected"),
    [
        ("v1.37.2", True, False),
        ("v1.34.4", True, False),
        ("v1.31.0", True, False),
        ("v1.37.2", False, None),
        ("v1.30.0", True, None),
        ("v1.20.2", True, None),
    ],
)
def test_fail_cgroup_v1_off_only_where_the_field_exists_and_the_host_needs_it(
    version: str, cgroup_v1: bool, expected: bool | None
) -> None:
    kubelet = init_docs(params(version, host_cgroup_v1=cgroup_v1))["KubeletConfiguration"]
    assert kubelet.get("failCgroupV1") is expected


def test_etcd_image_tag_is_passed_to_kubeadm_only_when_the_image_has_its_own() -> None:
    plain = init_docs(params("v1.20.2"))["ClusterConfiguration"]["etcd"]["local"]
    assert "imageTag" not in plain
    tagged = init_docs(params("v1.20.2", etcd_image_tag="3.4.23-0"))["ClusterConfiguration"]
    assert tagged["etcd"]["local"] == {"dataDir": "/var/lib/etcd", "imageTag": "3.4.23-0"}


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_a_control_plane_without_workers_registers_untainted(version: str) -> None:
    registration = init_docs(params(version, untainted=True))["InitConfiguration"][
        "nodeRegistration"
    ]
    # [] rather than no key: no key means kubeadm's NoSchedule taint.
    assert registration["taints"] == []
    assert join_doc(params(version, untainted=True))["nodeRegistration"]["taints"] == []
    tainted = init_docs(params(version))["InitConfiguration"]["nodeRegistration"]
    assert "taints" not in tainted
    # A worker is never given an empty taint list on a control plane's behalf.
    worker = join_doc(params(version, untainted=True, control_plane=False))
    assert "taints" not in worker["nodeRegistration"]


CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_the_discovery_kubeconfig_is_an_unnamed_cluster_with_the_ca_and_no_credentials() -> None:
    doc = yaml.safe_load(render_discovery_kubeconfig("10.89.0.2:6443", CA_PEM))
    # kubeadm's discovery picks the cluster named "" before it looks at any context.
    assert doc["clusters"] == [
        {
            "name": "",
            "cluster": {
                "server": "https://10.89.0.2:6443",
                "certificate-authority-data": base64.b64encode(CA_PEM.encode()).decode(),
            },
        }
    ]
    assert doc["users"] == [] and doc["contexts"] == []


def test_a_discovery_kubeconfig_needs_a_pem_ca() -> None:
    with pytest.raises(ConfigError, match="no PEM certificate"):
        render_discovery_kubeconfig("10.89.0.2:6443", "")


def test_kubelets_ask_for_serving_certificates_only_when_told() -> None:
    assert "serverTLSBootstrap" not in init_docs(params("v1.37.2"))["KubeletConfiguration"]
    on = params("v1.37.2", kubelet_serving_certificates=True)
    assert init_docs(on)["KubeletConfiguration"]["serverTLSBootstrap"] is True
