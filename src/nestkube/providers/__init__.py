"""Container engines behind one interface: pick one with :func:`get_provider`."""

from __future__ import annotations

import os
import shutil

from nestkube.errors import ProviderError
from nestkube.host import HostFacts
from nestkube.providers.base import Provider, ProviderInfo

ENGINES = ("podman", "docker", "nerdctl")


def requested_engine(explicit: str | None = None) -> str | None:
    """--provider, else NESTKUBE_PROVIDER, else kind's KIND_EXPERIMENTAL_PROVIDER."""
    name = (
        explicit
        or os.environ.get("NESTKUBE_PROVIDER")
        or os.environ.get("KIND_EXPERIMENTAL_PROVIDER")
    )
    if name and name not in ENGINES:
        raise ProviderError(f"unknown provider {name!r}; choose one of {', '.join(ENGINES)}")
    return name or None


def get_provider(explicit: str | None = None, host: HostFacts | None = None) -> Provider:
    """The provider asked for, or the first engine found on PATH that answers."""
    name = requested_engine(explicit)
    candidates = [name] if name else [e for e in ENGINES if shutil.which(e)]
    if not candidates:
        raise ProviderError("no container engine found: install podman or docker")
    errors = []
    for engine in candidates:
        try:
            return _make(engine, host)
        except ProviderError as exc:
            errors.append(str(exc))
    raise ProviderError("; ".join(errors))


def _make(engine: str, host: HostFacts | None) -> Provider:
    if engine == "podman":
        from nestkube.providers.podman import PodmanProvider, probe_podman

        return PodmanProvider(probe_podman(host=host))
    if engine == "docker":
        from nestkube.providers.docker import DockerProvider, probe_docker

        return DockerProvider(probe_docker(host=host))
    from nestkube.providers.nerdctl import NerdctlProvider, probe_nerdctl

    return NerdctlProvider(probe_nerdctl(host=host))


__all__ = ["ENGINES", "Provider", "ProviderInfo", "get_provider", "requested_engine"]
