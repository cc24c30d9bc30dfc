"""What a node needs before its kubelet first starts, done in one exec per node.

An exec into a node costs 0.1-0.6 s on a busy two-core host, and create used to spend about
ten per node on this: the runtime's config and its restart, the resolver check, each route,
the masquerade check and its rule, the CNI and agent files. Here one script does it all,
in the order that matters: systemd's boot waited for, the kubelet stopped until kubeadm
starts it, files from a tar on
stdin, the runtime restarted on its new config, the routes replaced, the masquerade rule
checked then added, the agent's env file written last (its appearance starts the agent,
which must find the rest in place), and the node's resolv.conf printed for the resolver
check (:func:`nestkube.nodeops.network.forward_node_dns`).
"""

from __future__ import annotations

import io
import shlex
import tarfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nestkube.providers.base import Provider

RESOLV_CONF = "/etc/resolv.conf"
# Until systemd's boot has ended: `--wait` blocks while it starts; before its manager answers
# at all, systemctl says "offline" at once, so that is asked again.
SYSTEMD_BOOTED = (
    "while :; do s=$(systemctl is-system-running --wait 2>/dev/null); "
    'case "$s" in running|degraded) exit 0;; esac; sleep 0.2; done'
)


@dataclass(frozen=True)
class NodeSetup:
    """One node's setup; every part may be empty."""

    # Path -> content, written first and in this order.
    files: Mapping[str, str]
    # Seconds to wait for systemd's boot to end before anything else (0: do not wait).
    boot_wait: int = 0
    # Units stopped first: a kubelet not yet set up fails and is restarted every second,
    # each start costing a CPU share that init and the other nodes' boots need; kubeadm
    # starts it again once its config is written.
    stop: Sequence[str] = ()
    # The runtime's systemd unit, restarted once its config is written.
    restart: str | None = None
    # Reload systemd's units after the files: some are drop-ins (the proxy's).
    reload_units: bool = False
    # argv lists: `ip route replace` to each peer's pod CIDR.
    routes: Sequence[Sequence[str]] = ()
    # [check, add] pairs: each add runs only when its check fails, so a rerun adds nothing.
    rules: Sequence[tuple[Sequence[str], Sequence[str]]] = ()
    # (path, content) written after everything else.
    last_file: tuple[str, str] | None = None
    # Print the node's resolv.conf at the end.
    report_resolver: bool = True


def tar_archive(files: Mapping[str, str], *, private: Sequence[str] = ()) -> bytes:
    """``files`` as a tar for `tar -x -C /`; those in ``private`` readable by root only."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, content in files.items():
            data = content.encode()
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mtime = len(data), int(time.time())
            info.mode = 0o600 if path in private else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def setup_script(setup: NodeSetup) -> str:
    """The script run as `sh -c SCRIPT sh LAST_CONTENT` with the files' tar on stdin."""
    lines = ["set -e"]
    if setup.boot_wait:
        lines.append(
            f"if ! timeout {setup.boot_wait} sh -c {shlex.quote(SYSTEMD_BOOTED)}; then "
            'echo "systemd did not come up within '
            f'{setup.boot_wait}s (state $(systemctl is-system-running 2>/dev/null))" >&2; '
            "exit 3; fi"
        )
    if setup.stop:
        lines.append(shlex.join(["systemctl", "stop", *setup.stop]))
    if setup.files:
        lines.append("tar -x -C / -f -")
    if setup.reload_units:
        lines.append("systemctl daemon-reload")
    if setup.restart:
        lines.append(shlex.join(["systemctl", "restart", setup.restart]))
    lines += [shlex.join(route) for route in setup.routes]
    lines += [f"{shlex.join(check)} 2>/dev/null || {shlex.join(add)}" for check, add in setup.rules]
    if setup.last_file is not None:
        path = shlex.quote(setup.last_file[0])
        lines.append(f'mkdir -p "$(dirname {path})" && printf %s "$1" > {path}')
    if setup.report_resolver:
        lines.append(shlex.join(["cat", RESOLV_CONF]))
    return "\n".join(lines) + "\n"


def run_setup(provider: Provider, node: str, setup: NodeSetup, *, timeout: float) -> str:
    """Run ``setup`` in ``node``; returns the node's resolv.conf when it reports it."""
    last = setup.last_file[1] if setup.last_file is not None else ""
    return provider.exec(
        node,
        ["sh", "-c", setup_script(setup), "sh", last],
        input=tar_archive(setup.files) if setup.files else None,
        what=f"setting up node {node}",
        timeout=setup.boot_wait + timeout,
    ).stdout
