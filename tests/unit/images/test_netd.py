"""The node's network agent (images/node/nestkube-netd), one pass in a scratch directory with
fake kubectl, ip and iptables that record their calls: what it does from the inputs create
renders (kubeadm.cni.agent_inputs) and the Node objects the API lists."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from nestkube.kubeadm.agent_access import render_kubeconfig
from nestkube.kubeadm.cni import AGENT_CNI, AGENT_ENV, agent_inputs, render_bridge_cni
from nestkube.kubeadm.pod_cidrs import label_value

AGENT = Path(__file__).parents[3] / "src/nestkube/images/node/nestkube-netd"

FAKE = r"""#!/bin/bash
echo "$(basename "$0") $*" >> "$CALLS"
case "$(basename "$0") $*" in
  "kubectl --kubeconfig="*" get nodes -o "*) cat "$NODES" ;;
  "ip -4 route show exact "*) grep "^$5 " "$ROUTES" || true ;;
  "ip -4 route show root "*) cat "$ROUTES" ;;
  "iptables -w -t nat -C "*) [ -e "$MASQ_PRESENT" ] ;;
  "kubectl "*" --watch-only "*) echo "$(basename "$0") watching" ;;
  "openssl s_client "*) cat >"$REQUEST"; printf '%b' "$REPLY" ;;
