"""Cluster configuration: kind's v1alpha4 files, nestkube's v1alpha1 superset, and defaults.

``load_config`` reads a file, ``default_config`` builds the no-file config, and both return a
:class:`ClusterConfig` that is already defaulted and validated. ``check_against_host`` covers
what depends on the engine and host, and runs before any container is made.
"""

from nestkube.config.document import KIND_API_VERSION, NESTKUBE_API_VERSION
from nestkube.config.host_check import check_against_host, check_against_provider
from nestkube.config.load import config_json_schema, from_document, load_config, to_document
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
    default_config,
)

__all__ = [
    "DEFAULT_NAME",
    "KIND_API_VERSION",
    "NESTKUBE_API_VERSION",
    "ClusterConfig",
    "ExtraMount",
    "ExtraPortMapping",
    "ImageBuild",
    "Networking",
    "NodeConfig",
    "PatchJSON6902",
    "Ulimits",
    "check_against_host",
    "check_against_provider",
    "config_json_schema",
    "default_config",
    "from_document",
    "load_config",
    "to_document",
]
