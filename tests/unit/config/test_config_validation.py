"""Validation after defaults: each rule and its one-line message."""

from __future__ import annotations

import textwrap

import pytest

from nestkube.config import ClusterConfig, NodeConfig, load_config
from nestkube.config.model import ExtraMount
from nestkube.errors import ConfigError

KIND_HEAD = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"
NK_HEAD = "kind: Cluster\napiVersion: nestkube.io/v1alpha1\n"


def error_of(body: str, head: str = KIND_HEAD) -> str:
    with pytest.raises(ConfigError) as info:
        load_config("c.yaml", text=head + textwrap.dedent(body))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("c.yaml: ")
    return message.removeprefix("c.yaml: ")


def ok(body: str, head: str = KIND_HEAD) -> ClusterConfig:
    return load_config("c.yaml", text=head + textwrap.dedent(body))


def ports(*mappings: str, node: str = "- role: control-plane\n") -> str:
    body = "nodes:\n" + node + "  extraPortMappings:\n"
    return body + "".join(f"  - {m}\n" for m in mappings)


# --- cluster name -----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["My-Cluster", "under_score", "-lead", "trail-", "dot.ted", "a b"])
def test_bad_cluster_names(name: str) -> None:
    assert error_of(f"name: '{name}'\n") == (
        f'name: "{name}" is not a valid cluster name: use lowercase letters, digits and "-", '
        "starting and ending with a letter or digit"
    )


@pytest.mark.parametrize("name", ["a", "0", "dev-2", "x1y"])
def test_good_cluster_names(name: str) -> None:
    assert ok(f"name: '{name}'\n").name == name


def test_name_length_limit_follows_node_names() -> None:
    # "-control-plane" is 14 characters, so 49 fit in a 63-character node name.
    assert ok("name: " + "a" * 49 + "\n").node_names() == ["a" * 49 + "-control-plane"]
    assert error_of("name: " + "a" * 50 + "\n") == (
        f'name: "{"a" * 50}" is too long: node name "{"a" * 50}-control-plane" would have 64 '
        "characters and the limit is 63; use at most 49 characters"
    )


def test_name_length_counts_the_load_balancer_of_several_control_planes() -> None:
    # Its name is longer than any numbered node's ("-control-plane2" and the like).
    nodes = "nodes:\n" + "- role: control-plane\n" * 2
    error = error_of("name: " + "a" * 41 + "\n" + nodes)
    assert f'"{"a" * 41}-external-load-balancer" would have 64 characters' in error
    assert "use at most 40 characters" in error


# --- nodes ------------------------------------------------------------------------------
def test_needs_a_control_plane() -> None:
    assert error_of("nodes:\n- role: worker\n- role: worker\n") == (
        "nodes: at least one control-plane node is required"
    )


def test_image_with_spaces() -> None:
    assert error_of("nodes:\n- image: 'img: 1'\n") == (
        'nodes[0].image: "img: 1" is not an image reference'
    )


def test_bad_label_key() -> None:
    assert error_of("nodes:\n- labels: {'bad key': x}\n") == (
        'nodes[0].labels["bad key"]: "bad key" is not a valid label key: a name of up to 63 '
        'letters, digits, "-", "_" and ".", optionally after a DNS subdomain prefix and "/"'
    )
    assert "is not a valid label key" in error_of("nodes:\n- labels: {'Ex.com/a': x}\n")
    assert "is not a valid label key" in error_of("nodes:\n- labels: {'a/b/c': x}\n")
    assert "is not a valid label key" in error_of("nodes:\n- labels: {'" + "k" * 64 + "': x}\n")


def test_bad_label_value() -> None:
    assert error_of("nodes:\n- labels: {tier: '-x'}\n") == (
        'nodes[0].labels.tier: "-x" is not a valid label value: up to 63 letters, digits, "-", '
        '"_" and ".", starting and ending with a letter or digit'
    )


def test_good_labels() -> None:
    labels = {"example.com/role": "db", "a": "", "b_c.d": "A-1.b_2"}
    body = "nodes:\n- labels: {" + ", ".join(f"{k}: '{v}'" for k, v in labels.items()) + "}\n"
    assert ok(body).nodes[0].labels == labels


