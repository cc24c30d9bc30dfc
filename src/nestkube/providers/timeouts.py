"""The engine's time limits, beside the runner: every engine call has one.

A hung engine becomes an error instead of a hang. NESTKUBE_ENGINE_TIMEOUT sets the base
(seconds) for quick queries; other kinds of call get a multiple of it. Waits with a meaning of
their own (kubeadm, Ready) pass their own limits.

This module imports nothing of the providers', so the probes (:mod:`providers.facts`) and the
engine CLI (:mod:`providers.engine`) share it without a circle.
"""

from __future__ import annotations

import os
from pathlib import Path

from nestkube.errors import ProviderError

ENGINE_TIMEOUT_ENV = "NESTKUBE_ENGINE_TIMEOUT"
DEFAULT_ENGINE_TIMEOUT = 60.0
QUERY = 1.0  # ps, inspect, ls, info
CHANGE = 5.0  # run, create, rm, commands in a node
LONG = 30.0  # save, load, import, commit, cp, image build scripts in a container


def engine_timeout(scale: float = QUERY) -> float:
    """The time limit for an engine call of kind ``scale`` (QUERY, CHANGE or LONG)."""
    raw = os.environ.get(ENGINE_TIMEOUT_ENV, "").strip()
    try:
        base = float(raw) if raw else DEFAULT_ENGINE_TIMEOUT
    except ValueError:
        raise ProviderError(f"{ENGINE_TIMEOUT_ENV}={raw!r} is not a number of seconds") from None
    if base <= 0:
        raise ProviderError(f"{ENGINE_TIMEOUT_ENV} must be positive, not {raw!r}")
    return base * scale


def engine_hint(binary: str) -> str:
    """What to check when an engine call times out."""
    name = Path(binary).name
    return f"is the engine hung? check `{name} info`"
