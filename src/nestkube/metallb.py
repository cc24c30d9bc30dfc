"""LoadBalancer Services (``loadBalancerServices``, on by default): MetalLB gives each
``type: LoadBalancer`` Service an address on the cluster's engine network.

MetalLB's controller and speaker are compiled from the module ``go.universe.tf/metallb`` by the
kit (at the version pinned in :mod:`nestkube.kit.releases`) into two one-binary images that
every module-built node image preloads. The node image also carries MetalLB's own manifest of
that release, made fit for an offline cluster by :func:`node_manifest`: the local images, and
no admission webhooks (their certificates would need the controller's rotation and a webhook
Service before any pool could be applied; nestkube applies the one pool itself). Create
applies it and one address pool from the middle of the network's subnet (:func:`pool_range`):
the engine hands addresses out from the bottom and nestkube pins nodes and registries at the top.

The speakers announce the addresses in layer 2 mode: the elected node answers ARP for them on
the engine network, so a rootful host reaches them through the network's bridge. A rootless
engine's network lives in its user's network namespace, out of the host's reach
(docs/load-balancers.md says what to do there).
"""

from __future__ import annotations

import ipaddress
import json
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from nestkube.errors import ImageBuildError
from nestkube.kit.releases import METALLB
from nestkube.oci.archive import ImageSpec, Layer, write_image_archive

CONTROLLER_IMAGE = f"localhost/nestkube/metallb-controller:{METALLB}"
SPEAKER_IMAGE = f"localhost/nestkube/metallb-speaker:{METALLB}"
# The kit's binaries, by the names node_kit gives them.
CONTROLLER = "metallb-controller"
SPEAKER = "metallb-speaker"
NAMESPACE = "metallb-system"
POOL = "nestkube"
# Where node images keep the manifest :func:`node_manifest` made.
NODE_MANIFEST = "/etc/nestkube/manifests/metallb.yaml"
# The CRDs the pool is made of; create waits for them to be served before applying it.
POOL_CRDS = ("ipaddresspools.metallb.io", "l2advertisements.metallb.io")
# Changes whenever node_manifest changes what it makes: part of the node image's build key.
RECIPE = "metallb-manifest-3"
# In the node's manifest where the API server's address goes; create fills it in
# (api_address_script).
API_HOST = "@NESTKUBE_API_SERVER_HOST@"
API_PORT = "6443"


def image_archives(out_dir: Path, controller: Path, speaker: Path) -> list[Path]:
    """The controller's and the speaker's images (each its static binary) under ``out_dir``."""
    written = []
    for image, binary, entry in (
        (CONTROLLER_IMAGE, controller, "/controller"),
        (SPEAKER_IMAGE, speaker, "/speaker"),
    ):
        dest = out_dir / f"{entry.strip('/')}-metallb.tar"
        layer = Layer().add_file(entry, binary)
        write_image_archive(ImageSpec(tags=[image], layers=[layer], entrypoint=[entry]), dest)
        written.append(dest)
    return written


def node_manifest(upstream: str) -> str:
    """MetalLB's ``metallb-native.yaml`` as nestkube applies it: the preloaded images, never
    pulled; the controller without webhooks or certificate rotation; no webhook objects; the
    one CRD that converts through the webhook (BGPPeer) converting without it; speakers that
    announce from control planes too; both reaching the API server at the address create
    fills in for :data:`API_HOST`."""
    docs = [doc for doc in yaml.safe_load_all(upstream) if doc]
    kept: list[dict[str, Any]] = []
    found = set()
    for doc in docs:
        kind, name = doc.get("kind"), doc.get("metadata", {}).get("name")
        if kind == "ValidatingWebhookConfiguration" or name in (
            "metallb-webhook-service",
            "metallb-webhook-cert",
        ):
            continue
        if kind == "CustomResourceDefinition":
            conversion = doc.get("spec", {}).get("conversion")
            if conversion and conversion.get("strategy") == "Webhook":
                doc["spec"]["conversion"] = {"strategy": "None"}
        elif kind == "Deployment" and name == "controller":
            _controller(doc)
            found.add(kind)
        elif kind == "DaemonSet" and name == "speaker":
            speaker = _container(doc)
            speaker["image"] = SPEAKER_IMAGE
            speaker["imagePullPolicy"] = "Never"
            # kubeadm labels control planes node.kubernetes.io/exclude-from-external-load-
            # balancers, which the speaker honours: a single-node cluster would announce
            # nothing, and control planes are where a local cluster's Services run.
            speaker["args"] = [*speaker.get("args", []), "--ignore-exclude-lb"]
            found.add(kind)
        kept.append(doc)
    missing = {"Deployment", "DaemonSet"} - found
    if missing:
        raise ImageBuildError(
            f"MetalLB {METALLB}'s manifest has no controller Deployment or speaker DaemonSet"
        )
    return yaml.safe_dump_all(kept, sort_keys=False)


def _container(doc: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = doc["spec"]["template"]["spec"]["containers"]
    container = containers[0]
    # The API server itself, not its Service address: until kube-proxy has programmed the
    # node (seconds after it joins), the Service address leads nowhere, and the controller and
    # speakers exit at start and back off for up to a minute before they serve.
    container["env"] = [
        *container.get("env", []),
        {"name": "KUBERNETES_SERVICE_HOST", "value": API_HOST},
        {"name": "KUBERNETES_SERVICE_PORT", "value": API_PORT},
    ]
    return container


def with_api_host(manifest_path: str, host: str) -> str:
    """A shell pipeline that prints the node's manifest with the API server's address in it."""
    return f"sed 's/{API_HOST}/{host}/g' {shlex.quote(manifest_path)}"


def _controller(doc: dict[str, Any]) -> None:
    pod = doc["spec"]["template"]["spec"]
    container = _container(doc)
    container["image"] = CONTROLLER_IMAGE
    container["imagePullPolicy"] = "Never"
    container["args"] = [*container.get("args", []), "--webhook-mode=disabled"]
    container["args"].append("--disable-cert-rotation")
    container["ports"] = [
        p for p in container.get("ports", []) if p.get("name") != "webhook-server"
    ]
    container["volumeMounts"] = [
        m for m in container.get("volumeMounts", []) if m["name"] != "cert"
    ]
    pod["volumes"] = [v for v in pod.get("volumes", []) if v["name"] != "cert"]


def pool_range(subnets: Sequence[str]) -> str | None:
    """The pool's addresses ("first-last"): the second quarter of the first IPv4 subnet, at
    most 256 of them; None when no subnet is IPv4 and big enough (/28 at least)."""
    for subnet in subnets:
        net = ipaddress.ip_network(subnet, strict=False)
        if net.version != 4 or net.num_addresses < 16:
            continue
        quarter = net.num_addresses // 4
        first = net.network_address + quarter
        return f"{first}-{first + min(quarter, 256) - 1}"
    return None


def pool_manifest(addresses: str) -> str:
    """The address pool and its layer 2 announcement, as JSON documents kubectl reads."""
    pool = {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "IPAddressPool",
        "metadata": {"name": POOL, "namespace": NAMESPACE},
        # avoidBuggyIPs: no .0 or .255 address, which some clients treat as broadcast.
        "spec": {"addresses": [addresses], "avoidBuggyIPs": True},
    }
    advertisement = {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "L2Advertisement",
        "metadata": {"name": POOL, "namespace": NAMESPACE},
        "spec": {"ipAddressPools": [POOL]},
    }
    return "---\n".join(json.dumps(doc) + "\n" for doc in (pool, advertisement))
