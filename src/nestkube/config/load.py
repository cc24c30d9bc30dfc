"""Reading configuration files into :class:`ClusterConfig`, and writing one back out.

Reading is: text -> YAML documents -> the one ``Cluster`` document -> strict decoding
(:mod:`nestkube.config.document`) -> defaults -> validation (:mod:`nestkube.config.model`).
Every failure is one ConfigError line that names the file, the document when there are
several, the key path and what was expected.
"""

from __future__ import annotations

import datetime
import difflib
import os
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from nestkube.config._paths import format_error, render_path, yaml_problem
from nestkube.config.document import (
    CLUSTER_KIND,
    KIND_API_VERSION,
    NESTKUBE_API_VERSION,
    KindClusterDoc,
    KindNodeDoc,
    MountDoc,
    NestkubeClusterDoc,
    NestkubeNodeDoc,
    PatchJSON6902Doc,
    PortMappingDoc,
)
from nestkube.config.model import (
    DEFAULT_NAME,
    ClusterConfig,
    ExtraMount,
    ExtraPortMapping,
    ImageBuild,
    Networking,
    NodeConfig,
    PatchJSON6902,
    Ulimits,
    default_api_server_address,
    default_listen_address,
    default_subnets,
)
from nestkube.errors import ConfigError
from nestkube.kubeadm.proxy import Proxy

_DOC_MODELS: dict[str, type[KindClusterDoc] | type[NestkubeClusterDoc]] = {
    KIND_API_VERSION: KindClusterDoc,
    NESTKUBE_API_VERSION: NestkubeClusterDoc,
}
_EXPECTED_API = f"expected {KIND_API_VERSION} or {NESTKUBE_API_VERSION}"


# --- YAML -------------------------------------------------------------------------------
class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys, which kind's strict decoding rejects too."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        # Merge keys (<<) may legitimately repeat keys they merge in; only literal keys count.
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f'duplicate key "{key}"',
                key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read(source: str | Path, text: str | None) -> tuple[str, Path, str]:
    """(display name, directory relative host paths are taken from, text)."""
    if str(source) == "-":
        name, base = "<stdin>", Path.cwd()
        if text is None:
            text = sys.stdin.read()
        return name, base, text
    path = Path(source)
    base = path.expanduser().absolute().parent
    if text is None:
        try:
            text = path.expanduser().read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{source}: config file not found") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{source}: not a UTF-8 text file ({exc.reason})") from None
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read config file: {exc.strerror}") from None
    return str(source), base, text


def _pick_cluster_document(name: str, text: str) -> tuple[str, Any]:
    """The one Cluster document in ``text`` and how to name it in messages."""
    try:
        docs = list(yaml.load_all(text, Loader=_StrictLoader))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: invalid YAML: {yaml_problem(exc)}") from None
    present = [(i, doc) for i, doc in enumerate(docs, start=1) if doc is not None]
    if not present:
        raise ConfigError(f"{name}: no configuration found; expected a Cluster document")
    if len(present) == 1:
        return name, present[0][1]
    clusters = [
        (i, doc) for i, doc in present if isinstance(doc, dict) and doc.get("kind") == CLUSTER_KIND
    ]
    if not clusters:
        raise ConfigError(
            f"{name}: none of its {len(present)} documents is a Cluster (kind: {CLUSTER_KIND})"
        )
    if len(clusters) > 1:
        numbers = ", ".join(str(i) for i, _ in clusters)
        raise ConfigError(
            f"{name}: documents {numbers} are all Cluster documents; keep exactly one"
        )
    index, doc = clusters[0]
    return f"{name} (document {index})", doc


# --- decoding ---------------------------------------------------------------------------
def _decode(raw: Any, where: str) -> KindClusterDoc | NestkubeClusterDoc:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a Cluster document (a mapping), got {_kind(raw)}")
    if "apiVersion" not in raw:
        raise ConfigError(f"{where}: missing apiVersion; {_EXPECTED_API}")
    api_version = raw["apiVersion"]
    model = _DOC_MODELS.get(api_version) if isinstance(api_version, str) else None
    if model is None:
        raise ConfigError(f"{where}: apiVersion: unsupported {_show(api_version)}; {_EXPECTED_API}")
    if "kind" not in raw:
        raise ConfigError(f"{where}: missing kind; expected {CLUSTER_KIND}")
    if raw["kind"] != CLUSTER_KIND:
        raise ConfigError(f"{where}: kind: unsupported {_show(raw['kind'])}; expected Cluster")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        # Report the error that comes first in the file, not first in the model's field order.
        errors = sorted(exc.errors(include_url=False), key=lambda e: _position(raw, e["loc"]))
        extra = len(errors) - 1
        more = f" (and {extra} more error{'s' if extra > 1 else ''})" if extra else ""
        path, message = _explain(errors[0], model)
        raise ConfigError(format_error(where, path, message + more)) from None


