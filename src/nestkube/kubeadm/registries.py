"""containerd's registry hosts (``config_path`` and one ``hosts.toml`` per registry name) and
the ``local-registry-hosting`` ConfigMap (KEP-1755): text in, text out.

containerd looks up ``<config_path>/<host[:port]>/hosts.toml`` when it pulls from
``host[:port]``; each ``[host."URL"]`` table there is tried in order before the ``server``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from nestkube.errors import ConfigError

CERTS_D = "/etc/containerd/certs.d"
# The port the registry listens on inside its container (and on the cluster network).
REGISTRY_PORT = 5000
CONFIG_PATH_PATCH = f"""\
[plugins."io.containerd.grpc.v1.cri".registry]
config_path = "{CERTS_D}"
"""


@dataclass(frozen=True)
class RegistryHost:
    """A registry name the nodes pull from (``localhost:5001``, ``docker.io``) and the URL
    they reach it at instead."""

    name: str
    endpoint: str


def check_mirror_url(url: str, what: str) -> str:
    """``url`` if it is an http(s) URL with a host; a one-line ConfigError otherwise."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{what}: {url!r} is not a URL (expected http://host[:port])")
    return url.rstrip("/")


def check_registry_name(name: str, what: str) -> str:
    """An upstream registry's name as images spell it: ``host[:port]``, no scheme or path."""
    if not name or "/" in name or "://" in name or any(c.isspace() for c in name):
        raise ConfigError(f"{what}: {name!r} is not a registry name (expected host[:port])")
    return name


def hosts_dir(name: str) -> str:
    return f"{CERTS_D}/{name}"


def _upstream(name: str) -> str:
    # Docker Hub's images are named docker.io but served from registry-1.docker.io.
    return "https://registry-1.docker.io" if name == "docker.io" else f"https://{name}"


def hosts_toml(host: RegistryHost) -> str:
    """The ``hosts.toml`` that sends pulls of ``host.name`` to ``host.endpoint`` first."""
    lines = []
    if not host.name.startswith("localhost"):
        # When the mirror fails, the registry itself (where the network allows it).
        lines.append(f"server = {json.dumps(_upstream(host.name))}")
        lines.append("")
    lines.append(f"[host.{json.dumps(host.endpoint)}]")
    lines.append('  capabilities = ["pull", "resolve"]')
    return "\n".join(lines) + "\n"


def hosts_files(hosts: Mapping[str, str]) -> dict[str, str]:
    """Registry name -> endpoint, as the files a node needs (path -> content)."""
    return {
        f"{hosts_dir(name)}/hosts.toml": hosts_toml(RegistryHost(name, url))
        for name, url in hosts.items()
    }


# CRI-O reads registries from containers-registries.conf(5); a drop-in adds to the image's.
CRIO_REGISTRIES = "/etc/containers/registries.conf.d/50-nestkube-registries.conf"


def crio_registries_conf(hosts: Mapping[str, str]) -> str:
    """What :func:`hosts_files` tells containerd, for CRI-O: one ``[[registry]]`` per name
    with its endpoint as the mirror tried first (plain HTTP endpoints marked insecure)."""
    out = []
    for name, url in hosts.items():
        parts = urlsplit(url)
        mirror = parts.netloc + parts.path.rstrip("/")
        out += [
            "[[registry]]",
            f"prefix = {json.dumps(name)}",
            f"location = {json.dumps(name)}",
            "",
            "[[registry.mirror]]",
            f"location = {json.dumps(mirror)}",
            f"insecure = {'true' if parts.scheme == 'http' else 'false'}",
            "",
        ]
    return "\n".join(out)


def local_registry_hosting(host: str, in_cluster: str) -> str:
    """KEP-1755's ConfigMap: where users push (``host``) and where nodes pull from."""
    body = (
        f'host: "{host}"\n'
        f'hostFromContainerRuntime: "{in_cluster}"\n'
        f'hostFromClusterNetwork: "{in_cluster}"\n'
        'help: "https://github.com/kubernetes/enhancements/tree/master/keps/sig-cluster-lifecycle/generic/1755-communicating-a-local-registry"\n'
    )
    indented = "".join(f"    {line}\n" for line in body.splitlines())
    return (
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata: {name: local-registry-hosting, namespace: kube-public}\n"
        "data:\n"
        "  localRegistryHosting.v1: |\n"
        f"{indented}"
    )
