"""Every field of both formats, and the defaults applied when it is absent."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from nestkube.config import (
    ClusterConfig,
    ExtraMount,
    ExtraPortMapping,
    ImageBuild,
    Networking,
    NodeConfig,
    PatchJSON6902,
    Ulimits,
    load_config,
)
from nestkube.errors import ConfigError
from nestkube.providers.base import Mount, PortMapping
from nestkube.providers.facts import ENGINES

KIND_HEAD = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"
NK_HEAD = "kind: Cluster\napiVersion: nestkube.io/v1alpha1\n"
HEADS = pytest.mark.parametrize("head", [KIND_HEAD, NK_HEAD], ids=["kind", "nestkube"])


def load(text: str, name: str = "/etc/nk/cluster.yaml") -> ClusterConfig:
    return load_config(name, text=textwrap.dedent(text))


# --- defaults ---------------------------------------------------------------------------
@HEADS
def test_minimal_document_defaults(head: str) -> None:
    cfg = load(head)
    assert cfg.name == "nestkube"
    assert cfg.nodes == [NodeConfig(role="control-plane")]
    assert cfg.networking == Networking(
        ip_family="ipv4",
        api_server_address="127.0.0.1",
        api_server_port=0,
        pod_subnet="10.244.0.0/16",
        service_subnet="10.96.0.0/16",
        disable_default_cni=False,
        kube_proxy_mode="iptables",
        dns_search=None,
    )
    assert cfg.feature_gates == {}
    assert cfg.runtime_config == {}
    assert cfg.kubeadm_config_patches == []
    assert cfg.kubeadm_config_patches_json6902 == []
    assert cfg.containerd_config_patches == []
    assert cfg.containerd_config_patches_json6902 == []
    assert cfg.provider is None
    assert cfg.rootless is None
    assert cfg.restrict_oom_score_adj is None
    assert cfg.ulimits is None
    assert cfg.drop_capabilities == []
    assert cfg.image_build is None


def test_source_kind() -> None:
    assert load(KIND_HEAD).source_kind == "kind"
    assert load(NK_HEAD).source_kind == "nestkube"


@HEADS
def test_empty_nodes_list_means_one_control_plane(head: str) -> None:
    assert load(head + "nodes: []\n").nodes == [NodeConfig()]


def test_node_defaults() -> None:
    node = load(KIND_HEAD + "nodes:\n- {}\n").nodes[0]
    assert node.role == "control-plane"
    assert node.image is None
    assert node.labels == {}
    assert node.extra_mounts == []
    assert node.extra_port_mappings == []
    assert node.kubeadm_config_patches == []
    assert node.kubeadm_config_patches_json6902 == []
    assert node.runtime == "containerd"


@pytest.mark.parametrize(
    ("family", "address", "pod", "service"),
    [
        ("ipv4", "127.0.0.1", "10.244.0.0/16", "10.96.0.0/16"),
    ],
)
def test_networking_defaults_per_family(family: str, address: str, pod: str, service: str) -> None:
    net = load(KIND_HEAD + f"networking:\n  ipFamily: {family}\n").networking
    assert (net.ip_family, net.api_server_address, net.pod_subnet, net.service_subnet) == (
        family,
        address,
        pod,
        service,
    )
    assert Networking.for_family(net.ip_family) == net


def test_port_mapping_defaults() -> None:
    pm = load(KIND_HEAD + "nodes:\n- extraPortMappings:\n  - containerPort: 80\n").nodes[0]
    assert pm.extra_port_mappings == [
        ExtraPortMapping(container_port=80, host_port=0, listen_address="0.0.0.0", protocol="TCP")
    ]


@pytest.mark.parametrize("family", ["ipv6", "dual"])
def test_ipv6_families_are_not_supported_yet(family: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(KIND_HEAD + f"networking: {{ipFamily: {family}}}\n")
    assert str(info.value) == (
        f"/etc/nk/cluster.yaml: networking.ipFamily: {family} is not supported yet: the pod "
        "network is IPv4 only; use ipv4"
    )


def test_mount_defaults() -> None:
    text = KIND_HEAD + "nodes:\n- extraMounts:\n  - {hostPath: /a, containerPath: /b}\n"
    assert load(text).nodes[0].extra_mounts == [
        ExtraMount(
            host_path="/a",
            container_path="/b",
            read_only=False,
            selinux_relabel=False,
            propagation="None",
        )
    ]


def test_empty_strings_mean_unset_like_kind() -> None:
    text = KIND_HEAD + (
        'name: ""\nnodes:\n- image: ""\n  extraPortMappings:\n  - containerPort: 80\n'
        '    listenAddress: ""\nnetworking:\n  apiServerAddress: ""\n  podSubnet: ""\n'
    )
    cfg = load(text)
    assert cfg.name == "nestkube"
    assert cfg.nodes[0].image is None
    assert cfg.nodes[0].extra_port_mappings[0].listen_address == "0.0.0.0"
    assert cfg.networking.api_server_address == "127.0.0.1"
    assert cfg.networking.pod_subnet == "10.244.0.0/16"


# --- every field set --------------------------------------------------------------------
FULL_BODY = """\
name: full
nodes:
- role: control-plane
  image: nestkube/node:v1.31.2
  labels:
    tier: control
    topology.kubernetes.io/zone: a
  extraMounts:
  - hostPath: /srv/data
    containerPath: /data
    readOnly: true
    selinuxRelabel: true
    propagation: Bidirectional
  - hostPath: rel/dir
    containerPath: /rel
  extraPortMappings:
  - containerPort: 30000
    hostPort: 30000
    listenAddress: 127.0.0.1
    protocol: UDP
  - containerPort: 30001
    hostPort: -1
    protocol: SCTP
  kubeadmConfigPatches:
  - |
    kind: InitConfiguration
    nodeRegistration:
      kubeletExtraArgs:
        node-labels: "ingress-ready=true"
  kubeadmConfigPatchesJSON6902:
  - group: kubeadm.k8s.io
    version: v1beta3
    kind: InitConfiguration
    patch: |
      - op: add
        path: /nodeRegistration/taints
        value: []
