"""nestkube: local Kubernetes clusters in Podman, Docker or nerdctl containers."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from nestkube._version import __version__
from nestkube.errors import (
    ClusterError,
    CommandError,
    ConfigError,
    HostError,
    ImageBuildError,
    NestkubeError,
    ProviderError,
)

if TYPE_CHECKING:
    from nestkube.cluster import (
        Cluster,
        add_node,
        cluster_info,
        create_cluster,
        create_registry,
        delete_cluster,
        delete_node,
        delete_registry,
        export_kubeconfig,
        get_kubeconfig,
        list_clusters,
        list_nodes,
        list_registries,
        registry_logs,
        resolve_engine,
        start_cluster,
        stop_cluster,
    )
    from nestkube.config import ClusterConfig, default_config, load_config
    from nestkube.status import Status

# The facade's names are imported on first use (PEP 562): every `nestkube.*` import runs this
# file first, and the CLI must not pay for pydantic, rich and the create pipeline up front.
_LAZY = {
    "Cluster": "nestkube.cluster",
    "add_node": "nestkube.cluster",
    "delete_node": "nestkube.cluster",
    "cluster_info": "nestkube.cluster",
    "create_cluster": "nestkube.cluster",
    "delete_cluster": "nestkube.cluster",
    "export_kubeconfig": "nestkube.cluster",
    "get_kubeconfig": "nestkube.cluster",
    "list_clusters": "nestkube.cluster",
    "list_nodes": "nestkube.cluster",
    "create_registry": "nestkube.cluster",
    "delete_registry": "nestkube.cluster",
    "list_registries": "nestkube.cluster",
    "registry_logs": "nestkube.cluster",
    "resolve_engine": "nestkube.cluster",
    "start_cluster": "nestkube.cluster",
    "stop_cluster": "nestkube.cluster",
    "ClusterConfig": "nestkube.config",
    "default_config": "nestkube.config",
    "load_config": "nestkube.config",
    "Status": "nestkube.status",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        # Also what `from nestkube import <submodule>` relies on to import the submodule.
        raise AttributeError(f"module 'nestkube' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "Cluster",
    "ClusterConfig",
    "ClusterError",
    "CommandError",
    "ConfigError",
    "HostError",
    "ImageBuildError",
    "NestkubeError",
    "ProviderError",
    "Status",
    "__version__",
    "add_node",
    "cluster_info",
    "create_cluster",
    "create_registry",
    "default_config",
    "delete_cluster",
    "delete_node",
    "delete_registry",
    "export_kubeconfig",
    "get_kubeconfig",
    "list_clusters",
    "list_nodes",
    "list_registries",
    "load_config",
    "registry_logs",
    "resolve_engine",
    "start_cluster",
    "stop_cluster",
]