esac
"""


def node_line(name: str, cidr: str, spec: str, ip: str) -> str:
    return f"{name}|{label_value(cidr) if cidr else ''}|{spec}|{ip}\n"


@pytest.fixture
def scratch(tmp_path: Path) -> dict[str, Path]:
    if shutil.which("bash") is None:
        pytest.fail("bash is needed to run the agent")
    etc = tmp_path / "etc"
    etc.mkdir()
    for path, content in agent_inputs("c-worker", "10.244.1.0/24", "10.244.0.0/16").items():
        (etc / Path(path).name).write_text(content)
    fakes = tmp_path / "bin"
    fakes.mkdir()
    for tool in ("kubectl", "ip", "iptables", "openssl"):
        (fakes / tool).write_text(FAKE)
        (fakes / tool).chmod(0o755)
    (tmp_path / "netd.kubeconfig").write_text("")
    return {"root": tmp_path, "etc": etc, "bin": fakes}


def run_once(
    scratch: dict[str, Path], nodes: str, routes: str, *, admin: bool, bridge_nf: str = "1\n"
) -> list[str]:
    root = scratch["root"]
    (root / "bridge-nf-call-iptables").write_text(bridge_nf)
    (root / "nodes").write_text(nodes)
    (root / "routes").write_text(routes)
    env = {
        **os.environ,
        "PATH": f"{scratch['bin']}:{os.environ['PATH']}",
        "CALLS": str(root / "calls"),
        "NODES": str(root / "nodes"),
        "ROUTES": str(root / "routes"),
        "MASQ_PRESENT": str(root / "masq-present"),
        "NESTKUBE_ETC": str(scratch["etc"]),
        "NESTKUBE_CNI_TARGET": str(root / "net.d" / "10-nestkube.conflist"),
        "NESTKUBE_KUBECONFIG": str(root / "netd.kubeconfig"),
        "NESTKUBE_ADMIN_CONF": str(root / ("admin.conf" if admin else "absent")),
        "NESTKUBE_BRIDGE_NF": str(root / "bridge-nf-call-iptables"),
    }
    (root / "admin.conf").write_text("")
    done = subprocess.run(
        ["bash", str(AGENT), "--once"], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return (root / "calls").read_text().splitlines()


def test_agent_inputs_are_the_env_the_cni_config_and_the_masquerade_argv() -> None:
    files = agent_inputs("c-worker", "10.244.1.0/24", "10.244.0.0/16")
    # The env file last: it starts the agent, whose other inputs must be there by then.
    assert list(files)[-1] == AGENT_ENV
    assert files[AGENT_ENV] == (
        "NODE_NAME=c-worker\nPOD_CIDR=10.244.1.0/24\nPOD_SUBNET=10.244.0.0/16\n"
    )
    assert files[AGENT_CNI] == render_bridge_cni("10.244.1.0/24")
    argv = files["/etc/nestkube/masquerade.args"].splitlines()
    assert argv[:5] == ["iptables", "-w", "-t", "nat", "-A"]
    assert argv[5:10] == ["POSTROUTING", "-s", "10.244.1.0/24", "!", "-d"]


@pytest.mark.parametrize("bridge_nf", ["0\n", ""])
def test_without_bridge_netfilter_service_traffic_between_local_pods_is_masqueraded(
    scratch: dict[str, Path], bridge_nf: str
) -> None:
    nodes = node_line("c-worker", "10.244.1.0/24", "", "10.89.0.253")
    calls = run_once(scratch, nodes, "", admin=False, bridge_nf=bridge_nf)
    added = [c for c in calls if c.startswith("iptables -w -t nat -A POSTROUTING")]
    assert added[1:] == [
        "iptables -w -t nat -A POSTROUTING -s 10.244.1.0/24 -d 10.244.1.0/24 -m conntrack "
        "--ctstate DNAT -m comment --comment nestkube: masquerade Service traffic between pods "
        "of this node -j MASQUERADE"
    ]
    # Present already: checked, not added twice.
    (scratch["root"] / "masq-present").write_text("")
    (scratch["root"] / "calls").unlink()
    calls = run_once(scratch, nodes, "", admin=False, bridge_nf=bridge_nf)
    assert not [c for c in calls if " -A " in c]


def test_one_pass_routes_peers_drops_the_gone_and_keeps_cni_and_masquerade(
    scratch: dict[str, Path],
) -> None:
    nodes = (
        node_line("c-control-plane", "10.244.0.0/24", "10.244.0.0/24", "10.89.0.254")
        + node_line("c-worker", "10.244.1.0/24", "", "10.89.0.253")
        # No spec.podCIDR yet: its label says where its pods are.
        + node_line("c-worker2", "10.244.2.0/24", "", "10.89.0.252")
    )
    routes = (
        "10.244.1.0/24 dev nkbr0 proto kernel scope link src 10.244.1.1 \n"
        # Right already: left alone.
        "10.244.0.0/24 via 10.89.0.254 dev eth0 \n"
        # A node that left.
        "10.244.5.0/24 via 10.89.0.9 dev eth0 \n"
    )
    calls = run_once(scratch, nodes, routes, admin=False)
    changes = [c for c in calls if " replace " in c or " del " in c or " -A " in c]
    assert changes[:1] == [c for c in calls if c.startswith("iptables -w -t nat -A POSTROUTING")]
    assert changes[1:] == [
        "ip route replace 10.244.2.0/24 via 10.89.0.252",
        "ip route del 10.244.5.0/24",
    ]
    # A worker has no admin credentials: it patches nothing.
    assert not [c for c in calls if " patch " in c]
    written = (scratch["root"] / "net.d" / "10-nestkube.conflist").read_text()
    assert json.loads(written) == json.loads(render_bridge_cni("10.244.1.0/24"))


def test_a_control_plane_sets_missing_pod_cidrs_from_the_label(scratch: dict[str, Path]) -> None:
    (scratch["root"] / "masq-present").touch()
    nodes = node_line("c-worker", "10.244.1.0/24", "", "10.89.0.253") + node_line(
        "c-worker2", "10.244.2.0/24", "", "10.89.0.252"
    )
    calls = run_once(scratch, nodes, "", admin=True)
    patches = [c for c in calls if " patch " in c]
    assert len(patches) == 2 and patches[1].endswith(
        'patch node c-worker2 --type=merge -p {"spec":{"podCIDR":"10.244.2.0/24",'
        '"podCIDRs":["10.244.2.0/24"]}}'
    )
    # The rule is there already: checked, never appended twice.
    assert not [c for c in calls if " -A " in c]


def run_watch(
    scratch: dict[str, Path], reply: str, server: str = "https://10.89.0.254:6443"
) -> tuple[str, list[str], str]:
    """`nestkube-netd --watch` against an API at ``server`` whose answer to the Node watch is
    `reply`: what it printed, the calls made and the request openssl was given."""
    root = scratch["root"]
    ca = base64.b64encode(b"THE-CA").decode()
    (root / "netd.kubeconfig").write_text(render_kubeconfig(server, ca, "the-token"))
    env = {
        **os.environ,
        "PATH": f"{scratch['bin']}:{os.environ['PATH']}",
        "CALLS": str(root / "calls"),
        "REQUEST": str(root / "request"),
        "REPLY": reply,
        "NESTKUBE_ETC": str(scratch["etc"]),
        "NESTKUBE_KUBECONFIG": str(root / "netd.kubeconfig"),
        "NESTKUBE_RUN": str(root / "run"),
    }
    done = subprocess.run(
        ["bash", str(AGENT), "--watch"], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    request = (root / "request").read_bytes().decode() if (root / "request").exists() else ""
    return done.stdout, (root / "calls").read_text().splitlines(), request


def test_the_node_watch_runs_over_openssl_with_the_ca_checked_and_the_token_unseen(
    scratch: dict[str, Path],
) -> None:
    event = '{"type":"ADDED","object":{"kind":"Node"}}'
    out, calls, request = run_watch(scratch, f"HTTP/1.1 200 OK\\r\\n\\r\\n{event}\\n")
    # The stream after the status line is passed on: each line wakes the agent's loop.
    assert event in out.splitlines()
    assert calls == [
        "openssl s_client -quiet -connect 10.89.0.254:6443 -CAfile "
        f"{scratch['root'] / 'run' / 'netd-ca.crt'} -verify_return_error -verify_ip 10.89.0.254"
    ]
    assert (scratch["root"] / "run" / "netd-ca.crt").read_bytes() == b"THE-CA"
    lines = request.split("\r\n")
    assert lines[0] == "GET /api/v1/nodes?watch=true HTTP/1.1"
    assert "Authorization: Bearer the-token" in lines
    assert "Connection: close" in lines
    assert "the-token" not in " ".join(calls)


def test_a_refused_watch_falls_back_to_kubectl(scratch: dict[str, Path]) -> None:
    out, calls, _ = run_watch(scratch, "HTTP/1.1 403 Forbidden\\r\\n\\r\\n{}\\n")
    assert calls[0].startswith("openssl s_client ")
    assert calls[1].startswith("kubectl --kubeconfig=") and "--watch-only" in calls[1]
    assert out == "kubectl watching\n"


@pytest.mark.parametrize(
    ("server", "connect", "check"),
    [
        ("https://[fd00:10::2]:6443", "[fd00:10::2]:6443", "-verify_ip fd00:10::2"),
        ("https://api.test:6443", "api.test:6443", "-verify_hostname api.test"),
    ],
)
def test_the_watch_checks_an_ipv6_address_or_a_name_as_such(
    scratch: dict[str, Path], server: str, connect: str, check: str
) -> None:
    _, calls, request = run_watch(scratch, "HTTP/1.1 200 OK\\r\\n\\r\\n", server)
    assert calls[0].startswith(f"openssl s_client -quiet -connect {connect} ")
    assert calls[0].endswith(f"-verify_return_error {check}")
    assert f"Host: {connect}" in request.split("\r\n")
