"""The config's value types, shared by the file format (:mod:`nestkube.config.document`) and
the resolved model (:mod:`nestkube.config.model`), without pydantic: create reads a
:class:`~nestkube.config.model.ClusterConfig` and does not pay for the file format's models."""

from __future__ import annotations

from typing import Literal

from nestkube.providers.facts import ProviderName

IPFamily = Literal["ipv4", "ipv6", "dual"]
KubeProxyMode = Literal["iptables", "ipvs", "none"]
# The engine registry's names: a config's provider is one of the engines nestkube drives.
ProviderChoice = ProviderName
