"""Reading config sources: files, text, stdin, multi-document files and decoding errors."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest

from nestkube.config import ClusterConfig, load_config
from nestkube.errors import ConfigError

KIND_HEAD = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"
NK_HEAD = "kind: Cluster\napiVersion: nestkube.io/v1alpha1\n"

# A kind config the way people write it for an ingress setup, unchanged.
USER_KIND_CONFIG = """\
# three node (two workers) cluster config
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
name: ingress
nodes:
- role: control-plane
  kubeadmConfigPatches:
  - |
    kind: InitConfiguration
    nodeRegistration:
      kubeletExtraArgs:
        node-labels: "ingress-ready=true"
  extraPortMappings:
  - containerPort: 80
    hostPort: 8080
    protocol: TCP
  - containerPort: 443
    hostPort: 8443
    listenAddress: "127.0.0.1"
  extraMounts:
  - hostPath: /tmp/nestkube-shared
    containerPath: /shared
    readOnly: true
- role: worker
  labels:
    tier: frontend
  extraMounts:
  - hostPath: ./data
    containerPath: /data
    propagation: HostToContainer
- role: worker
containerdConfigPatches:
- |-
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."localhost:5001"]
    endpoint = ["http://kind-registry:5000"]
"""


def load(text: str, name: str = "cluster.yaml") -> ClusterConfig:
    return load_config(name, text=textwrap.dedent(text))


def error_of(text: str, name: str = "cluster.yaml") -> str:
    with pytest.raises(ConfigError) as info:
        load(text, name)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- a real kind config -----------------------------------------------------------------
def test_user_kind_config_loads_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "kind-ingress.yaml"
    path.write_text(USER_KIND_CONFIG)
    cfg = load_config(path)
    assert cfg.source_kind == "kind"
    assert cfg.name == "ingress"
    assert [n.role for n in cfg.nodes] == ["control-plane", "worker", "worker"]
    cp, w1, w2 = cfg.nodes
    assert cp.kubeadm_config_patches[0].startswith("kind: InitConfiguration\n")
    assert [
        (p.container_port, p.host_port, p.listen_address, p.protocol)
        for p in cp.extra_port_mappings
    ] == [
        (80, 8080, "0.0.0.0", "TCP"),
        (443, 8443, "127.0.0.1", "TCP"),
    ]
    assert cp.extra_mounts[0].host_path == "/tmp/nestkube-shared"
    assert cp.extra_mounts[0].read_only is True
    assert w1.labels == {"tier": "frontend"}
    assert w1.extra_mounts[0].host_path == str(tmp_path / "data")
    assert w1.extra_mounts[0].propagation == "HostToContainer"
    assert w2.extra_mounts == []
    assert "kind-registry:5000" in cfg.containerd_config_patches[0]
    assert cfg.node_names() == ["ingress-control-plane", "ingress-worker", "ingress-worker2"]
    assert cfg.source == str(path)


def test_loads_from_str_path(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(KIND_HEAD + "name: fromfile\n")
    assert load_config(str(path)).name == "fromfile"


def test_missing_file_is_one_line() -> None:
    with pytest.raises(ConfigError, match=r"^/nonexistent/c.yaml: config file not found$"):
        load_config("/nonexistent/c.yaml")


def test_directory_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r": cannot read config file: Is a directory$"):
        load_config(tmp_path)


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(ConfigError, match=r"c.yaml: not a UTF-8 text file"):
        load_config(path)


# --- stdin ------------------------------------------------------------------------------
def test_stdin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(NK_HEAD + "name: piped\nprovider: podman\n"))
    monkeypatch.chdir(tmp_path)
    cfg = load_config("-")
    assert (cfg.name, cfg.provider, cfg.source) == ("piped", "podman", "<stdin>")


def test_stdin_relative_host_paths_use_cwd(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    doc = KIND_HEAD + "nodes:\n- extraMounts:\n  - {hostPath: src, containerPath: /src}\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(doc))
    monkeypatch.chdir(tmp_path)
    assert load_config("-").nodes[0].extra_mounts[0].host_path == str(tmp_path / "src")


def test_stdin_errors_name_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(KIND_HEAD + "name: 3\n"))
    with pytest.raises(ConfigError, match=r"^<stdin>: name: expected a string, got 3"):
        load_config("-")


def test_text_with_dash_source_does_not_read_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("not: read"))
    assert load_config("-", text=KIND_HEAD).source == "<stdin>"


def test_text_overrides_file_content(tmp_path: Path) -> None:
    # The name only labels messages and anchors relative paths; the file is not read.
    cfg = load_config(
        tmp_path / "absent.yaml",
        text=KIND_HEAD + "nodes:\n- extraMounts: [{hostPath: d, containerPath: /d}]\n",
    )
    assert cfg.nodes[0].extra_mounts[0].host_path == str(tmp_path / "d")


# --- multi-document files ---------------------------------------------------------------
def test_multi_document_picks_the_cluster() -> None:
    text = "kind: ConfigMap\napiVersion: v1\n---\n" + NK_HEAD + "name: picked\n---\n"
    cfg = load(text)
    assert cfg.name == "picked"
    assert cfg.source == "cluster.yaml (document 2)"


def test_multi_document_errors_name_the_document() -> None:
    text = "kind: ConfigMap\napiVersion: v1\n---\n" + KIND_HEAD + "nodes:\n- role: master\n"
    assert error_of(text) == (
        "cluster.yaml (document 2): nodes[0].role: expected one of control-plane, worker; "
        'got "master"'
    )


def test_multi_document_two_clusters_is_an_error() -> None:
    text = KIND_HEAD + "---\nfoo: bar\n---\n" + NK_HEAD
    assert error_of(text) == (
        "cluster.yaml: documents 1, 3 are all Cluster documents; keep exactly one"
    )


def test_multi_document_without_cluster() -> None:
    assert error_of("a: 1\n---\nb: 2\n") == (
        "cluster.yaml: none of its 2 documents is a Cluster (kind: Cluster)"
    )


def test_leading_separator_and_empty_documents_are_fine() -> None:
    cfg = load("---\n" + KIND_HEAD + "name: one\n---\n")
    assert cfg.name == "one"
    assert cfg.source == "cluster.yaml"


# --- document-level errors --------------------------------------------------------------
def test_empty_file() -> None:
    assert error_of("# nothing\n") == (
        "cluster.yaml: no configuration found; expected a Cluster document"
    )


def test_not_a_mapping() -> None:
    assert error_of("- a\n- b\n") == (
        "cluster.yaml: expected a Cluster document (a mapping), got a list"
    )


def test_invalid_yaml() -> None:
    message = error_of(KIND_HEAD + "nodes:\n  - role: worker\n   bad: indent\n")
    assert message.startswith("cluster.yaml: invalid YAML: ")
    assert "(line 5, column" in message


def test_duplicate_keys_are_rejected() -> None:
    message = error_of(KIND_HEAD + "name: a\nname: b\n")
    assert message == 'cluster.yaml: invalid YAML: duplicate key "name" (line 4, column 1)'


def test_yaml_merge_keys_still_work() -> None:
    text = KIND_HEAD + (
        "x-base: &base {role: worker}\nnodes:\n- role: control-plane\n- <<: *base\n  image: img:1\n"
    )
    # x-base is not a Cluster key: the merge works, and the extra key is still refused.
    assert error_of(text) == (
        'cluster.yaml: x-base: unknown key "x-base"; expected one of apiVersion, kind, name, '
        "networking, featureGates, runtimeConfig, kubeadmConfigPatches, "
        "kubeadmConfigPatchesJSON6902, containerdConfigPatches, containerdConfigPatchesJSON6902, "
        "nodes"
    )
    text = KIND_HEAD + "nodes:\n- &cp {role: control-plane}\n- <<: *cp\n  role: worker\n"
    assert [n.role for n in load(text).nodes] == ["control-plane", "worker"]


def test_missing_api_version() -> None:
    assert error_of("kind: Cluster\n") == (
        "cluster.yaml: missing apiVersion; expected kind.x-k8s.io/v1alpha4 or nestkube.io/v1alpha1"
    )


def test_unknown_api_version() -> None:
    assert error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha3\n") == (
        'cluster.yaml: apiVersion: unsupported "kind.x-k8s.io/v1alpha3"; expected '
        "kind.x-k8s.io/v1alpha4 or nestkube.io/v1alpha1"
    )


def test_non_string_api_version() -> None:
    assert "apiVersion: unsupported 4;" in error_of("kind: Cluster\napiVersion: 4\n")


def test_missing_kind() -> None:
    assert error_of("apiVersion: nestkube.io/v1alpha1\n") == (
        "cluster.yaml: missing kind; expected Cluster"
    )


def test_unknown_kind() -> None:
    assert error_of("apiVersion: kind.x-k8s.io/v1alpha4\nkind: Config\n") == (
        'cluster.yaml: kind: unsupported "Config"; expected Cluster'
    )


# --- strict decoding --------------------------------------------------------------------
def test_unknown_top_level_key_suggests() -> None:
    assert error_of(KIND_HEAD + "node: []\n") == (
        'cluster.yaml: node: unknown key "node"; did you mean "nodes"?'
    )


def test_unknown_nested_key_suggests() -> None:
    text = KIND_HEAD + "nodes:\n- role: control-plane\n- role: worker\n  extraMount: []\n"
    assert error_of(text) == (
        'cluster.yaml: nodes[1].extraMount: unknown key "extraMount"; did you mean "extraMounts"?'
    )


def test_unknown_key_deep_in_port_mapping() -> None:
    text = KIND_HEAD + "nodes:\n- extraPortMappings:\n  - containerPort: 80\n    hostIP: 1.2.3.4\n"
    message = error_of(text)
    assert message.startswith(
        'cluster.yaml: nodes[0].extraPortMappings[0].hostIP: unknown key "hostIP"'
    )


def test_nestkube_key_in_kind_document_says_where_it_belongs() -> None:
    assert error_of(KIND_HEAD + "provider: podman\n") == (
        'cluster.yaml: provider: unknown key "provider": it is a nestkube key; use '
        "apiVersion: nestkube.io/v1alpha1 to set it"
    )
    assert "nodes[0].runtime: unknown key" in error_of(KIND_HEAD + "nodes:\n- runtime: x\n")
    assert error_of(KIND_HEAD + "nodes:\n- runtime: x\n") == (
        'cluster.yaml: nodes[0].runtime: unknown key "runtime": it is a nestkube key; use '
        "apiVersion: nestkube.io/v1alpha1 to set it"
    )
    # Only where nestkube has the key: networking.runtime is plainly unknown.
    assert error_of(KIND_HEAD + "networking: {runtime: x}\n").startswith(
        'cluster.yaml: networking.runtime: unknown key "runtime"; expected one of ipFamily,'
    )


def test_wrong_type_port_names_full_path() -> None:
    text = KIND_HEAD + (
        "nodes:\n- role: control-plane\n- role: worker\n  extraPortMappings:\n"
        "  - containerPort: 80\n    hostPort: '8080'\n"
    )
    assert error_of(text) == (
        'cluster.yaml: nodes[1].extraPortMappings[0].hostPort: expected an integer, got "8080"'
    )


def test_wrong_type_messages() -> None:
    cases = {
        "name: true\n": "name: expected a string, got true (put the value in quotes)",
        "name: 1.5\n": "name: expected a string, got 1.5 (put the value in quotes)",
        "nodes: {}\n": "nodes: expected a list, got a mapping",
        "nodes: [worker]\n": 'nodes[0]: expected a mapping, got "worker"',
        "featureGates: [a]\n": "featureGates: expected a mapping, got a list",
        "featureGates: {Foo: 'true'}\n": 'featureGates.Foo: expected true or false, got "true"',
        "featureGates: {Foo: 1}\n": "featureGates.Foo: expected true or false, got 1",
        "runtimeConfig: {api/all: true}\n": (
            'runtimeConfig["api/all"]: expected a string, got true (put the value in quotes)'
        ),
        "networking: {apiServerPort: 6443.0}\n": (
            "networking.apiServerPort: expected an integer, got 6443.0"
        ),
        "networking: {disableDefaultCNI: 'yes'}\n": (
            'networking.disableDefaultCNI: expected true or false, got "yes"'
        ),
        "networking: {ipFamily: IPv4}\n": (
            'networking.ipFamily: expected one of ipv4, ipv6, dual; got "IPv4"'
        ),
        "networking: {kubeProxyMode: nftables}\n": (
            'networking.kubeProxyMode: expected one of iptables, ipvs, none; got "nftables"'
        ),
        "kubeadmConfigPatches: [{kind: InitConfiguration}]\n": (
            "kubeadmConfigPatches[0]: expected a string, got a mapping"
        ),
        "nodes: [{labels: {tier: 1}}]\n": (
            "nodes[0].labels.tier: expected a string, got 1 (put the value in quotes)"
        ),
        "nodes: [{labels: {1: a}}]\n": "nodes[0].labels: key 1 must be a string (put it in quotes)",
        "nodes: [{extraMounts: [{hostPath: /a, containerPath: /b, propagation: rshared}]}]\n": (
            "nodes[0].extraMounts[0].propagation: expected one of None, HostToContainer, "
            'Bidirectional; got "rshared"'
        ),
        "nodes: [{extraPortMappings: [{containerPort: 53, protocol: udp}]}]\n": (
            'nodes[0].extraPortMappings[0].protocol: expected one of TCP, UDP, SCTP; got "udp"'
        ),
        "nodes: [{extraMounts: [{hostPath: /a, containerPath: /b, readOnly: 'true'}]}]\n": (
            'nodes[0].extraMounts[0].readOnly: expected true or false, got "true"'
        ),
        "kubeadmConfigPatchesJSON6902: [{version: v1beta3, kind: X, patch: 3}]\n": (
            "kubeadmConfigPatchesJSON6902[0].patch: expected a string, got 3 (put the value in "
            "quotes)"
        ),
    }
    for body, expected in cases.items():
        assert error_of(KIND_HEAD + body) == f"cluster.yaml: {expected}", body


def test_date_value_hint() -> None:
    assert error_of(KIND_HEAD + "name: 2024-01-01\n") == (
        "cluster.yaml: name: expected a string, got 2024-01-01 (put the value in quotes)"
    )


def test_missing_required_keys() -> None:
    cases = {
        "nodes: [{extraMounts: [{containerPath: /b}]}]\n": (
            "nodes[0].extraMounts[0].hostPath: missing required key"
        ),
        "nodes: [{extraMounts: [{hostPath: /b}]}]\n": (
            "nodes[0].extraMounts[0].containerPath: missing required key"
        ),
        "nodes: [{extraPortMappings: [{hostPort: 80}]}]\n": (
            "nodes[0].extraPortMappings[0].containerPort: missing required key"
        ),
        "kubeadmConfigPatchesJSON6902: [{version: v1, kind: X}]\n": (
            "kubeadmConfigPatchesJSON6902[0].patch: missing required key"
        ),
    }
    for body, expected in cases.items():
        assert error_of(KIND_HEAD + body) == f"cluster.yaml: {expected}", body


def test_several_errors_are_counted_on_one_line() -> None:
    message = error_of(KIND_HEAD + "name: 1\nnodes: 2\nfeatureGates: 3\n")
    assert message == (
        "cluster.yaml: name: expected a string, got 1 (put the value in quotes) (and 2 more errors)"
    )


def test_one_more_error_is_singular() -> None:
    assert error_of(KIND_HEAD + "name: a\nnodes: 2\nfeatureGates: 3\n").endswith(
        "nodes: expected a list, got 2 (and 1 more error)"
    )


def test_null_values_mean_unset_like_kind() -> None:
    text = KIND_HEAD + (
        "name:\nnodes:\n- role: worker\n  labels:\n- role:\n  extraMounts: null\n"
        "networking:\n  podSubnet: ~\nfeatureGates:\n"
    )
    cfg = load(text)
    assert cfg.name == "nestkube"
    assert [n.role for n in cfg.nodes] == ["worker", "control-plane"]
    assert cfg.networking.pod_subnet == "10.244.0.0/16"


def test_json_documents_load() -> None:
    text = '{"kind": "Cluster", "apiVersion": "nestkube.io/v1alpha1", "name": "json"}'
    assert load(text).name == "json"