# --- mounts -----------------------------------------------------------------------------
def test_container_path_must_be_absolute() -> None:
    assert error_of("nodes:\n- extraMounts: [{hostPath: /a, containerPath: data}]\n") == (
        'nodes[0].extraMounts[0].containerPath: "data" must be an absolute path'
    )


def test_empty_mount_paths() -> None:
    assert error_of("nodes:\n- extraMounts: [{hostPath: '', containerPath: /d}]\n") == (
        "nodes[0].extraMounts[0].hostPath: must not be empty"
    )
    assert error_of("nodes:\n- extraMounts: [{hostPath: /a, containerPath: ''}]\n") == (
        "nodes[0].extraMounts[0].containerPath: must not be empty"
    )


def test_host_path_existence_is_not_checked_at_load() -> None:
    body = "nodes:\n- extraMounts: [{hostPath: /does/not/exist, containerPath: /d}]\n"
    assert ok(body).nodes[0].extra_mounts[0].host_path == "/does/not/exist"


def test_relative_host_path_built_in_python_is_rejected() -> None:
    node = NodeConfig(extra_mounts=[ExtraMount(host_path="rel", container_path="/d")])
    with pytest.raises(ConfigError, match=r'^nodes\[0\].extraMounts\[0\].hostPath: "rel" must be'):
        ClusterConfig(nodes=[node])


# --- ports ------------------------------------------------------------------------------
@pytest.mark.parametrize("port", [0, -1, 65536])
def test_container_port_range(port: int) -> None:
    assert error_of(ports(f"{{containerPort: {port}}}")) == (
        f"nodes[0].extraPortMappings[0].containerPort: must be between 1 and 65535, got {port}"
    )


@pytest.mark.parametrize("port", [-2, 65536])
def test_host_port_range(port: int) -> None:
    assert error_of(ports(f"{{containerPort: 80, hostPort: {port}}}")) == (
        "nodes[0].extraPortMappings[0].hostPort: must be 1 to 65535, or 0 or -1 for a random "
        f"port; got {port}"
    )


@pytest.mark.parametrize(("given", "stored"), [(0, 0), (-1, 0), (1, 1), (65535, 65535)])
def test_host_port_edges(given: int, stored: int) -> None:
    cfg = ok(ports(f"{{containerPort: 80, hostPort: {given}}}"))
    assert cfg.nodes[0].extra_port_mappings[0].host_port == stored


def test_listen_address_must_be_ip() -> None:
    assert error_of(ports("{containerPort: 80, listenAddress: localhost}")) == (
        'nodes[0].extraPortMappings[0].listenAddress: "localhost" is not an IP address'
    )


def test_same_host_port_twice_across_nodes() -> None:
    body = ports("{containerPort: 80, hostPort: 8080}") + (
        "- role: worker\n  extraPortMappings:\n  - {containerPort: 81, hostPort: 8080}\n"
    )
    assert error_of(body) == (
        "nodes[1].extraPortMappings[0]: host port 8080/TCP on 0.0.0.0 is already used by "
        "nodes[0].extraPortMappings[0]"
    )


def test_same_host_port_twice_on_one_node() -> None:
    body = ports(
        "{containerPort: 53, hostPort: 5353, protocol: UDP, listenAddress: 127.0.0.1}",
        "{containerPort: 54, hostPort: 5353, protocol: UDP, listenAddress: 127.0.0.1}",
    )
    assert error_of(body) == (
        "nodes[0].extraPortMappings[1]: host port 5353/UDP on 127.0.0.1 is already used by "
        "nodes[0].extraPortMappings[0]"
    )


def test_wildcard_address_clashes_with_specific_one() -> None:
    body = ports(
        "{containerPort: 80, hostPort: 80, listenAddress: 127.0.0.1}",
        "{containerPort: 81, hostPort: 80}",
    )
    assert error_of(body) == (
        "nodes[0].extraPortMappings[1]: host port 80/TCP on 0.0.0.0 is already used by "
        "nodes[0].extraPortMappings[0] on 127.0.0.1"
    )


def test_same_port_different_protocol_address_or_family_is_fine() -> None:
    cfg = ok(
        ports(
            "{containerPort: 53, hostPort: 53}",
            "{containerPort: 53, hostPort: 53, protocol: UDP}",
            "{containerPort: 80, hostPort: 80, listenAddress: 127.0.0.1}",
            "{containerPort: 81, hostPort: 80, listenAddress: 127.0.0.2}",
            "{containerPort: 82, hostPort: 80, listenAddress: '::1'}",
            "{containerPort: 83}",
            "{containerPort: 84}",
        )
    )
    assert len(cfg.nodes[0].extra_port_mappings) == 7


