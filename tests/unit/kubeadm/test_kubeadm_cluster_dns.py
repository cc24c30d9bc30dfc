"""The kubelet's clusterDNS: kubeadm's default unless the create asks for other nameservers."""

from __future__ import annotations

import pytest
import yaml

from nestkube.kubeadm.config import KubeadmParams, render_init_config

VERSIONS = ["v1.20.2", "v1.23.17", "v1.36.0", "v1.37.2"]


def kubelet_doc(version: str, cluster_dns: tuple[str, ...] | None) -> dict[str, object]:
    params = KubeadmParams(
        kubernetes_version=version,
        cluster_name="demo",
        node_name="demo-control-plane",
        node_ip="10.89.0.2",
        control_plane_endpoint="demo-control-plane:6443",
        api_server_cert_sans=("localhost",),
        cluster_dns=cluster_dns,
    )
    docs = {d["kind"]: d for d in yaml.safe_load_all(render_init_config(params))}
    doc: dict[str, object] = docs["KubeletConfiguration"]
    return doc


@pytest.mark.parametrize("version", VERSIONS)
def test_unset_leaves_kubeadm_its_default(version: str) -> None:
    # kubeadm fills in the DNS Service address (the 10th address of the service subnet).
    assert "clusterDNS" not in kubelet_doc(version, None)


@pytest.mark.parametrize("version", VERSIONS)
def test_given_nameservers_are_rendered_in_order(version: str) -> None:
    doc = kubelet_doc(version, ("127.0.0.1", "::1"))
    assert doc["clusterDNS"] == ["127.0.0.1", "::1"]
