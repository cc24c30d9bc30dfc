"""nestkube.metallb: the manifest made fit for an offline cluster, and the address pool."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
import yaml

from nestkube import metallb
from nestkube.errors import ImageBuildError

# The shape of MetalLB's metallb-native.yaml, cut down to what node_manifest changes or keeps.
UPSTREAM = """\
apiVersion: v1
kind: Namespace
metadata: {name: metallb-system}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: bgppeers.metallb.io}
spec:
  conversion:
    strategy: Webhook
    webhook:
      clientConfig:
        service: {name: metallb-webhook-service, namespace: metallb-system, path: /convert}
  group: metallb.io
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ipaddresspools.metallb.io}
spec: {group: metallb.io}
---
apiVersion: v1
kind: Secret
metadata: {name: metallb-webhook-cert, namespace: metallb-system}
---
apiVersion: v1
kind: Service
metadata: {name: metallb-webhook-service, namespace: metallb-system}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: controller, namespace: metallb-system}
spec:
  template:
    spec:
      containers:
      - name: controller
        image: quay.io/metallb/controller:v0.15.3
        args: [--port=7472]
        ports:
        - {containerPort: 7472, name: monitoring}
        - {containerPort: 9443, name: webhook-server}
        volumeMounts:
        - {mountPath: /tmp/k8s-webhook-server/serving-certs, name: cert}
      volumes:
      - name: cert
        secret: {secretName: metallb-webhook-cert}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: speaker, namespace: metallb-system}
spec:
  template:
    spec:
      hostNetwork: true
      containers:
      - name: speaker
        image: quay.io/metallb/speaker:v0.15.3
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: metallb-webhook-configuration}
"""


def _docs(text: str) -> dict[tuple[str, str], dict[str, object]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(text) if d}


def test_the_webhook_objects_are_dropped_and_the_rest_kept() -> None:
    docs = _docs(metallb.node_manifest(UPSTREAM))
    assert set(docs) == {
        ("Namespace", "metallb-system"),
        ("CustomResourceDefinition", "bgppeers.metallb.io"),
        ("CustomResourceDefinition", "ipaddresspools.metallb.io"),
        ("Deployment", "controller"),
        ("DaemonSet", "speaker"),
    }
    assert docs["CustomResourceDefinition", "bgppeers.metallb.io"]["spec"] == {
        "conversion": {"strategy": "None"},
        "group": "metallb.io",
    }


def test_the_controller_runs_the_local_image_without_webhooks() -> None:
    controller = _docs(metallb.node_manifest(UPSTREAM))["Deployment", "controller"]
    pod = controller["spec"]["template"]["spec"]  # type: ignore[index]
    container = pod["containers"][0]
    assert container["image"] == metallb.CONTROLLER_IMAGE
    assert container["imagePullPolicy"] == "Never"
    assert container["args"] == [
        "--port=7472",
        "--webhook-mode=disabled",
        "--disable-cert-rotation",
    ]
    assert container["ports"] == [{"containerPort": 7472, "name": "monitoring"}]
    assert container["volumeMounts"] == []
    assert pod["volumes"] == []


def test_the_speaker_runs_the_local_image() -> None:
    speaker = _docs(metallb.node_manifest(UPSTREAM))["DaemonSet", "speaker"]
    container = speaker["spec"]["template"]["spec"]["containers"][0]  # type: ignore[index]
    assert container["image"] == metallb.SPEAKER_IMAGE
    assert container["imagePullPolicy"] == "Never"
    # Single-node clusters: kubeadm's control-plane label must not silence the speaker.
    assert container["args"] == ["--ignore-exclude-lb"]


def test_both_reach_the_api_server_at_the_address_create_fills_in(tmp_path: Path) -> None:
    import subprocess

    docs = _docs(metallb.node_manifest(UPSTREAM))
    for key in (("Deployment", "controller"), ("DaemonSet", "speaker")):
        env = docs[key]["spec"]["template"]["spec"]["containers"][0]["env"]  # type: ignore[index]
        assert {"name": "KUBERNETES_SERVICE_HOST", "value": metallb.API_HOST} in env
        assert {"name": "KUBERNETES_SERVICE_PORT", "value": "6443"} in env
    manifest = tmp_path / "metallb.yaml"
    manifest.write_text(metallb.node_manifest(UPSTREAM))
    script = metallb.with_api_host(str(manifest), "10.89.0.254")
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout
    assert metallb.API_HOST not in out
    assert [
        d["spec"]["template"]["spec"]["containers"][0]["env"][-2]["value"]
        for d in yaml.safe_load_all(out)
        if d and d["kind"] in ("Deployment", "DaemonSet")
    ] == ["10.89.0.254"] * 2


def test_a_manifest_without_the_controller_is_refused() -> None:
    without = "\n---\n".join(
        part for part in UPSTREAM.split("\n---\n") if "kind: Deployment" not in part
    )
    with pytest.raises(ImageBuildError, match="no controller Deployment"):
        metallb.node_manifest(without)


@pytest.mark.parametrize(
    ("subnets", "expected"),
    [
        (["10.89.0.0/24"], "10.89.0.64-10.89.0.127"),
        # Docker's /16 networks: 256 addresses are plenty.
        (["172.18.0.0/16"], "172.18.64.0-172.18.64.255"),
        (["fd00::/64", "10.89.3.0/24"], "10.89.3.64-10.89.3.127"),
        (["10.0.0.0/28"], "10.0.0.4-10.0.0.7"),
        (["10.0.0.0/29"], None),
        (["fd00::/64"], None),
        ([], None),
    ],
)
def test_the_pool_is_the_second_quarter_of_the_first_ipv4_subnet(
    subnets: list[str], expected: str | None
) -> None:
    assert metallb.pool_range(subnets) == expected


def test_the_pool_stays_clear_of_the_nodes_pinned_at_the_top() -> None:
    from nestkube.providers.engine import top_addresses

    first, last = (metallb.pool_range(["10.89.0.0/24"]) or "").split("-")
    nodes = top_addresses(["10.89.0.0/24"], 40)
    assert all(n not in (first, last) and int(n.rsplit(".", 1)[1]) > 127 for n in nodes)


def test_the_pool_manifest_names_the_pool_it_announces() -> None:
    pool, advertisement = (
        json.loads(d) for d in metallb.pool_manifest("10.1.0.64-10.1.0.127").split("---\n")
    )
    assert pool["kind"] == "IPAddressPool"
    assert pool["spec"] == {"addresses": ["10.1.0.64-10.1.0.127"], "avoidBuggyIPs": True}
    assert advertisement["kind"] == "L2Advertisement"
    assert advertisement["spec"]["ipAddressPools"] == [pool["metadata"]["name"]]
    assert {pool["metadata"]["namespace"], advertisement["metadata"]["namespace"]} == {
        metallb.NAMESPACE
    }


def test_the_images_hold_their_binary_at_the_entrypoint(tmp_path: Path) -> None:
    controller = tmp_path / "c"
    speaker = tmp_path / "s"
    controller.write_bytes(b"controller")
    speaker.write_bytes(b"speaker")
    archives = metallb.image_archives(tmp_path, controller, speaker)
    assert len(archives) == 2
    for archive, tag in zip(
        archives, (metallb.CONTROLLER_IMAGE, metallb.SPEAKER_IMAGE), strict=True
    ):
        with tarfile.open(archive) as tar:
            manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        assert manifest[0]["RepoTags"] == [tag]
