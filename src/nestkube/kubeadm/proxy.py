"""HTTP proxies for the nodes' containerd (or CRI-O) and kubelet: the variables, from the
config or the environment, and the systemd drop-ins that set them (text in, text out).

Either case of each variable is read (``HTTP_PROXY`` first, then ``http_proxy``), and both
cases are set in the nodes, since programs disagree on which they read. ``NO_PROXY`` gets what
must never go through a proxy added to it: loopback, the pod and service subnets, the nodes'
names and addresses, the cluster's Service domains and the registries on its network.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

NAMES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
DROP_IN = "/etc/systemd/system/{unit}.service.d/10-nestkube-proxy.conf"
ALWAYS_DIRECT = ("localhost", "127.0.0.1", "::1", ".svc", ".svc.cluster.local")


@dataclass(frozen=True)
class Proxy:
    http: str = ""
    https: str = ""
    no_proxy: str = ""

    def __bool__(self) -> bool:
        return bool(self.http or self.https)


def from_environment(environ: Mapping[str, str] | None = None) -> Proxy:
    """The proxy the host's environment names (upper case first, as curl and Go read it)."""
    env = os.environ if environ is None else environ

    def get(name: str) -> str:
        return env.get(name) or env.get(name.lower()) or ""

    return Proxy(get("HTTP_PROXY"), get("HTTPS_PROXY"), get("NO_PROXY"))


def resolve(configured: Proxy | None, environ: Mapping[str, str] | None = None) -> Proxy:
    """The config's proxy where it sets one, else the environment's; each variable on its own."""
    env = from_environment(environ)
    if configured is None:
        return env
    return Proxy(
        configured.http or env.http,
        configured.https or env.https,
        configured.no_proxy or env.no_proxy,
    )


def no_proxy(base: str, extra: Iterable[str]) -> str:
    """``base``'s entries then ``extra``'s and the always-direct ones, each once, in order."""
    entries = [e.strip() for e in base.split(",") if e.strip()]
    return ",".join(dict.fromkeys([*entries, *ALWAYS_DIRECT, *extra]))


def environment(proxy: Proxy) -> dict[str, str]:
    """The variables set in the nodes, both cases."""
    values = {"HTTP_PROXY": proxy.http, "HTTPS_PROXY": proxy.https, "NO_PROXY": proxy.no_proxy}
    out: dict[str, str] = {}
    for name, value in values.items():
        if value:
            out[name] = value
            out[name.lower()] = value
    return out


def drop_in(proxy: Proxy) -> str:
    lines = ["[Service]"]
    for name, value in environment(proxy).items():
        # systemd's quoting: the whole assignment in double quotes, \ and " escaped.
        escaped = f"{name}={value}".replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'Environment="{escaped}"')
    return "\n".join(lines) + "\n"


def drop_ins(proxy: Proxy, units: Iterable[str]) -> dict[str, str]:
    """Path -> content of the drop-in for each unit; {} without a proxy."""
    if not proxy:
        return {}
    text = drop_in(proxy)
    return {DROP_IN.format(unit=unit): text for unit in units}


def describe(proxy: Proxy) -> str:
    """One line for the doctor: which proxy the nodes will use."""
    if not proxy:
        return "none (no HTTP_PROXY or HTTPS_PROXY set)"
    parts = [f"HTTP_PROXY={proxy.http}"] if proxy.http else []
    if proxy.https:
        parts.append(f"HTTPS_PROXY={proxy.https}")
    if proxy.no_proxy:
        parts.append(f"NO_PROXY={proxy.no_proxy} (plus the cluster's own addresses)")
    return ", ".join(parts)
