"""The metrics-server addon: its image, its manifests, the kubelets' serving certificates and
which of their requests create approves."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from nestkube import metrics_server
from nestkube.cli.cluster_cmds import _config
from nestkube.create.kubelet_certs import SIGNER, serving_requests
from nestkube.load import read_archive_images


def test_the_image_runs_the_binary_with_a_writable_tmp(tmp_path: Path) -> None:
    binary = tmp_path / "metrics-server"
    binary.write_text("binary")
    archive = metrics_server.image_archive(tmp_path / "ms.tar", binary)
    assert read_archive_images(archive)[0].tags == (metrics_server.IMAGE,)
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        config = json.load(tar.extractfile(manifest[0]["Config"]))  # type: ignore[arg-type]
    assert config["config"]["Entrypoint"] == ["/metrics-server"]


def _docs() -> dict[str, dict[str, Any]]:
    return {d["kind"] + "/" + d["metadata"]["name"]: d for d in yaml.safe_load_all(
        metrics_server.manifests()
    )}  # fmt: skip


def test_the_manifests_run_the_preloaded_image_and_verify_the_kubelets() -> None:
    docs = _docs()
    deployment = docs["Deployment/metrics-server"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == metrics_server.IMAGE
    assert container["imagePullPolicy"] == "Never"
    assert "--kubelet-insecure-tls" not in container["args"]
    assert "--kubelet-preferred-address-types=InternalIP" in container["args"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    api = docs["APIService/v1beta1.metrics.k8s.io"]["spec"]
    assert api["service"] == {"name": "metrics-server", "namespace": "kube-system"}
    node_rules = docs["ClusterRole/system:metrics-server"]["rules"]
    assert {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]} in node_rules
    assert "Service/metrics-server" in docs and "ServiceAccount/metrics-server" in docs


def _csr(name: str, user: str, signer: str = SIGNER, *conditions: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"username": user, "signerName": signer},
        "status": {"conditions": [{"type": c} for c in conditions]},
    }


def test_only_the_clusters_kubelets_serving_requests_are_approved() -> None:
    items = [
        _csr("a", "system:node:m-control-plane"),
        _csr("b", "system:node:m-worker", SIGNER, "Approved"),
        _csr("c", "system:node:other-worker"),  # another cluster's name
        _csr("d", "system:node:m-worker", "kubernetes.io/kube-apiserver-client-kubelet"),
        _csr("e", "alice"),
        _csr("f", "system:node:m-worker", SIGNER, "Denied"),
    ]
    pending, approved = serving_requests(
        json.dumps({"items": items}), ["m-control-plane", "m-worker"]
    )
    assert pending == {"a": "m-control-plane"}
    assert approved == {"m-worker"}


@pytest.mark.parametrize("flag", [True, False])
def test_the_flag_switches_the_addon_on(flag: bool) -> None:
    assert _config(None, "m", 1, None, metrics_server=flag).metrics_server is flag
