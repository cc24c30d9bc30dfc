"""nestkube: local Kubernetes clusters in Podman, Docker or nerdctl containers."""

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

__all__ = [
    "ClusterError",
    "CommandError",
    "ConfigError",
    "HostError",
    "ImageBuildError",
    "NestkubeError",
    "ProviderError",
    "__version__",
]