- role: worker
  image: nestkube/node:v1.31.2
networking:
  ipFamily: ipv4
  apiServerAddress: 127.0.0.2
  apiServerPort: 6443
  podSubnet: 10.200.0.0/16
  serviceSubnet: 10.100.0.0/16
  disableDefaultCNI: true
  kubeProxyMode: ipvs
  dnsSearch: [example.com, corp.example]
featureGates:
  InPlacePodVerticalScaling: true
  SomeGate: false
runtimeConfig:
  api/alpha: "false"
  resource.k8s.io/v1alpha3: "true"
kubeadmConfigPatches:
- |
  apiVersion: kubeadm.k8s.io/v1beta3
  kind: ClusterConfiguration
  apiServer:
    extraArgs:
      enable-admission-plugins: NodeRestriction
kubeadmConfigPatchesJSON6902:
- version: v1beta3
  kind: ClusterConfiguration
  patch: '[{"op": "add", "path": "/apiServer/certSANs/-", "value": "example.com"}]'
containerdConfigPatches:
- |-
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
containerdConfigPatchesJSON6902:
- |
  - op: replace
    path: /version
    value: 2
"""


@HEADS
def test_every_kind_field(head: str) -> None:
    cfg = load(head + FULL_BODY)
    assert cfg.name == "full"
    cp, worker = cfg.nodes
    assert cp.role == "control-plane"
    assert worker.role == "worker"
    assert cp.image == worker.image == "nestkube/node:v1.31.2"
    assert cp.labels == {"tier": "control", "topology.kubernetes.io/zone": "a"}
    assert cp.extra_mounts == [
        ExtraMount("/srv/data", "/data", True, True, "Bidirectional"),
        ExtraMount("/etc/nk/rel/dir", "/rel", False, False, "None"),
    ]
    assert cp.extra_port_mappings == [
        ExtraPortMapping(30000, 30000, "127.0.0.1", "UDP"),
        ExtraPortMapping(30001, 0, "0.0.0.0", "SCTP"),
    ]
    assert cp.kubeadm_config_patches[0].startswith("kind: InitConfiguration")
    assert cp.kubeadm_config_patches_json6902 == [
        PatchJSON6902(
            group="kubeadm.k8s.io",
            version="v1beta3",
            kind="InitConfiguration",
            patch="- op: add\n  path: /nodeRegistration/taints\n  value: []\n",
        )
    ]
    assert cfg.networking == Networking(
        ip_family="ipv4",
        api_server_address="127.0.0.2",
        api_server_port=6443,
        pod_subnet="10.200.0.0/16",
        service_subnet="10.100.0.0/16",
        disable_default_cni=True,
        kube_proxy_mode="ipvs",
        dns_search=["example.com", "corp.example"],
    )
    assert cfg.feature_gates == {"InPlacePodVerticalScaling": True, "SomeGate": False}
    assert cfg.runtime_config == {"api/alpha": "false", "resource.k8s.io/v1alpha3": "true"}
    assert "ClusterConfiguration" in cfg.kubeadm_config_patches[0]
    assert cfg.kubeadm_config_patches_json6902[0].group == ""
    assert cfg.kubeadm_config_patches_json6902[0].kind == "ClusterConfiguration"
    assert 'snapshotter = "native"' in cfg.containerd_config_patches[0]
    assert cfg.containerd_config_patches_json6902[0].startswith("- op: replace")


def test_empty_dns_search_is_kept_distinct_from_unset() -> None:
    assert load(KIND_HEAD + "networking: {dnsSearch: []}\n").networking.dns_search == []
    assert load(KIND_HEAD + "networking: {}\n").networking.dns_search is None


def test_api_server_port_minus_one_is_random() -> None:
    assert load(KIND_HEAD + "networking: {apiServerPort: -1}\n").networking.api_server_port == 0


def test_kube_proxy_mode_none() -> None:
    assert load(KIND_HEAD + "networking: {kubeProxyMode: none}\n").networking.kube_proxy_mode == (
        "none"
    )


def test_relative_host_path_is_from_config_directory(tmp_path: Path) -> None:
    sub = tmp_path / "conf"
    sub.mkdir()
    path = sub / "c.yaml"
    path.write_text(
        KIND_HEAD + "nodes:\n- extraMounts:\n  - {hostPath: ../shared, containerPath: /s}\n"
    )
    # Not existing is fine at load time; create checks it.
    assert load_config(path).nodes[0].extra_mounts[0].host_path == str(tmp_path / "shared")


def test_home_relative_host_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/me")
    text = KIND_HEAD + "nodes:\n- extraMounts:\n  - {hostPath: ~/src, containerPath: /src}\n"
    assert load(text).nodes[0].extra_mounts[0].host_path == "/home/me/src"


def test_runtime_types_convert() -> None:
    node = load(FULL_BODY.join([KIND_HEAD, ""])).nodes[0]
    mount = node.extra_mounts[0]
    assert isinstance(mount, Mount)
    assert type(mount.to_mount()) is Mount
    assert mount.to_mount() == Mount("/srv/data", "/data", True, True, "Bidirectional")
    pm = node.extra_port_mappings[0]
    assert isinstance(pm, PortMapping)
    assert type(pm.to_port_mapping()) is PortMapping
    assert pm.to_port_mapping() == PortMapping(30000, 30000, "127.0.0.1", "UDP")


# --- nestkube additions -----------------------------------------------------------------
NK_BODY = """\
provider: podman
rootless: true
restrictOOMScoreAdj: true
ulimits:
  nofile: 65536
  nproc: 4096