def _position(raw: Any, loc: tuple[str | int, ...]) -> list[int]:
    """Where ``loc`` is in the parsed document, as indexes of keys and items along the path."""
    out: list[int] = []
    node = raw
    for part in loc:
        if isinstance(node, dict) and part in node:
            out.append(list(node).index(part))
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        else:
            # Missing keys and pydantic's "[key]" marker sort after what is present.
            out.append(len(node) if isinstance(node, dict | list) else 0)
            break
    return out


def _explain(error: ErrorDetails, model: type[BaseModel]) -> tuple[str, str]:
    """A pydantic error as (key path, what was expected and what was found)."""
    loc = list(error["loc"])
    kind = error["type"]
    value = error.get("input")
    if loc and loc[-1] == "[key]":
        # pydantic puts the offending key itself in the path; it reads better in the message.
        return render_path(loc[:-2]), f"key {_show(value)} must be a string (put it in quotes)"
    path = render_path(loc)
    if kind == "extra_forbidden":
        return path, _unknown_key(str(loc[-1]), loc[:-1], model)
    if kind == "missing":
        return path, "missing required key"
    if kind == "literal_error":
        choices = _literal_choices(model, loc)
        expected = "one of " + ", ".join(choices) if choices else error["msg"]
        return path, f"expected {expected}; got {_show(value)}"
    wanted = _EXPECTED.get(kind)
    if wanted is None:
        return path, error["msg"]
    found = f"got {_kind(value)}" if isinstance(value, dict | list) else f"got {_show(value)}"
    hint = ""
    if kind == "string_type" and isinstance(value, bool | int | float | datetime.date):
        hint = " (put the value in quotes)"
    return path, f"expected {wanted}, {found}{hint}"


_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _unknown_key(key: str, parent: list[str | int], model: type[BaseModel]) -> str:
    if model is KindClusterDoc and key in _keys_at(NestkubeClusterDoc, parent):
        return (
            f'unknown key "{key}": it is a nestkube key; use apiVersion: {NESTKUBE_API_VERSION} '
            "to set it"
        )
    allowed = _keys_at(model, parent)
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f'unknown key "{key}"; did you mean "{close[0]}"?'
    if allowed:
        return f'unknown key "{key}"; expected one of ' + ", ".join(allowed)
    return f'unknown key "{key}"'


def _field_type(model: type[BaseModel], loc: list[str | int]) -> Any:
    """The annotation reached by following ``loc`` (aliases and list indexes) from ``model``."""
    current: Any = model
    for part in loc:
        current = _strip_none(current)
        origin = get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            match = [f for n, f in current.model_fields.items() if (f.alias or n) == part]
            if not match:
                return None
            current = match[0].annotation
        elif origin is list and isinstance(part, int):
            current = get_args(current)[0]
        elif origin is dict:
            current = get_args(current)[1]
        else:
            return None
    return _strip_none(current)


def _strip_none(tp: Any) -> Any:
    if get_origin(tp) in (Union, types.UnionType):
        rest = [a for a in get_args(tp) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return tp


def _keys_at(model: type[BaseModel], loc: list[str | int]) -> list[str]:
    tp = _field_type(model, loc)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or n for n, f in tp.model_fields.items()]
    return []


def _literal_choices(model: type[BaseModel], loc: list[str | int]) -> list[str]:
    tp = _field_type(model, loc)
    if get_origin(tp) is Literal:
        return [str(a) for a in get_args(tp)]
    return []


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, datetime.date):
        return "a date"
    return type(value).__name__


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict | list):
        return _kind(value)
    return str(value)


