"""Pods' upstream DNS on nodes whose resolver is on loopback (Docker's embedded DNS)."""

from __future__ import annotations

import yaml

from nestkube.kubeadm import node_dns
from nestkube.kubeadm.config import KubeadmParams, render_init_config
from nestkube.kubeadm.node_dns import Forward

DOCKER_RESOLV = "search example.internal\nnameserver 127.0.0.11\noptions ndots:0\n"
# As iptables-save prints Docker's rules inside a container on a user-defined network.
DOCKER_NAT = """\
*nat
:OUTPUT ACCEPT [0:0]
:DOCKER_OUTPUT - [0:0]
-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT
-A POSTROUTING -d 127.0.0.11/32 -j DOCKER_POSTROUTING
-A DOCKER_OUTPUT -d 127.0.0.11/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 127.0.0.11:41065
-A DOCKER_OUTPUT -d 127.0.0.11/32 -p udp -m udp --dport 53 -j DNAT --to-destination 127.0.0.11:34234
-A DOCKER_POSTROUTING -s 127.0.0.11/32 -p tcp -m tcp --sport 41065 -j SNAT --to-source :53
COMMIT
"""


def test_only_loopback_nameservers_count() -> None:
    assert node_dns.loopback_nameservers(DOCKER_RESOLV) == ["127.0.0.11"]
    podman = "nameserver 10.255.255.53\nnameserver ::1\nnameserver bogus\n"
    assert node_dns.loopback_nameservers(podman) == ["::1"]
    assert node_dns.loopback_nameservers("nameserver 10.0.0.1\n") == []


def test_engine_forwards_are_read_per_protocol() -> None:
    assert node_dns.engine_forwards(DOCKER_NAT, "127.0.0.11") == [
        Forward("udp", "127.0.0.11:34234"),
        Forward("tcp", "127.0.0.11:41065"),
    ]
    assert node_dns.engine_forwards(DOCKER_NAT, "127.0.0.53") == []


def test_pods_get_the_node_address_instead_of_loopback() -> None:
    out = node_dns.pod_resolv_conf(
        "nameserver 127.0.0.11\nnameserver 127.0.0.11\nsearch a\n", "172.18.0.2"
    )
    assert out == "nameserver 172.18.0.2\nsearch a\n"
    kept = node_dns.pod_resolv_conf(DOCKER_RESOLV, "172.18.0.2")
    assert "search example.internal" in kept and "options ndots:0" in kept
    assert "127.0.0.11" not in kept


def test_forward_rule_dnats_the_node_address_to_the_engine_target() -> None:
    rule = node_dns.forward_rule("172.18.0.2", Forward("udp", "127.0.0.11:34234"))
    assert rule == [
        "PREROUTING", "-d", "172.18.0.2/32", "-p", "udp", "--dport", "53",
        "-j", "DNAT", "--to-destination", "127.0.0.11:34234",
    ]  # fmt: skip


def test_kubelet_gets_the_pod_resolv_conf_only_when_set() -> None:
    def kubelet(resolv: str | None) -> dict[str, object]:
        p = KubeadmParams(
            kubernetes_version="v1.37.2",
            cluster_name="c",
            node_name="c-control-plane",
            node_ip="172.18.0.2",
            control_plane_endpoint="172.18.0.2:6443",
            api_server_cert_sans=("localhost",),
            resolv_conf=resolv,
        )
        docs = list(yaml.safe_load_all(render_init_config(p)))
        doc = next(d for d in docs if d and d["kind"] == "KubeletConfiguration")
        assert isinstance(doc, dict)
        return doc

    assert kubelet(node_dns.POD_RESOLV_CONF)["resolvConf"] == node_dns.POD_RESOLV_CONF
    assert "resolvConf" not in kubelet(None)
