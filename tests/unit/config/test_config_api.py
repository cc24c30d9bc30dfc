"""The Python API: default_config, with_overrides, to_document round trips and the schema."""

from __future__ import annotations

import dataclasses
import json
import textwrap

import pytest
import yaml

from nestkube.config import (
    ClusterConfig,
    ExtraMount,
    Networking,
    NodeConfig,
    Ulimits,
    config_json_schema,
    default_config,
    from_document,
    load_config,
    to_document,
)
from nestkube.config.document import NestkubeClusterDoc
from nestkube.errors import ConfigError

NK_HEAD = "kind: Cluster\napiVersion: nestkube.io/v1alpha1\n"


# --- default_config ---------------------------------------------------------------------
def test_default_config() -> None:
    cfg = default_config()
    assert cfg.name == "nestkube"
    assert cfg.nodes == [NodeConfig(role="control-plane")]
    assert cfg.networking == Networking()
    assert cfg.source_kind == "nestkube"
    assert cfg.source is None


def test_default_config_counts_and_image() -> None:
    cfg = default_config("dev", workers=2, control_planes=3, image="img:1")
    assert [n.role for n in cfg.nodes] == ["control-plane"] * 3 + ["worker"] * 2
    assert {n.image for n in cfg.nodes} == {"img:1"}
    assert cfg.node_names() == [
        "dev-control-plane",
        "dev-control-plane2",
        "dev-control-plane3",
        "dev-worker",
        "dev-worker2",
    ]


def test_default_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"^workers: must be 0 or more, got -1$"):
        default_config(workers=-1)
    with pytest.raises(
        ConfigError, match=r"^control planes: at least one control-plane node is required, got 0$"
    ):
        default_config(control_planes=0)
    with pytest.raises(ConfigError, match=r'^name: "Dev" is not a valid cluster name'):
        default_config("Dev")
    with pytest.raises(ConfigError, match=r'^image: "a b" is not an image reference$'):
        default_config(image="a b")


def test_construction_validates() -> None:
    with pytest.raises(ConfigError, match=r"^nodes: at least one control-plane node"):
        ClusterConfig(nodes=[NodeConfig(role="worker")])
    with pytest.raises(ConfigError, match=r"^src: nodes\[1\].runtime: cri-o, but nodes\[0\]"):
        ClusterConfig(nodes=[NodeConfig(), NodeConfig(runtime="cri-o")], source="src")
    # A config built in Python meets the same rules as a file: they live in one validator.
    mount = ExtraMount(host_path="", container_path="/data")
    with pytest.raises(
        ConfigError, match=r"^nodes\[0\].extraMounts\[0\].hostPath: must not be empty$"
    ):
        ClusterConfig(nodes=[NodeConfig(extra_mounts=[mount])])


def test_config_is_frozen() -> None:
    cfg = default_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.name = "x"  # type: ignore[misc]


# --- with_overrides ---------------------------------------------------------------------
def file_config() -> ClusterConfig:
    text = NK_HEAD + textwrap.dedent(
        """\
        name: fromfile
        nodes:
        - role: control-plane
          image: a:1
        - role: worker
        """
    )
    return load_config("c.yaml", text=text)


def test_overrides_name_and_image() -> None:
    cfg = file_config().with_overrides(name="cli", image="b:2")
    assert cfg.name == "cli"
    assert [n.image for n in cfg.nodes] == ["b:2", "b:2"]
    assert cfg.source == "c.yaml"


def test_overrides_none_keep_file_values() -> None:
    base = file_config()
    assert base.with_overrides() == base
    assert base.with_overrides(name=None, image=None) == base


def test_overrides_return_a_new_config() -> None:
    base = file_config()
    base.with_overrides(name="other")
    assert base.name == "fromfile"


def test_override_errors_name_the_override_not_the_file() -> None:
    with pytest.raises(ConfigError) as info:
        file_config().with_overrides(name="Bad_Name")
    assert str(info.value) == (
        'name: "Bad_Name" is not a valid cluster name: use lowercase letters, digits and "-", '
        "starting and ending with a letter or digit"
    )
    with pytest.raises(ConfigError, match=r'^image: "" is not an image reference$'):
        file_config().with_overrides(image="")
    with pytest.raises(ConfigError, match=r'^name: "a+" is too long'):
        file_config().with_overrides(name="a" * 60)


# --- to_document ------------------------------------------------------------------------
def test_to_document_of_default_spells_out_defaults() -> None:
    assert to_document(default_config()) == {
        "apiVersion": "nestkube.io/v1alpha1",
        "kind": "Cluster",
        "name": "nestkube",
        "nodes": [{"role": "control-plane", "runtime": "containerd"}],
        "networking": {
            "ipFamily": "ipv4",
            "apiServerAddress": "127.0.0.1",
            "apiServerPort": 0,
            "podSubnet": "10.244.0.0/16",
            "serviceSubnet": "10.96.0.0/16",
            "disableDefaultCNI": False,
            "kubeProxyMode": "iptables",
        },
        "dnsAddon": True,
        "defaultStorageClass": True,
        "metricsServer": False,
        "loadBalancerServices": True,
    }


