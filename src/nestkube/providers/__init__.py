"""Container engines behind one interface: pick one with :func:`get_provider`."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

from nestkube.errors import ProviderError
from nestkube.host import HostFacts
from nestkube.providers.base import Provider, ProviderInfo
from nestkube.providers.facts import ENGINES, ProviderName

if TYPE_CHECKING:
    from nestkube.providers.engine import CliProvider

A = TypeVar("A")


def requested_engine(
    explicit: str | None = None, env: Mapping[str, str] | None = None
) -> ProviderName | None:
    """--provider, else NESTKUBE_PROVIDER, else kind's KIND_EXPERIMENTAL_PROVIDER.

    Every command (doctor too) picks its engine here, so a bad name is the same error.
    """
    env = os.environ if env is None else env
    name = explicit or env.get("NESTKUBE_PROVIDER") or env.get("KIND_EXPERIMENTAL_PROVIDER")
    if not name:
        return None
    for engine in ENGINES:
        if name == engine:
            return engine
    raise ProviderError(f"unknown provider {name!r}; choose one of {', '.join(ENGINES)}")


def get_provider(
    explicit: str | None = None, host: HostFacts | None = None, *, probe: bool = True
) -> Provider:
    """The provider asked for, or the first engine found on PATH that answers.

    With ``probe=False`` it is the first engine asked for or found, and its facts are probed
    only when first needed: listing containers needs none, so `get clusters` is one engine
    call (an engine that does not answer then fails that call).
    """
    candidates = engine_candidates(explicit)
    if not candidates:
        raise ProviderError("no container engine found: install podman or docker")
    if not probe:
        return _make(candidates[0], host, probe=False)
    return choose_engine(candidates, lambda engine: _make(engine, host))[1]


def engine_candidates(
    explicit: str | None = None,
    env: Mapping[str, str] | None = None,
    found: Callable[[ProviderName], object] = shutil.which,
) -> list[ProviderName]:
    """The engines to try, in order: the one asked for (:func:`requested_engine`), else every
    engine ``found`` says is installed (on PATH), in :data:`ENGINES` order."""
    name = requested_engine(explicit, env)
    return [name] if name else [e for e in ENGINES if found(e)]


def choose_engine(
    candidates: Sequence[ProviderName], answer: Callable[[ProviderName], A]
) -> tuple[ProviderName, A]:
    """The first of ``candidates`` that answers, and its answer. ``answer`` probes one engine
    and raises :class:`ProviderError` when it does not answer; when none does, that error is
    every engine's, joined. Every command picks its engine this way, and so does the doctor
    (with its own probe, which reads the engine's facts under a root of its choosing)."""
    errors = []
    for engine in candidates:
        try:
            return engine, answer(engine)
        except ProviderError as exc:
            errors.append(str(exc))
    raise ProviderError("; ".join(errors))


def _make(engine: str, host: HostFacts | None, probe: bool = True) -> Provider:
    provider, find, probe_engine = _engine(engine)
    path = find(engine)
    if not probe:
        return provider.unprobed(path, lambda: probe_engine(path, host))
    return provider(probe_engine(path, host))


# An engine's provider class, how to find its binary, and how to probe it.
_Engine = tuple[
    type["CliProvider"], Callable[[str], str], Callable[[str, HostFacts | None], ProviderInfo]
]


def _engine(engine: str) -> _Engine:
    if engine == "podman":
        from nestkube.providers import podman

        return podman.PodmanProvider, podman.find_podman, podman.probe_podman
    if engine == "docker":
        from nestkube.providers import docker

        return docker.DockerProvider, docker.find_docker, docker.probe_docker
    from nestkube.providers import nerdctl

    return nerdctl.NerdctlProvider, nerdctl.find_nerdctl, nerdctl.probe_nerdctl


__all__ = [
    "ENGINES",
    "Provider",
    "ProviderInfo",
    "choose_engine",
    "engine_candidates",
    "get_provider",
    "requested_engine",
]