def test_host_port_clashes_with_api_server_port() -> None:
    body = "networking: {apiServerPort: 6443}\n" + ports("{containerPort: 6443, hostPort: 6443}")
    assert error_of(body) == (
        "nodes[0].extraPortMappings[0]: host port 6443/TCP on 0.0.0.0 is already used by "
        "networking.apiServerPort on 127.0.0.1"
    )


# --- networking -------------------------------------------------------------------------
@pytest.mark.parametrize("port", [-2, 65536, 100000])
def test_api_server_port_range(port: int) -> None:
    assert error_of(f"networking: {{apiServerPort: {port}}}\n") == (
        f"networking.apiServerPort: must be 1 to 65535, or 0 or -1 for a random port; got {port}"
    )


def test_api_server_address_must_be_ip() -> None:
    assert error_of("networking: {apiServerAddress: localhost}\n") == (
        'networking.apiServerAddress: "localhost" is not an IP address'
    )


def test_subnet_not_a_cidr() -> None:
    assert error_of("networking: {podSubnet: 10.244.0.0/33}\n") == (
        'networking.podSubnet: "10.244.0.0/33" is not a CIDR such as 10.244.0.0/16'
    )
    assert error_of("networking: {serviceSubnet: 10.96.0.0}\n") == (
        'networking.serviceSubnet: "10.96.0.0" is not a CIDR such as 10.244.0.0/16'
    )


def test_subnet_wrong_family() -> None:
    assert error_of("networking: {podSubnet: 'fd00::/56'}\n") == (
        'networking.podSubnet: "fd00::/56" is IPv6 but ipFamily is ipv4'
    )


def test_single_family_needs_one_cidr() -> None:
    assert error_of("networking: {podSubnet: '10.1.0.0/16,10.2.0.0/16'}\n") == (
        'networking.podSubnet: ipFamily ipv4 needs exactly one CIDR; got "10.1.0.0/16,10.2.0.0/16"'
    )


def test_ipv6_family_is_rejected_before_its_subnets_are_read() -> None:
    assert error_of("networking: {ipFamily: dual, podSubnet: 10.244.0.0/16}\n") == (
        "networking.ipFamily: dual is not supported yet: the pod network is IPv4 only; use ipv4"
    )


def test_pod_and_service_subnets_must_not_overlap() -> None:
    assert error_of("networking: {podSubnet: 10.0.0.0/8, serviceSubnet: 10.96.0.0/16}\n") == (
        "networking.serviceSubnet: 10.96.0.0/16 overlaps networking.podSubnet 10.0.0.0/8"
    )


def test_dns_search_entries() -> None:
    assert error_of("networking: {dnsSearch: ['a.b', '']}\n") == (
        'networking.dnsSearch[1]: "" is not a domain'
    )


# --- patches ----------------------------------------------------------------------------
def test_kubeadm_patch_must_be_yaml_mapping() -> None:
    assert error_of("kubeadmConfigPatches: ['- a list']\n") == (
        "kubeadmConfigPatches[0]: must be a YAML mapping (a partial kubeadm config object)"
    )
    message = error_of("nodes:\n- kubeadmConfigPatches: ['a: b: c']\n")
    assert message.startswith("nodes[0].kubeadmConfigPatches[0]: invalid YAML: ")
    assert "(line 1, column 5)" in message


def test_json6902_patch_must_be_operations() -> None:
    body = "kubeadmConfigPatchesJSON6902: [{version: v1beta3, kind: X, patch: '{op: add}'}]\n"
    assert error_of(body) == (
        "kubeadmConfigPatchesJSON6902[0].patch: must be a list of JSON patch operations, each "
        "with op and path"
    )
    body = "nodes:\n- kubeadmConfigPatchesJSON6902: [{version: '', kind: X, patch: '[]'}]\n"
    assert error_of(body) == "nodes[0].kubeadmConfigPatchesJSON6902[0].version: must not be empty"