# --- resolving --------------------------------------------------------------------------
def _resolve(
    doc: KindClusterDoc | NestkubeClusterDoc, where: str | None, base: Path
) -> ClusterConfig:
    """Apply defaults (kind's, except the cluster name) and build the validated config."""
    net_doc = doc.networking
    ip_family = (net_doc.ip_family if net_doc else None) or "ipv4"
    net = Networking.for_family(ip_family)
    if net_doc is not None:
        pod, service = default_subnets(ip_family)
        net = Networking(
            ip_family=ip_family,
            api_server_address=net_doc.api_server_address or default_api_server_address(ip_family),
            api_server_port=net_doc.api_server_port or 0,
            pod_subnet=net_doc.pod_subnet or pod,
            service_subnet=net_doc.service_subnet or service,
            disable_default_cni=bool(net_doc.disable_default_cni),
            kube_proxy_mode=net_doc.kube_proxy_mode or "iptables",
            dns_search=None if net_doc.dns_search is None else list(net_doc.dns_search),
        )
    nodes = [_resolve_node(node, base, ip_family) for node in doc.nodes or []] or [NodeConfig()]
    common: dict[str, Any] = {
        "name": doc.name or DEFAULT_NAME,
        "nodes": nodes,
        "networking": net,
        "feature_gates": dict(doc.feature_gates or {}),
        "runtime_config": dict(doc.runtime_config or {}),
        "kubeadm_config_patches": list(doc.kubeadm_config_patches or []),
        "kubeadm_config_patches_json6902": _json6902(doc.kubeadm_config_patches_json6902),
        "containerd_config_patches": list(doc.containerd_config_patches or []),
        "containerd_config_patches_json6902": list(doc.containerd_config_patches_json6902 or []),
        "source": where,
    }
    if isinstance(doc, KindClusterDoc):
        return ClusterConfig(**common, source_kind="kind")
    build = doc.image_build
    return ClusterConfig(
        **common,
        source_kind="nestkube",
        provider=doc.provider,
        rootless=doc.rootless,
        restrict_oom_score_adj=doc.restrict_oom_score_adj,
        ulimits=None if doc.ulimits is None else Ulimits(doc.ulimits.nofile, doc.ulimits.nproc),
        drop_capabilities=list(doc.drop_capabilities or []),
        dns_addon=doc.dns_addon is not False,
        default_storage_class=doc.default_storage_class is not False,
        metrics_server=bool(doc.metrics_server),
        load_balancer_services=doc.load_balancer_services is not False,
        proxy=None
        if doc.proxy is None
        else Proxy(
            doc.proxy.http_proxy or "", doc.proxy.https_proxy or "", doc.proxy.no_proxy or ""
        ),
        registries=list(doc.registries or []),
        registry_mirrors=dict(doc.registry_mirrors or {}),
        image_build=None
        if build is None
        else ImageBuild(
            kubernetes_version=build.kubernetes_version or None,
            kubernetes_binaries=_host_path(build.kubernetes_binaries, base),
            kubernetes_source=_host_path(build.kubernetes_source, base),
            base_image=build.base_image or None,
        ),
    )


def _resolve_node(
    node: KindNodeDoc | NestkubeNodeDoc, base: Path, ip_family: Literal["ipv4", "ipv6", "dual"]
) -> NodeConfig:
    return NodeConfig(
        runtime=(node.runtime if isinstance(node, NestkubeNodeDoc) else None) or "containerd",
        role=node.role or "control-plane",
        image=node.image or None,
        labels=dict(node.labels or {}),
        extra_mounts=[_resolve_mount(m, base) for m in node.extra_mounts or []],
        extra_port_mappings=[_resolve_port(p, ip_family) for p in node.extra_port_mappings or []],
        kubeadm_config_patches=list(node.kubeadm_config_patches or []),
        kubeadm_config_patches_json6902=_json6902(node.kubeadm_config_patches_json6902),
    )


def _resolve_mount(mount: MountDoc, base: Path) -> ExtraMount:
    return ExtraMount(
        host_path=_host_path(mount.host_path, base) or "",
        container_path=mount.container_path,
        read_only=bool(mount.read_only),
        selinux_relabel=bool(mount.selinux_relabel),
        propagation=mount.propagation or "None",
    )


def _resolve_port(
    pm: PortMappingDoc, ip_family: Literal["ipv4", "ipv6", "dual"]
) -> ExtraPortMapping:
    return ExtraPortMapping(
        container_port=pm.container_port,
        host_port=pm.host_port or 0,
        listen_address=pm.listen_address or default_listen_address(ip_family),
        protocol=pm.protocol or "TCP",
    )


def _host_path(value: str | None, base: Path) -> str | None:
    """Relative host paths are taken from the config file's directory, so configs can move."""
    if not value:
        return None
    path = Path(value).expanduser()
    # normpath, like Go's filepath.Abs that kind uses: "../x" should not reach the engine.
    return os.path.normpath(path if path.is_absolute() else base / path)


def _json6902(patches: list[PatchJSON6902Doc] | None) -> list[PatchJSON6902]:
    return [
        PatchJSON6902(group=p.group or "", version=p.version, kind=p.kind, patch=p.patch)
        for p in patches or []
    ]


# --- public -----------------------------------------------------------------------------
def load_config(source: str | Path, *, text: str | None = None) -> ClusterConfig:
    """Load a config file; ``"-"`` reads stdin. With ``text``, ``source`` only names it.

    Relative ``hostPath`` values are taken from the file's directory (the current directory
    for stdin).
    """
    name, base, content = _read(source, text)
    where, raw = _pick_cluster_document(name, content)
    return _resolve(_decode(raw, where), where, base)


def from_document(
    document: Mapping[str, Any], *, base_dir: Path | None = None, source: str | None = None
) -> ClusterConfig:
    """A config from an already parsed document (a dict as YAML would give)."""
    where = source or "<document>"
    return _resolve(_decode(dict(document), where), where, base_dir or Path.cwd())


