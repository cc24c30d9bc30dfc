"""nestkube: local Kubernetes clusters in Podman, Docker or nerdctl containers."""

from nestkube._version import __version__
from nestkube.cluster import (
    Cluster,
    cluster_info,
    create_cluster,
    delete_cluster,
    export_kubeconfig,
    get_kubeconfig,
    list_clusters,
    list_nodes,
)
from nestkube.config import ClusterConfig, default_config, load_config
from nestkube.errors import (
    ClusterError,
    CommandError,
    ConfigError,
    HostError,
    ImageBuildError,
    NestkubeError,
    ProviderError,
)
from nestkube.status import Status

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
    "cluster_info",
    "create_cluster",
    "default_config",
    "delete_cluster",
    "export_kubeconfig",
    "get_kubeconfig",
    "list_clusters",
    "list_nodes",
    "load_config",
]
