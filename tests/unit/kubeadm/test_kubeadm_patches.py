from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from nestkube.errors import ConfigError
from nestkube.kubeadm.config import KubeadmParams, render_init_config
from nestkube.kubeadm.patches import (
    Json6902Patch,
    apply_json_patch,
    apply_kubeadm_patches,
    apply_patches,
    merge_patch,
    parse_json_patch,
)

RENDERED = """\
apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
clusterName: demo
apiServer:
  certSANs: [localhost]
  extraArgs:
    feature-gates: A=true
networking:
  podSubnet: 10.244.0.0/16
  serviceSubnet: 10.96.0.0/16
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
evictionHard:
  nodefs.available: 0%
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
nodeRegistration:
  kubeletExtraArgs:
  - name: node-ip
    value: 10.89.0.2
  - name: node-labels
    value: a=b
"""


def docs_of(text: str) -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in yaml.safe_load_all(text)}


def patched(*patches: str) -> dict[str, dict[str, Any]]:
    return docs_of(apply_kubeadm_patches(RENDERED, patches))


def json_patched(ops: str, kind: str = "ClusterConfiguration", **target: str) -> Any:
    patch = Json6902Patch(kind=kind, patch=ops, **target)
    return docs_of(apply_kubeadm_patches(RENDERED, json6902=[patch]))[kind]


# --- merge patches -----------------------------------------------------------------------


def test_no_patches_returns_input_unchanged() -> None:
    assert apply_kubeadm_patches(RENDERED) == RENDERED


def test_nested_maps_merge() -> None:
    docs = patched(
        """
kind: ClusterConfiguration
apiServer:
  extraArgs:
    v: "4"
networking:
  dnsDomain: example.local
"""
    )
    cluster = docs["ClusterConfiguration"]
    assert cluster["apiServer"] == {
        "certSANs": ["localhost"],
        "extraArgs": {"feature-gates": "A=true", "v": "4"},
    }
    assert cluster["networking"] == {
        "podSubnet": "10.244.0.0/16",
        "serviceSubnet": "10.96.0.0/16",
        "dnsDomain": "example.local",
    }
    assert cluster["apiVersion"] == "kubeadm.k8s.io/v1beta3"


def test_plain_lists_and_scalars_replace() -> None:
    docs = patched("kind: ClusterConfiguration\napiServer:\n  certSANs: [a, b]\nclusterName: x\n")
    assert docs["ClusterConfiguration"]["apiServer"]["certSANs"] == ["a", "b"]
    assert docs["ClusterConfiguration"]["clusterName"] == "x"


def test_empty_list_clears_a_named_list() -> None:
    docs = patched("kind: InitConfiguration\nnodeRegistration:\n  kubeletExtraArgs: []\n")
    assert docs["InitConfiguration"]["nodeRegistration"]["kubeletExtraArgs"] == []


def test_lists_of_named_maps_merge_by_name() -> None:
    docs = patched(
        """
kind: InitConfiguration
nodeRegistration:
  kubeletExtraArgs:
  - name: node-labels
    value: x=y
  - name: v
    value: "5"
"""
    )
    assert docs["InitConfiguration"]["nodeRegistration"]["kubeletExtraArgs"] == [
        {"name": "node-ip", "value": "10.89.0.2"},
        {"name": "node-labels", "value": "x=y"},
        {"name": "v", "value": "5"},
    ]


def test_named_item_delete_directive() -> None:
    docs = patched(
        """
kind: InitConfiguration
nodeRegistration:
  kubeletExtraArgs:
  - name: node-labels
    $patch: delete
  - name: absent
    $patch: delete
"""
    )
    assert docs["InitConfiguration"]["nodeRegistration"]["kubeletExtraArgs"] == [
        {"name": "node-ip", "value": "10.89.0.2"}
    ]


def test_null_deletes_keys() -> None:
    docs = patched(
        """
kind: ClusterConfiguration
apiServer:
  extraArgs: null
networking:
  serviceSubnet: ~
  notThere: null
"""
    )
    cluster = docs["ClusterConfiguration"]
    assert cluster["apiServer"] == {"certSANs": ["localhost"]}
    assert cluster["networking"] == {"podSubnet": "10.244.0.0/16"}