def test_containerd_patch_must_be_toml() -> None:
    assert error_of("containerdConfigPatches: ['[plugins']\n") == (
        "containerdConfigPatches[0]: invalid TOML: Expected ']' at the end of a table "
        "declaration (at end of document)"
    )


def test_containerd_json6902_patch() -> None:
    assert error_of("containerdConfigPatchesJSON6902: ['path: /x']\n") == (
        "containerdConfigPatchesJSON6902[0]: must be a list of JSON patch operations, each with "
        "op and path"
    )


# --- nestkube additions -----------------------------------------------------------------
def test_cri_o_on_every_node_is_accepted() -> None:
    body = "nodes:\n- role: control-plane\n  runtime: cri-o\n- role: worker\n  runtime: cri-o\n"
    assert [n.runtime for n in ok(body, NK_HEAD).nodes] == ["cri-o", "cri-o"]


def test_cri_o_with_a_kubernetes_minor_without_cri_o_is_refused() -> None:
    body = (
        "imageBuild: {kubernetesVersion: v1.37.2}\n"
        "nodes:\n- role: control-plane\n  runtime: cri-o\n"
    )
    assert error_of(body, NK_HEAD) == (
        "nodes[0].runtime: cri-o needs a CRI-O of Kubernetes v1.37.2's minor; the Go module "
        "proxy serves a buildable CRI-O only for v1.34"
    )


def test_mixed_runtimes_are_refused() -> None:
    body = "nodes:\n- role: control-plane\n- role: worker\n  runtime: cri-o\n"
    assert error_of(body, NK_HEAD) == (
        "nodes[1].runtime: cri-o, but nodes[0] runs containerd: every node of a cluster runs "
        "one runtime (their Kubernetes releases differ)"
    )


def test_unknown_runtime_is_a_decode_error() -> None:
    assert error_of("nodes:\n- runtime: docker\n", NK_HEAD) == (
        'nodes[0].runtime: expected one of containerd, cri-o; got "docker"'
    )


def test_unknown_provider() -> None:
    assert error_of("provider: lxc\n", NK_HEAD) == (
        'provider: expected one of podman, docker, nerdctl; got "lxc"'
    )


def test_unknown_capability() -> None:
    assert error_of("dropCapabilities: [CAP_FLY]\n", NK_HEAD) == (
        'dropCapabilities[0]: unknown capability "CAP_FLY"'
    )


def test_required_capability_cannot_be_dropped() -> None:
    assert error_of("dropCapabilities: [sys_admin]\n", NK_HEAD) == (
        "dropCapabilities[0]: node containers cannot work without CAP_SYS_ADMIN; it cannot be "
        "dropped"
    )


@pytest.mark.parametrize("key", ["nofile", "nproc"])
def test_ulimits_positive(key: str) -> None:
    assert error_of(f"ulimits: {{{key}: 0}}\n", NK_HEAD) == (
        f"ulimits.{key}: must be 1 or more, or null; got 0"
    )


def test_image_build_needs_exactly_one_source() -> None:
    assert error_of("imageBuild: {baseImage: base:1}\n", NK_HEAD) == (
        "imageBuild: set exactly one of kubernetesVersion, kubernetesBinaries, kubernetesSource "
        "(got none)"
    )
    body = "imageBuild: {kubernetesVersion: v1.31.0, kubernetesSource: /src}\n"
    assert error_of(body, NK_HEAD) == (
        "imageBuild: set exactly one of kubernetesVersion, kubernetesBinaries, kubernetesSource "
        "(got kubernetesVersion and kubernetesSource)"
    )


def test_image_build_version_format() -> None:
    assert error_of("imageBuild: {kubernetesVersion: latest}\n", NK_HEAD) == (
        'imageBuild.kubernetesVersion: "latest" is not a Kubernetes release such as v1.31.2'
    )
    # YAML reads 1.31 as a number; the decode error says to quote it.
    assert error_of("imageBuild: {kubernetesVersion: 1.31}\n", NK_HEAD) == (
        "imageBuild.kubernetesVersion: expected a string, got 1.31 (put the value in quotes)"
    )


def test_image_build_base_image() -> None:
    body = "imageBuild: {kubernetesVersion: v1.31.0, baseImage: 'a b'}\n"
    assert error_of(body, NK_HEAD) == 'imageBuild.baseImage: "a b" is not an image reference'