def to_document(cfg: ClusterConfig) -> dict[str, Any]:
    """The resolved config as a nestkube.io/v1alpha1 document (for --dry-run and round trips).

    Every default is spelled out; keys whose value is null or empty are left out, which reads
    back as the same thing.
    """
    net = cfg.networking
    doc: dict[str, Any] = {
        "apiVersion": NESTKUBE_API_VERSION,
        "kind": CLUSTER_KIND,
        "name": cfg.name,
        "provider": cfg.provider,
        "rootless": cfg.rootless,
        "nodes": [_node_document(node) for node in cfg.nodes],
        "networking": _compact(
            {
                "ipFamily": net.ip_family,
                "apiServerAddress": net.api_server_address,
                "apiServerPort": net.api_server_port,
                "podSubnet": net.pod_subnet,
                "serviceSubnet": net.service_subnet,
                "disableDefaultCNI": net.disable_default_cni,
                "kubeProxyMode": net.kube_proxy_mode,
                "dnsSearch": net.dns_search,
            },
            keep_empty=("dnsSearch",),
        ),
        "featureGates": dict(cfg.feature_gates),
        "runtimeConfig": dict(cfg.runtime_config),
        "kubeadmConfigPatches": list(cfg.kubeadm_config_patches),
        "kubeadmConfigPatchesJSON6902": [
            _patch_document(p) for p in cfg.kubeadm_config_patches_json6902
        ],
        "containerdConfigPatches": list(cfg.containerd_config_patches),
        "containerdConfigPatchesJSON6902": list(cfg.containerd_config_patches_json6902),
        "restrictOOMScoreAdj": cfg.restrict_oom_score_adj,
        "ulimits": None
        if cfg.ulimits is None
        else _compact({"nofile": cfg.ulimits.nofile, "nproc": cfg.ulimits.nproc}),
        "dropCapabilities": list(cfg.drop_capabilities),
        "dnsAddon": cfg.dns_addon,
        "defaultStorageClass": cfg.default_storage_class,
        "metricsServer": cfg.metrics_server,
        "loadBalancerServices": cfg.load_balancer_services,
        "proxy": None
        if cfg.proxy is None
        else _compact(
            {
                "httpProxy": cfg.proxy.http or None,
                "httpsProxy": cfg.proxy.https or None,
                "noProxy": cfg.proxy.no_proxy or None,
            }
        ),
        "registries": list(cfg.registries),
        "registryMirrors": dict(cfg.registry_mirrors),
        "imageBuild": None
        if cfg.image_build is None
        else _compact(
            {
                "kubernetesVersion": cfg.image_build.kubernetes_version,
                "kubernetesBinaries": cfg.image_build.kubernetes_binaries,
                "kubernetesSource": cfg.image_build.kubernetes_source,
                "baseImage": cfg.image_build.base_image,
            }
        ),
    }
    return _compact(doc)


def _node_document(node: NodeConfig) -> dict[str, Any]:
    return _compact(
        {
            "role": node.role,
            "image": node.image,
            "runtime": node.runtime,
            "labels": dict(node.labels),
            "extraMounts": [
                {
                    "hostPath": m.host_path,
                    "containerPath": m.container_path,
                    "readOnly": m.read_only,
                    "selinuxRelabel": m.selinux_relabel,
                    "propagation": m.propagation,
                }
                for m in node.extra_mounts
            ],
            "extraPortMappings": [
                {
                    "containerPort": p.container_port,
                    "hostPort": p.host_port,
                    "listenAddress": p.listen_address,
                    "protocol": p.protocol,
                }
                for p in node.extra_port_mappings
            ],
            "kubeadmConfigPatches": list(node.kubeadm_config_patches),
            "kubeadmConfigPatchesJSON6902": [
                _patch_document(p) for p in node.kubeadm_config_patches_json6902
            ],
        }
    )


def _patch_document(patch: PatchJSON6902) -> dict[str, Any]:
    return {
        "group": patch.group,
        "version": patch.version,
        "kind": patch.kind,
        "patch": patch.patch,
    }


def _compact(values: dict[str, Any], keep_empty: tuple[str, ...] = ()) -> dict[str, Any]:
    # An empty dnsSearch means "no search domains", which differs from unset, so it stays.
    return {
        k: v
        for k, v in values.items()
        if v is not None and (k in keep_empty or not (isinstance(v, dict | list) and not v))
    }


def config_json_schema() -> dict[str, Any]:
    """The JSON schema (draft 2020-12) of nestkube.io/v1alpha1 Cluster documents."""
    schema = NestkubeClusterDoc.model_json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://nestkube.io/schemas/v1alpha1/cluster.json",
        **schema,
    }