FULL = """\
name: rt
provider: docker
rootless: false
restrictOOMScoreAdj: false
ulimits: {nofile: 1048576}
dnsAddon: false
metricsServer: true
nodes:
- role: control-plane
  image: node:1
  labels: {a: b}
  extraMounts:
  - {hostPath: /x, containerPath: /y, readOnly: true, selinuxRelabel: true,
     propagation: Bidirectional}
  extraPortMappings:
  - {containerPort: 80, hostPort: 8080, listenAddress: 127.0.0.1, protocol: SCTP}
  kubeadmConfigPatches: ["kind: JoinConfiguration\\n"]
  kubeadmConfigPatchesJSON6902:
  - {group: kubeadm.k8s.io, version: v1beta3, kind: JoinConfiguration, patch: "[]"}
- role: worker
networking:
  ipFamily: ipv4
  apiServerPort: 7443
  disableDefaultCNI: true
  kubeProxyMode: none
  dnsSearch: []
featureGates: {A: true}
runtimeConfig: {api/all: "true"}
kubeadmConfigPatches: ["kind: ClusterConfiguration\\n"]
kubeadmConfigPatchesJSON6902: [{version: v1beta3, kind: ClusterConfiguration, patch: "[]"}]
containerdConfigPatches: ["[a]\\nb = 1\\n"]
containerdConfigPatchesJSON6902: ["[]"]
"""


def test_round_trip_through_document_and_yaml() -> None:
    cfg = load_config("c.yaml", text=NK_HEAD + FULL)
    doc = to_document(cfg)
    assert doc["networking"]["dnsSearch"] == []
    assert doc["ulimits"] == {"nofile": 1048576}
    assert doc["dnsAddon"] is False
    again = load_config("again.yaml", text=yaml.safe_dump(doc))
    assert again == cfg
    assert from_document(doc) == cfg


def test_round_trip_of_kind_config_becomes_nestkube() -> None:
    cfg = load_config("k.yaml", text="kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname: k\n")
    assert from_document(to_document(cfg)) == dataclasses.replace(cfg, source_kind="nestkube")


def test_document_validates_against_the_doc_model() -> None:
    cfg = ClusterConfig(ulimits=Ulimits(nproc=10))
    NestkubeClusterDoc.model_validate(to_document(cfg))


def test_from_document_errors_name_document() -> None:
    with pytest.raises(ConfigError, match=r"^<document>: missing apiVersion"):
        from_document({"kind": "Cluster"})
    with pytest.raises(ConfigError, match=r"^x: name: expected a string"):
        from_document(
            {"kind": "Cluster", "apiVersion": "nestkube.io/v1alpha1", "name": 1}, source="x"
        )


# --- schema -----------------------------------------------------------------------------
TOP_LEVEL_KEYS = {
    "apiVersion",
    "metricsServer",
    "loadBalancerServices",
    "proxy",
    "registries",
    "registryMirrors",
    "kind",
    "name",
    "nodes",
    "networking",
    "featureGates",
    "runtimeConfig",
    "kubeadmConfigPatches",
    "kubeadmConfigPatchesJSON6902",
    "containerdConfigPatches",
    "containerdConfigPatchesJSON6902",
    "provider",
    "rootless",
    "imageBuild",
    "restrictOOMScoreAdj",
    "ulimits",
    "dropCapabilities",
    "dnsAddon",
    "defaultStorageClass",
}


def test_schema_is_json_and_lists_every_top_level_key() -> None:
    schema = config_json_schema()
    text = json.dumps(schema)
    assert json.loads(text) == schema
    assert set(schema["properties"]) == TOP_LEVEL_KEYS
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["apiVersion", "kind"]
    assert schema["properties"]["apiVersion"]["const"] == "nestkube.io/v1alpha1"
    assert schema["$schema"].startswith("https://json-schema.org/")


def test_schema_nested_definitions() -> None:
    defs = config_json_schema()["$defs"]
    node = defs["NestkubeNodeDoc"]["properties"]
    assert set(node) == {
        "role",
        "image",
        "labels",
        "extraMounts",
        "extraPortMappings",
        "kubeadmConfigPatches",
        "kubeadmConfigPatchesJSON6902",
        "runtime",
    }
    assert set(defs["NetworkingDoc"]["properties"]) == {
        "ipFamily",
        "apiServerAddress",
        "apiServerPort",
        "podSubnet",
        "serviceSubnet",
        "disableDefaultCNI",
        "kubeProxyMode",
        "dnsSearch",
    }
    assert defs["PortMappingDoc"]["required"] == ["containerPort"]
    assert defs["MountDoc"]["required"] == ["hostPath", "containerPath"]
    assert defs["PortMappingDoc"]["properties"]["hostPort"]["minimum"] == -1
    assert all(d.get("additionalProperties") is False for d in defs.values())