nodes:
- role: control-plane
  runtime: containerd
"""


def test_every_nestkube_field() -> None:
    cfg = load(NK_HEAD + NK_BODY)
    assert cfg.provider == "podman"
    assert cfg.rootless is True
    assert cfg.restrict_oom_score_adj is True
    assert cfg.ulimits == Ulimits(nofile=65536, nproc=4096)
    assert cfg.nodes[0].runtime == "containerd"


def test_nestkube_nulls_mean_auto() -> None:
    cfg = load(NK_HEAD + "rootless: null\nrestrictOOMScoreAdj:\nulimits: {nofile: null}\n")
    assert cfg.rootless is None
    assert cfg.restrict_oom_score_adj is None
    assert cfg.ulimits == Ulimits(nofile=None, nproc=None)


@pytest.mark.parametrize("provider", ENGINES)
def test_providers(provider: str) -> None:
    assert load(NK_HEAD + f"provider: {provider}\n").provider == provider


def test_rootless_false() -> None:
    assert load(NK_HEAD + "rootless: false\nrestrictOOMScoreAdj: false\n").rootless is False


@pytest.mark.parametrize(
    ("body", "key", "message"),
    [
        (
            "imageBuild: {kubernetesVersion: v1.32.0-rc.1}\n",
            "imageBuild",
            "build the node image with `nestkube build node-image` and set nodes[].image "
            "(or create cluster --image)",
        ),
        (
            "dropCapabilities: [CAP_SYS_MODULE]\n",
            "dropCapabilities",
            "node containers run privileged and engines ignore --cap-drop there; remove the key",
        ),
    ],
)
def test_keys_not_supported_yet(body: str, key: str, message: str) -> None:
    # Accepting them would promise an effect nothing delivers.
    with pytest.raises(ConfigError) as info:
        load(NK_HEAD + body)
    assert str(info.value) == f"/etc/nk/cluster.yaml: {key}: not supported yet: {message}"


def test_image_build_and_drop_capabilities_unset_or_empty_are_fine() -> None:
    cfg = load(NK_HEAD + "dropCapabilities: []\nimageBuild: null\n")
    assert cfg.drop_capabilities == []
    assert cfg.image_build is None
    assert ClusterConfig(image_build=None).image_build is None
    with pytest.raises(ConfigError, match=r"^imageBuild: not supported yet"):
        ClusterConfig(image_build=ImageBuild(kubernetes_version="v1.30.0"))


def test_nestkube_document_has_every_kind_field() -> None:
    from_kind = load(KIND_HEAD + FULL_BODY)
    assert load(NK_HEAD + FULL_BODY) == replace(from_kind, source_kind="nestkube")
