"""Cluster configuration: kind's v1alpha4 files, nestkube's v1alpha1 superset, and defaults.

``load_config`` reads a file, ``default_config`` builds the no-file config, and both return a
:class:`ClusterConfig` that is already defaulted and validated. ``check_against_host`` covers
what depends on the engine and host, and runs before any container is made.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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

# Imported on first use (PEP 562), as the package ``nestkube`` does: ``nestkube.config.model``
# (what create reads) must not load the file format's pydantic models with it.
_LAZY = {
    "KIND_API_VERSION": "nestkube.config.document",
    "NESTKUBE_API_VERSION": "nestkube.config.document",
    "check_against_host": "nestkube.config.host_check",
    "check_against_provider": "nestkube.config.host_check",
    "config_json_schema": "nestkube.config.load",
    "from_document": "nestkube.config.load",
    "load_config": "nestkube.config.load",
    "to_document": "nestkube.config.load",
    "DEFAULT_NAME": "nestkube.config.model",
    "ClusterConfig": "nestkube.config.model",
    "ExtraMount": "nestkube.config.model",
    "ExtraPortMapping": "nestkube.config.model",
    "ImageBuild": "nestkube.config.model",
    "Networking": "nestkube.config.model",
    "NodeConfig": "nestkube.config.model",
    "PatchJSON6902": "nestkube.config.model",
    "Ulimits": "nestkube.config.model",
    "default_config": "nestkube.config.model",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nestkube.config' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


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
