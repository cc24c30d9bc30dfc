"""The one-exec node setup, its script run for real with the node's tools stubbed."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from nestkube.nodeops import node_setup
from nestkube.nodeops.node_setup import NodeSetup

STUB = """#!/bin/sh
echo "$(basename "$0") $*" >> "$LOG"
[ "$(basename "$0") $*" = "$FAIL" ] && exit 1
case "$(basename "$0") $*" in
  "systemctl is-system-running"*) echo "${STATE:-running}" ;;
  tar*) cat > "$LOG.tar" ;;
  "iptables -w -t nat -C "*) [ -n "$PRESENT" ] ;;
esac
"""


def run(
    tmp_path: Path, setup: NodeSetup, *, present: bool = False, **env_vars: str
) -> subprocess.CompletedProcess[bytes]:
    """Run the setup script with stubbed systemctl, tar, ip and iptables (what ran, in order,
    goes to the file ``log``)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("systemctl", "tar", "ip", "iptables"):
        (bin_dir / tool).write_text(STUB)
        (bin_dir / tool).chmod(0o755)
    log = tmp_path / "log"
    log.unlink(missing_ok=True)
    last = setup.last_file[1] if setup.last_file else ""
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "LOG": str(log),
        "PRESENT": "1" if present else "",
        **env_vars,
    }
    return subprocess.run(
        ["sh", "-c", node_setup.setup_script(setup), "sh", last],
        input=node_setup.tar_archive(setup.files) if setup.files else b"",
        capture_output=True,
        env=env,
        timeout=30,
    )


def ran(tmp_path: Path) -> list[str]:
    return (tmp_path / "log").read_text().splitlines()


def setup(tmp_path: Path, **kwargs: Any) -> NodeSetup:
    rule = ["POSTROUTING", "-s", "10.244.1.0/24", "-j", "MASQUERADE"]
    nat = ["iptables", "-w", "-t", "nat"]
    base = NodeSetup(
        {"/etc/containerd/config.toml": "version = 2\n"},
        5,
        stop=("kubelet",),
        restart="containerd",
        routes=[["ip", "route", "replace", "10.244.2.0/24", "via", "10.89.0.3"]],
        rules=[([*nat, "-C", *rule], [*nat, "-A", *rule])],
        last_file=(str(tmp_path / "etc" / "pod-network.env"), "NODE_NAME=n\n"),
    )
    return replace(base, **kwargs)


def test_the_steps_run_in_order_and_the_env_file_comes_last(tmp_path: Path) -> None:
    res = run(tmp_path, setup(tmp_path))
    assert res.returncode == 0, res.stderr
    assert ran(tmp_path) == [
        "systemctl is-system-running --wait",
        "systemctl stop kubelet",
        "tar -x -C / -f -",
        "systemctl restart containerd",
        "ip route replace 10.244.2.0/24 via 10.89.0.3",
        "iptables -w -t nat -C POSTROUTING -s 10.244.1.0/24 -j MASQUERADE",
        "iptables -w -t nat -A POSTROUTING -s 10.244.1.0/24 -j MASQUERADE",
    ]
    assert (tmp_path / "etc" / "pod-network.env").read_text() == "NODE_NAME=n\n"
    assert res.stdout.decode() == Path("/etc/resolv.conf").read_text()
    with tarfile.open(fileobj=io.BytesIO((tmp_path / "log.tar").read_bytes())) as tar:
        assert tar.getnames() == ["etc/containerd/config.toml"]


def test_a_rule_already_there_is_not_added_again(tmp_path: Path) -> None:
    assert run(tmp_path, setup(tmp_path), present=True).returncode == 0
    assert not [line for line in ran(tmp_path) if " -A " in line]


def test_routes_alone_print_nothing(tmp_path: Path) -> None:
    routes = [["ip", "route", "replace", "10.244.3.0/24", "via", "10.89.0.4"]]
    res = run(tmp_path, NodeSetup({}, routes=routes, report_resolver=False))
    assert res.returncode == 0 and res.stdout == b""
    assert ran(tmp_path) == ["ip route replace 10.244.3.0/24 via 10.89.0.4"]


def test_a_failing_step_stops_the_rest(tmp_path: Path) -> None:
    res = run(tmp_path, setup(tmp_path), FAIL="systemctl restart containerd")
    assert res.returncode != 0
    assert ran(tmp_path)[-1] == "systemctl restart containerd"
    assert not (tmp_path / "etc" / "pod-network.env").exists()


def test_a_boot_that_does_not_end_is_one_message(tmp_path: Path) -> None:
    res = run(tmp_path, setup(tmp_path, boot_wait=1), STATE="starting")
    assert res.returncode == 3
    assert res.stderr.decode().strip() == "systemd did not come up within 1s (state starting)"
    assert "tar -x -C / -f -" not in ran(tmp_path)
