"""User patches over rendered configuration: merge patches and RFC 6902 JSON patches.

``kubeadmConfigPatches`` are YAML documents merged into every rendered document of the same
``kind`` (and API group, when the patch names an ``apiVersion``):

* maps merge recursively and ``null`` deletes a key;
* a list of maps that all have a ``name`` merges item by item on ``name`` (so v1beta4
  ``extraArgs`` and ``extraVolumes`` can be amended), and an item carrying
  ``$patch: delete`` removes the item of that name;
* every other list, and every scalar, replaces what was there.

``kubeadmConfigPatchesJSON6902`` are RFC 6902 operation lists aimed at a group, version and
kind. A patch that matches no document does nothing, so one cluster config can carry patches
for several Kubernetes versions. A malformed patch, or an operation that fails, raises
:class:`~nestkube.errors.ConfigError` with a one-line message naming the patch.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import yaml

from nestkube.errors import ConfigError
from nestkube.yaml_errors import yaml_problem

STRATEGIC_LABEL = "kubeadmConfigPatches"
JSON6902_LABEL = "kubeadmConfigPatchesJSON6902"

_OPS = ("add", "remove", "replace", "move", "copy", "test")
_BAD_ESCAPE = re.compile(r"~(?![01])")
_INDEX = re.compile(r"^(0|[1-9][0-9]*)$")


class Json6902Target(Protocol):
    """Anything carrying a JSON 6902 patch and the group/version/kind it is aimed at."""

    @property
    def kind(self) -> str: ...
    @property
    def patch(self) -> str: ...
    @property
    def group(self) -> str: ...
    @property
    def version(self) -> str: ...


@dataclass(frozen=True)
class Json6902Patch:
    """RFC 6902 operations (YAML or JSON text) for the documents of one group/version/kind.

    An empty ``group`` or ``version`` matches any, so a patch need not follow the kubeadm API
    version nestkube picks for each Kubernetes release.
    """

    kind: str
    patch: str
    group: str = ""
    version: str = ""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, label: str = JSON6902_LABEL) -> Json6902Patch:
        unknown = sorted(set(data) - {"group", "version", "kind", "patch"})
        if unknown:
            raise ConfigError(f"{label}: unknown field {unknown[0]!r}")
        kind = data.get("kind")
        if not isinstance(kind, str) or not kind:
            raise ConfigError(f"{label}: 'kind' is required")
        patch = data.get("patch")
        if not isinstance(patch, str):
            raise ConfigError(f"{label}: 'patch' must be a string of RFC 6902 operations")
        group, version = data.get("group", ""), data.get("version", "")
        if not isinstance(group, str) or not isinstance(version, str):
            raise ConfigError(f"{label}: 'group' and 'version' must be strings")
        return cls(kind=kind, patch=patch, group=group, version=version)


def apply_kubeadm_patches(
    rendered: str,
    patches: Sequence[str] = (),
    json6902: Sequence[Json6902Target | Mapping[str, Any]] = (),
) -> str:
    """Apply merge patches, then JSON 6902 patches, to a multi-document YAML string.

    ``json6902`` items may be :class:`Json6902Patch`, any object with the same four
    attributes (the cluster config's own patch type), or plain mappings from a document.
    """
    if not patches and not json6902:
        return rendered
    docs = [d for d in yaml.safe_load_all(rendered) if d is not None]
    for i, text in enumerate(patches):
        label = f"{STRATEGIC_LABEL}[{i}]"
        for patch in _parse_merge_patch(text, label):
            kind = patch.pop("kind")
            group = _group(patch.pop("apiVersion")) if "apiVersion" in patch else None
            for n, doc in enumerate(docs):
                if doc.get("kind") == kind and (group is None or _group(doc) == group):
                    docs[n] = merge_patch(doc, patch)
    for i, item in enumerate(json6902):
        label = f"{JSON6902_LABEL}[{i}]"
        target: Json6902Target = (
            Json6902Patch.from_mapping(item, label=label) if isinstance(item, Mapping) else item
        )
        ops = parse_json_patch(target.patch, label)
        for n, doc in enumerate(docs):
            if _matches(doc, target):
                docs[n] = apply_json_patch(doc, ops, label)
                if not isinstance(docs[n], dict):
                    raise ConfigError(f"{label}: the patched {target.kind} is no longer a mapping")
    return yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False)


# The name the cluster-creation code imports.
apply_patches = apply_kubeadm_patches


def merge_patch(base: Any, patch: Any) -> Any:
    """Merge ``patch`` into ``base`` as described in the module docstring; neither is changed."""
    if isinstance(patch, dict):
        out = copy.deepcopy(base) if isinstance(base, dict) else {}
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = merge_patch(out.get(key), value)
        return out
    if isinstance(patch, list):
        if isinstance(base, list) and _named(base) and patch and _named(patch):
            return _merge_by_name(base, patch)
        return [merge_patch(None, item) if isinstance(item, dict) else item for item in patch]
    return patch


def parse_json_patch(text: str | Sequence[Any], label: str) -> list[dict[str, Any]]:
    """Parse RFC 6902 operations from YAML/JSON text, checking each has what its op needs."""
    ops: Any = _load_yaml(text, label) if isinstance(text, str) else list(text)
    if not isinstance(ops, list):
        raise ConfigError(f"{label}: expected a list of operations, got {_type(ops)}")
    for n, op in enumerate(ops):
        if not isinstance(op, dict):
            raise ConfigError(f"{label}: operation {n} is {_type(op)}, not a mapping")
        name = op.get("op")
        if name not in _OPS:
            raise ConfigError(f"{label}: operation {n} has unknown op {name!r}")
        needed = ["path"]
        if name in ("add", "replace", "test"):
            needed.append("value")
        if name in ("move", "copy"):
            needed.append("from")
        for member in needed:
            if member not in op:
                raise ConfigError(f"{label}: operation {n} ({name}) is missing {member!r}")
        for member in ("path", "from"):
            if member in op and not isinstance(op[member], str):
                raise ConfigError(f"{label}: operation {n} ({name}) {member!r} must be a string")
    return ops


def apply_json_patch(document: Any, operations: Sequence[Mapping[str, Any]], label: str) -> Any:
    """Apply parsed RFC 6902 ``operations`` to a copy of ``document`` and return the result."""
    doc = copy.deepcopy(document)
    for n, op in enumerate(operations):
        name, path = op["op"], op["path"]
        try:
            doc = _apply_op(doc, op)
        except _OpError as e:
            where = path or '""'
            raise ConfigError(f"{label}: operation {n} ({name} {where}): {e}") from None
    return doc


class _OpError(Exception):
    pass


def _apply_op(doc: Any, op: Mapping[str, Any]) -> Any:
    name = op["op"]
    path = _pointer(op["path"])
    if name == "add":
        return _add(doc, path, copy.deepcopy(op["value"]))
    if name == "remove":
        return _remove(doc, path)
    if name == "replace":
        return _replace(doc, path, copy.deepcopy(op["value"]))
    if name == "test":
        actual = _get(doc, path)
        if not _json_equal(actual, op["value"]):
            raise _OpError(f"test failed: found {_show(actual)}, expected {_show(op['value'])}")
        return doc
    source = _pointer(op["from"])
    if name == "move":
        if source == path:
            return doc
        if path[: len(source)] == source:
            raise _OpError(f"cannot move {op['from']} into itself")
        value = _get(doc, source)
        return _add(_remove(doc, source), path, value)
    # copy
    return _add(doc, path, copy.deepcopy(_get(doc, source)))


def _pointer(text: str) -> list[str]:
    if text == "":
        return []
    if not text.startswith("/"):
        raise _OpError(f"JSON pointer {text!r} must start with '/'")
    if _BAD_ESCAPE.search(text):
        raise _OpError(f"JSON pointer {text!r} has a '~' not followed by 0 or 1")
    # ~1 first: "~01" must become "~1", not "/".
    return [t.replace("~1", "/").replace("~0", "~") for t in text[1:].split("/")]


def _render(tokens: list[str]) -> str:
    if not tokens:
        return "the document"
    return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens)


def _index(token: str, length: int, tokens: list[str], *, allow_end: bool) -> int:
    if not _INDEX.match(token):
        raise _OpError(f"{token!r} is not an index into the list at {_render(tokens)}")
    index = int(token)
    if index > length or (index == length and not allow_end):
        raise _OpError(
            f"index {index} is out of range for the list at {_render(tokens)} (length {length})"
        )
    return index


def _get(doc: Any, tokens: list[str]) -> Any:
    node = doc
    for depth, token in enumerate(tokens):
        where = tokens[: depth + 1]
        if isinstance(node, dict):
            if token not in node:
                raise _OpError(f"{_render(where)} does not exist")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(token, len(node), tokens[:depth], allow_end=False)]
        else:
            raise _OpError(
                f"{_render(where)} does not exist ({_render(tokens[:depth])} is a scalar)"
            )
    return node


def _add(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _get(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            parent.insert(_index(last, len(parent), tokens[:-1], allow_end=True), value)
    else:
        raise _OpError(f"cannot add to {_render(tokens[:-1])}: it is {_type(parent)}")
    return doc


def _replace(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _get(doc, tokens[:-1])
    last = tokens[-1]
    # Assigning in place keeps a map's key order, so the output diffs cleanly.
    if isinstance(parent, dict):
        if last not in parent:
            raise _OpError(f"{_render(tokens)} does not exist")
        parent[last] = value
    elif isinstance(parent, list):
        parent[_index(last, len(parent), tokens[:-1], allow_end=False)] = value
    else:
        raise _OpError(f"{_render(tokens)} does not exist ({_render(tokens[:-1])} is a scalar)")
    return doc


def _remove(doc: Any, tokens: list[str]) -> Any:
    if not tokens:
        raise _OpError("cannot remove the whole document")
    parent = _get(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _OpError(f"{_render(tokens)} does not exist")
        del parent[last]
    elif isinstance(parent, list):
        del parent[_index(last, len(parent), tokens[:-1], allow_end=False)]
    else:
        raise _OpError(f"{_render(tokens)} does not exist ({_render(tokens[:-1])} is a scalar)")
    return doc


def _json_equal(a: Any, b: Any) -> bool:
    # Python says True == 1; JSON does not.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def _named(items: list[Any]) -> bool:
    return all(isinstance(item, dict) and "name" in item for item in items)


def _merge_by_name(base: list[Any], patch: list[Any]) -> list[Any]:
    out = copy.deepcopy(base)
    for item in patch:
        name = item["name"]
        at = next((n for n, old in enumerate(out) if old["name"] == name), None)
        if item.get("$patch") == "delete":
            if at is not None:
                del out[at]
        elif at is None:
            out.append(merge_patch(None, item))
        else:
            out[at] = merge_patch(out[at], item)
    return out


def _parse_merge_patch(text: str, label: str) -> list[dict[str, Any]]:
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        raise ConfigError(f"{label}: invalid YAML: {yaml_problem(e)}") from None
    if not docs:
        raise ConfigError(f"{label}: the patch is empty")
    for doc in docs:
        if not isinstance(doc, dict):
            raise ConfigError(f"{label}: expected a mapping, got {_type(doc)}")
        if not isinstance(doc.get("kind"), str):
            raise ConfigError(f"{label}: the patch needs a 'kind' to say which document it patches")
        if "apiVersion" in doc and not isinstance(doc["apiVersion"], str):
            raise ConfigError(f"{label}: 'apiVersion' must be a string")
    return docs


def _load_yaml(text: str, label: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{label}: invalid YAML: {yaml_problem(e)}") from None


def _group(doc_or_api_version: Mapping[str, Any] | str) -> str:
    if isinstance(doc_or_api_version, str):
        api_version = doc_or_api_version
    else:
        api_version = str(doc_or_api_version.get("apiVersion", ""))
    return api_version.rpartition("/")[0]


def _matches(doc: Mapping[str, Any], target: Json6902Target) -> bool:
    group, _, version = str(doc.get("apiVersion", "")).rpartition("/")
    return (
        doc.get("kind") == target.kind
        and (not target.group or group == target.group)
        and (not target.version or version == target.version)
    )


def _type(value: Any) -> str:
    if value is None:
        return "null"
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else "a scalar")


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