def test_nulls_inside_new_maps_are_dropped() -> None:
    docs = patched("kind: KubeletConfiguration\nnewThing:\n  a: 1\n  b: null\n")
    assert docs["KubeletConfiguration"]["newThing"] == {"a": 1}


def test_kind_matching_only_touches_that_kind() -> None:
    docs = patched("kind: KubeletConfiguration\ncgroupDriver: systemd\n")
    assert docs["KubeletConfiguration"]["cgroupDriver"] == "systemd"
    assert "cgroupDriver" not in docs["ClusterConfiguration"]
    assert "cgroupDriver" not in docs["InitConfiguration"]


def test_api_version_matches_on_group_only_and_is_not_copied() -> None:
    # A v1beta2-era patch still applies to the v1beta3 document: only the group counts.
    docs = patched("apiVersion: kubeadm.k8s.io/v1beta2\nkind: ClusterConfiguration\nx: 1\n")
    assert docs["ClusterConfiguration"]["x"] == 1
    assert docs["ClusterConfiguration"]["apiVersion"] == "kubeadm.k8s.io/v1beta3"


def test_api_version_of_another_group_matches_nothing() -> None:
    docs = patched("apiVersion: example.com/v1\nkind: ClusterConfiguration\nx: 1\n")
    assert "x" not in docs["ClusterConfiguration"]


def test_patch_matching_nothing_is_ignored() -> None:
    text = apply_kubeadm_patches(RENDERED, ["kind: JoinConfiguration\nfoo: bar\n"])
    assert docs_of(text) == docs_of(RENDERED)


def test_patches_apply_in_order_and_multi_document_patches() -> None:
    docs = patched(
        "kind: KubeletConfiguration\ncgroupDriver: systemd\n"
        "---\nkind: ClusterConfiguration\nx: 1\n",
        "kind: KubeletConfiguration\ncgroupDriver: other\n",
    )
    assert docs["KubeletConfiguration"]["cgroupDriver"] == "other"
    assert docs["ClusterConfiguration"]["x"] == 1


def test_merge_patch_does_not_mutate_inputs() -> None:
    base = {"a": {"b": [1]}, "l": [{"name": "x", "v": 1}]}
    patch = {"a": {"c": 2}, "l": [{"name": "x", "v": 2}]}
    out = merge_patch(base, patch)
    assert out == {"a": {"b": [1], "c": 2}, "l": [{"name": "x", "v": 2}]}
    assert base == {"a": {"b": [1]}, "l": [{"name": "x", "v": 1}]}
    assert patch == {"a": {"c": 2}, "l": [{"name": "x", "v": 2}]}


