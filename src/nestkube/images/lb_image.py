"""The external load balancer's image: Debian's HAProxy on the kit's Debian base.

Built like the node image, on whichever engine the provider wraps: a container of the base
image installs the package and is committed. The tag is the build's content key (recipe and
base image), so create builds it once and finds it afterwards. The downloaded packages stay
in the cache, so a rebuild (after the base image changed, say) works offline too.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from nestkube._version import __version__
from nestkube.cache import cache_root, content_key
from nestkube.errors import CommandError, ImageBuildError
from nestkube.images.node_image import (
    LABEL_BUILD_KEY,
    LABEL_BUILDER,
    LABEL_COMPONENTS,
    components_label,
    ensure_kit_base,
    parse_components_label,
)
from nestkube.nodeops.loadbalancer import CONFIG_PATH, render_config
from nestkube.providers.base import Mount, Provider
from nestkube.status import SILENT, Status

REPOSITORY = "localhost/nestkube/load-balancer"
RECIPE = "haproxy-1"
DEBS = "/nestkube-debs"

# Online: install through apt, keeping the packages in the mounted cache. Offline (no index
# reachable): install the packages an earlier build kept there.
_INSTALL = f"""\
set -eu
export DEBIAN_FRONTEND=noninteractive
mkdir -p {DEBS}/partial
if apt-get update -qq; then
  apt-get install -y -qq --no-install-recommends -o Dir::Cache::archives={DEBS} haproxy >/dev/null
else
  ls {DEBS}/*.deb >/dev/null 2>&1 || {{ echo "no Debian mirror and no cached packages"; exit 1; }}
  dpkg -i {DEBS}/*.deb >/dev/null
fi
rm -rf /var/lib/apt/lists/*
dpkg-query -W -f '${{Version}}' haproxy
"""

# Master-worker mode (-W): SIGUSR2 to the master (PID 1) reloads the configuration and a
# broken file leaves the running workers as they were.
ENTRYPOINT = ["haproxy", "-W", "-db", "-f", CONFIG_PATH]


@dataclass(frozen=True)
class LoadBalancerImage:
    image: str
    haproxy_version: str
    reused: bool


def image_name(base_id: str) -> str:
    key = content_key([RECIPE, base_id, _INSTALL, ENTRYPOINT, render_config({})])
    return f"{REPOSITORY}:{key[:12]}"


def ensure_lb_image(provider: Provider, status: Status = SILENT) -> LoadBalancerImage:
    """The load balancer image in this engine, built when absent."""
    base = ensure_kit_base(provider, status)
    base_id = provider.image_id(base)
    if base_id is None:
        raise ImageBuildError(f"base image {base} not found in {provider.info.name}")
    target = image_name(base_id)
    if provider.image_exists(target):
        labels = parse_components_label(provider.image_labels(target).get(LABEL_COMPONENTS, ""))
        return LoadBalancerImage(target, labels.get("haproxy", ""), reused=True)
    debs = cache_root() / "images" / "lb-debs"
    debs.mkdir(parents=True, exist_ok=True)
    debs.chmod(0o777)  # a rootless engine's container root is another user on the host
    container = f"nestkube-build-lb-{secrets.token_hex(4)}"
    try:
        with status.step(f"Building the load balancer image {target}"):
            provider.run_build_container(base, container, [Mount(str(debs), DEBS)])
            try:
                version = provider.exec(
                    container, ["sh", "-c", _INSTALL], what="installing haproxy"
                ).stdout.strip()
            except CommandError as exc:
                raise ImageBuildError(
                    f"installing Debian's haproxy failed:\n{exc.output_tail(10)}"
                ) from exc
            # Until create writes the control planes, HAProxy listens with none behind it.
            provider.exec(
                container,
                ["sh", "-c", f"cat > {CONFIG_PATH}"],
                input=render_config({}),
                what="writing the initial haproxy.cfg",
            )
            labels = {
                LABEL_COMPONENTS: components_label({"haproxy": version}),
                LABEL_BUILD_KEY: target.rsplit(":", 1)[1],
                LABEL_BUILDER: __version__,
            }
            entry = ", ".join(f'"{word}"' for word in ENTRYPOINT)
            provider.commit(
                container,
                target,
                [
                    f"ENTRYPOINT [{entry}]",
                    "CMD []",
                    *[f'LABEL {k}="{v}"' for k, v in labels.items()],
                ],
            )
    finally:
        provider.remove_container(container)
    return LoadBalancerImage(target, version, reused=False)
