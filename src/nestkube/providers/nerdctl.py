"""nerdctl: containerd's docker-compatible CLI, rootful or rootless (containerd-rootless).

nerdctl is not packaged for Debian 12; this provider is unit-tested by its command lines and
its end-to-end test runs only where nerdctl is installed.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping
from typing import Any

from nestkube import _exec
from nestkube.errors import ProviderError
from nestkube.host import HostFacts, probe_host
from nestkube.providers.base import ProviderInfo
from nestkube.providers.docker import (
    DockerLikeProvider,
    info_json,
    node_cgroup_driver,
    security_options_rootless,
)
from nestkube.providers.engine import engine_timeout

# Rootless nodes need nerdctl's and containerd's 1.7 fixes (cgroup v2 delegation for nested
# systemd, rootlesskit port forwarding that survives node restarts); older pairs half-work.
ROOTLESS_MIN_NERDCTL = (1, 7)
ROOTLESS_MIN_CONTAINERD = (1, 7)


def parse_version(text: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) from 'v1.7.6', '1.6.20~ds1-1', '2.0.0-rc.1'; None if absent."""
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def containerd_version(info: Mapping[str, Any], version: Mapping[str, Any]) -> str:
    """containerd's version from `nerdctl version` components, else `nerdctl info`."""
    server = version.get("Server")
    components = server.get("Components") if isinstance(server, Mapping) else None
    if isinstance(components, list):
        for comp in components:
            if isinstance(comp, Mapping) and str(comp.get("Name", "")).lower() == "containerd":
                return str(comp.get("Version") or "")
    return str(info.get("ServerVersion") or "")


def check_rootless_versions(nerdctl: str, containerd: str) -> None:
    """Refuse rootless nerdctl below 1.7 (either part) with the fix, not a late failure."""
    have_n = parse_version(nerdctl)
    have_c = parse_version(containerd)
    old = []
    if have_n is None or have_n[:2] < ROOTLESS_MIN_NERDCTL:
        old.append(f"nerdctl {nerdctl or 'unknown'}")
    if have_c is None or have_c[:2] < ROOTLESS_MIN_CONTAINERD:
        old.append(f"containerd {containerd or 'unknown'}")
    if old:
        raise ProviderError(
            f"rootless nerdctl needs nerdctl >= 1.7 and containerd >= 1.7, found "
            f"{' and '.join(old)}: install nerdctl-full >= 1.7 (it bundles containerd, "
            "rootlesskit and the CNI plugins), then run `containerd-rootless-setuptool.sh "
            "install`; or use --provider podman"
        )


def parse_nerdctl_info(
    info: Mapping[str, Any], version: Mapping[str, Any], binary: str, host: HostFacts
) -> ProviderInfo:
    """ProviderInfo from `nerdctl info` and `nerdctl version` JSON (both --format '{{json .}}')."""
    client = version.get("Client")
    nerdctl_version = str(client.get("Version") or "") if isinstance(client, Mapping) else ""
    ctrd = containerd_version(info, version)
    rootless = security_options_rootless(info.get("SecurityOptions"))
    if rootless:
        check_rootless_versions(nerdctl_version, ctrd)
    return ProviderInfo(
        name="nerdctl",
        binary=binary,
        version=nerdctl_version or ctrd,
        rootless=rootless,
        host=host,
        runtime=None,
        cgroup_driver=node_cgroup_driver(
            rootless, str(info.get("CgroupDriver") or ""), str(info.get("CgroupVersion") or "")
        ),
        storage_driver=str(info.get("Driver") or ""),
    )


def find_nerdctl(binary: str = "nerdctl") -> str:
    path = shutil.which(binary)
    if not path:
        raise ProviderError(
            "nerdctl not found on PATH (it is not packaged for Debian 12: install nerdctl-full "
            "from the containerd/nerdctl releases)"
        )
    return path


def probe_nerdctl(binary: str = "nerdctl", host: HostFacts | None = None) -> ProviderInfo:
    path = find_nerdctl(binary)
    info, _ = info_json(path, "nerdctl")
    res = _exec.run(
        [path, "version", "--format", "{{json .}}"], check=False, timeout=engine_timeout()
    )
    try:
        version = json.loads(res.stdout) if res.stdout.strip() else {}
    except ValueError:
        version = {}
    return parse_nerdctl_info(
        info, version if isinstance(version, dict) else {}, path, host or probe_host()
    )


class NerdctlProvider(DockerLikeProvider):
    name = "nerdctl"

    def _names_and_labels(self, entry: dict[str, Any]) -> tuple[str, dict[str, str], str]:
        name, labels, state = super()._names_and_labels(entry)
        if not state:
            # nerdctl's ps JSON has no State, only Docker's human Status ("Up", "Exited (0)").
            status = str(entry.get("Status", "")).lower()
            state = "running" if status.startswith("up") else status.split(" ", 1)[0]
        return name, labels, state