def test_map_replaces_a_scalar_and_list_of_unnamed_maps_replaces() -> None:
    assert merge_patch({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}
    assert merge_patch({"l": [{"k": 1}]}, {"l": [{"k": 2}]}) == {"l": [{"k": 2}]}


def test_works_on_real_rendered_config() -> None:
    rendered = render_init_config(
        KubeadmParams(
            kubernetes_version="v1.36.0",
            cluster_name="demo",
            node_name="demo-control-plane",
            node_ip="10.89.0.2",
            control_plane_endpoint="demo-control-plane:6443",
            api_server_cert_sans=("localhost",),
        )
    )
    patch = """
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
controllerManager:
  extraArgs:
  - name: enable-hostpath-provisioner
    value: "false"
"""
    docs = docs_of(apply_kubeadm_patches(rendered, [patch]))
    assert docs["ClusterConfiguration"]["controllerManager"]["extraArgs"] == [
        {"name": "enable-hostpath-provisioner", "value": "false"}
    ]
    assert len(docs) == 4


@pytest.mark.parametrize(
    "patch,message",
    [
        ("kind: [unclosed", r"kubeadmConfigPatches\[1\]: invalid YAML: .* \(line 1, column \d+\)"),
        ("", r"kubeadmConfigPatches\[1\]: the patch is empty"),
        ("- a\n- b\n", r"kubeadmConfigPatches\[1\]: expected a mapping, got a list"),
        ("cgroupDriver: systemd\n", r"kubeadmConfigPatches\[1\]: the patch needs a 'kind'"),
        ("apiVersion: 3\nkind: X\n", r"kubeadmConfigPatches\[1\]: 'apiVersion' must be a string"),
    ],
)
def test_malformed_merge_patch(patch: str, message: str) -> None:
    good = "kind: KubeletConfiguration\ncgroupDriver: systemd\n"
    with pytest.raises(ConfigError, match=message) as info:
        apply_kubeadm_patches(RENDERED, [good, patch])
    assert "\n" not in str(info.value)


# --- RFC 6902 ----------------------------------------------------------------------------


def test_add_to_map_list_index_and_end() -> None:
    doc = json_patched(
        """
- op: add
  path: /apiServer/extraArgs/v
  value: "4"
- op: add
  path: /apiServer/certSANs/0
  value: first
- op: add
  path: /apiServer/certSANs/-
  value: last
- op: add
  path: /apiServer/certSANs/3
  value: very-last
- op: add
  path: /clusterName
  value: replaced-by-add
"""
    )
    assert doc["apiServer"]["extraArgs"] == {"feature-gates": "A=true", "v": "4"}
    assert doc["apiServer"]["certSANs"] == ["first", "localhost", "last", "very-last"]
    assert doc["clusterName"] == "replaced-by-add"


def test_remove_replace_move_copy_test() -> None:
    doc = json_patched(
        """
[
  {"op": "test", "path": "/clusterName", "value": "demo"},
  {"op": "copy", "from": "/networking/podSubnet", "path": "/podCopy"},
  {"op": "move", "from": "/networking/serviceSubnet", "path": "/apiServer/moved"},
  {"op": "replace", "path": "/apiServer/certSANs/0", "value": "example.com"},
  {"op": "replace", "path": "/clusterName", "value": {"nested": [1, 2]}},
  {"op": "remove", "path": "/apiServer/extraArgs"},
  {"op": "test", "path": "/clusterName", "value": {"nested": [1, 2.0]}}
]
"""
    )
    assert doc["podCopy"] == "10.244.0.0/16"
    assert doc["networking"] == {"podSubnet": "10.244.0.0/16"}
    assert doc["apiServer"] == {"certSANs": ["example.com"], "moved": "10.96.0.0/16"}
    assert doc["clusterName"] == {"nested": [1, 2]}


def test_replace_keeps_key_order() -> None:
    doc = json_patched('[{"op": "replace", "path": "/apiServer", "value": 1}]')
    assert list(doc) == ["apiVersion", "kind", "clusterName", "apiServer", "networking"]


def test_copy_is_independent_of_its_source() -> None:
    doc = json_patched(
        """
- {op: copy, from: /networking, path: /net2}
- {op: add, path: /net2/extra, value: 1}
"""
    )
    assert "extra" not in doc["networking"]
    assert doc["net2"]["extra"] == 1


def test_move_within_a_list() -> None:
    out = apply_json_patch(
        {"l": ["a", "b", "c"]},
        parse_json_patch('[{"op":"move","from":"/l/0","path":"/l/-"}]', "t"),
        "t",
    )
    assert out == {"l": ["b", "c", "a"]}


def test_move_to_itself_is_a_no_op() -> None:
    ops = parse_json_patch('[{"op":"move","from":"/a","path":"/a"}]', "t")
    assert apply_json_patch({"a": 1}, ops, "t") == {"a": 1}


def test_pointer_escapes() -> None:
    doc = {"a/b": {"c~d": 1}, "~1": 2}
    ops = parse_json_patch(
        """
- {op: test, path: /a~1b/c~0d, value: 1}
- {op: replace, path: /~01, value: 3}
- {op: add, path: /e~1f, value: 4}
""",
        "t",
    )
    assert apply_json_patch(doc, ops, "t") == {"a/b": {"c~d": 1}, "~1": 3, "e/f": 4}


def test_whole_document_add_and_replace() -> None:
    assert apply_json_patch({"a": 1}, [{"op": "add", "path": "", "value": {"b": 2}}], "t") == {
        "b": 2
    }
    assert apply_json_patch({"a": 1}, [{"op": "replace", "path": "", "value": [1]}], "t") == [1]


def test_json_patch_does_not_mutate_input() -> None:
    doc = {"a": {"b": 1}}
    apply_json_patch(doc, [{"op": "add", "path": "/a/c", "value": 2}], "t")
    assert doc == {"a": {"b": 1}}


def test_test_op_is_strict_about_json_types() -> None:
    ops = parse_json_patch('[{"op":"test","path":"/a","value":1}]', "t")
    with pytest.raises(ConfigError, match=r"test failed: found true, expected 1"):
        apply_json_patch({"a": True}, ops, "t")
    assert apply_json_patch({"a": 1.0}, ops, "t") == {"a": 1.0}


def test_json6902_target_matching() -> None:
    ops = '[{"op": "add", "path": "/x", "value": 1}]'
    assert json_patched(ops, group="kubeadm.k8s.io", version="v1beta3")["x"] == 1
    assert json_patched(ops, group="kubeadm.k8s.io")["x"] == 1
    assert "x" not in json_patched(ops, group="kubeadm.k8s.io", version="v1beta4")
    assert "x" not in json_patched(ops, group="other.io")
    assert json_patched(ops, kind="KubeletConfiguration", group="kubelet.config.k8s.io")["x"] == 1


def test_json6902_patch_matching_nothing_is_ignored() -> None:
    patch = Json6902Patch(kind="JoinConfiguration", patch='[{"op":"remove","path":"/nope"}]')
    assert docs_of(apply_kubeadm_patches(RENDERED, json6902=[patch])) == docs_of(RENDERED)


def test_json6902_from_mapping() -> None:
    item = {
        "group": "kubeadm.k8s.io",
        "version": "v1beta3",
        "kind": "ClusterConfiguration",
        "patch": "- {op: add, path: /y, value: 2}",
    }
    docs = docs_of(apply_kubeadm_patches(RENDERED, json6902=[item]))
    assert docs["ClusterConfiguration"]["y"] == 2


@dataclass(frozen=True)
class ForeignPatch:
    group: str
    version: str
    kind: str
    patch: str


def test_json6902_accepts_any_object_with_the_four_attributes() -> None:
    item = ForeignPatch(
        "kubeadm.k8s.io", "v1beta3", "ClusterConfiguration", "- {op: add, path: /z, value: 3}"
    )
    docs = docs_of(apply_patches(RENDERED, [], [item]))
    assert docs["ClusterConfiguration"]["z"] == 3
    # A patch written for another kubeadm API version matches nothing, as in kind.
    item = ForeignPatch(
        "kubeadm.k8s.io", "v1beta2", "ClusterConfiguration", "- {op: remove, path: /z}"
    )
    assert docs_of(apply_patches(RENDERED, [], [item])) == docs_of(RENDERED)


def test_merge_then_json6902() -> None:
    merge = "kind: ClusterConfiguration\nclusterName: merged\n"
    check = Json6902Patch(
        kind="ClusterConfiguration", patch="- {op: test, path: /clusterName, value: merged}"
    )
    docs = docs_of(apply_kubeadm_patches(RENDERED, [merge], [check]))
    assert docs["ClusterConfiguration"]["clusterName"] == "merged"


LABEL = r"kubeadmConfigPatchesJSON6902\[0\]"


@pytest.mark.parametrize(
    "ops,message",
    [
        (
            "- {op: remove, path: /nope}",
            r"operation 0 \(remove /nope\): /nope does not exist$",
        ),
        (
            "- {op: test, path: /clusterName, value: x}\n",
            r'operation 0 \(test /clusterName\): test failed: found "demo", expected "x"$',
        ),
        (
            "- {op: add, path: /a/b, value: 1}",
            r"operation 0 \(add /a/b\): /a does not exist$",
        ),
        (
            "- {op: add, path: /apiServer/certSANs/5, value: 1}",
            r"index 5 is out of range for the list at /apiServer/certSANs \(length 1\)$",
        ),
        (
            "- {op: replace, path: /apiServer/certSANs/-, value: 1}",
            r"'-' is not an index into the list at /apiServer/certSANs$",
        ),
        (
            "- {op: add, path: /apiServer/certSANs/01, value: 1}",
            r"'01' is not an index into the list at /apiServer/certSANs$",
        ),
        (
            "- {op: replace, path: /nope, value: 1}",
            r"operation 0 \(replace /nope\): /nope does not exist$",
        ),
        (
            "- {op: add, path: /clusterName/x, value: 1}",
            r"cannot add to /clusterName: it is a string$",
        ),
        (
            "- {op: remove, path: /clusterName/x}",
            r"/clusterName/x does not exist \(/clusterName is a scalar\)$",
        ),
        (
            "- {op: test, path: /clusterName/x/y, value: 1}",
            r"/clusterName/x does not exist \(/clusterName is a scalar\)$",
        ),
        (
            "- {op: remove, path: ''}",
            r"operation 0 \(remove \"\"\): cannot remove the whole document$",
        ),
        (
            "- {op: move, from: /networking, path: /networking/inner}",
            r"cannot move /networking into itself$",
        ),
        ("- {op: copy, from: /nope, path: /x}", r"operation 0 \(copy /x\): /nope does not exist$"),
        ("- {op: add, path: nope, value: 1}", r"JSON pointer 'nope' must start with '/'$"),
        ("- {op: add, path: /a~2b, value: 1}", r"has a '~' not followed by 0 or 1$"),
        (
            "- {op: test, path: /clusterName, value: demo}\n- {op: remove, path: /x}",
            r"operation 1 \(remove /x\): /x does not exist$",
        ),
        ("- {op: fly, path: /x}", r": operation 0 has unknown op 'fly'$"),
        ("- {path: /x}", r": operation 0 has unknown op None$"),
        ("- {op: add, path: /x}", r": operation 0 \(add\) is missing 'value'$"),
        ("- {op: test, path: /x}", r": operation 0 \(test\) is missing 'value'$"),
        ("- {op: move, path: /x}", r": operation 0 \(move\) is missing 'from'$"),
        ("- {op: copy, path: /x}", r": operation 0 \(copy\) is missing 'from'$"),
        ("- {op: remove}", r": operation 0 \(remove\) is missing 'path'$"),
        ("- {op: remove, path: 3}", r": operation 0 \(remove\) 'path' must be a string$"),
        ("{op: remove, path: /x}", r": expected a list of operations, got a mapping$"),
        ("- just a string", r": operation 0 is a string, not a mapping$"),
        ("- [unclosed", r": invalid YAML: .* \(line \d+, column \d+\)$"),
    ],
)
def test_json6902_errors(ops: str, message: str) -> None:
    patch = Json6902Patch(kind="ClusterConfiguration", patch=ops)
    with pytest.raises(ConfigError, match=LABEL + ".*" + message) as info:
        apply_kubeadm_patches(RENDERED, json6902=[patch])
    assert "\n" not in str(info.value)


def test_malformed_json6902_raises_even_when_nothing_matches() -> None:
    patch = Json6902Patch(kind="NoSuchKind", patch="- {op: fly, path: /x}")
    with pytest.raises(ConfigError, match=LABEL + ": operation 0 has unknown op 'fly'"):
        apply_kubeadm_patches(RENDERED, json6902=[patch])


def test_json6902_result_must_stay_a_mapping() -> None:
    patch = Json6902Patch(kind="ClusterConfiguration", patch="- {op: replace, path: '', value: 1}")
    with pytest.raises(ConfigError, match=LABEL + ": the patched ClusterConfiguration is no"):
        apply_kubeadm_patches(RENDERED, json6902=[patch])


@pytest.mark.parametrize(
    "item,message",
    [
        ({"patch": "[]"}, r"'kind' is required"),
        ({"kind": "X"}, r"'patch' must be a string"),
        ({"kind": "X", "patch": "[]", "grup": "a"}, r"unknown field 'grup'"),
        ({"kind": "X", "patch": "[]", "group": 1}, r"'group' and 'version' must be strings"),
    ],
)
def test_json6902_bad_targets(item: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=r"kubeadmConfigPatchesJSON6902\[1\]: " + message):
        apply_kubeadm_patches(RENDERED, json6902=[{"kind": "Y", "patch": "[]"}, item])
