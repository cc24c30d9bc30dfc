"""Scenario, on every engine: a single-node cluster serves a Deployment behind a Service, by
ClusterIP and by DNS name, to a pod; the API server's Service name and an outside name resolve
in the pod. On Podman, Docker, rootful nerdctl (containerd 2 nodes at the default release)
and CRI-O nodes on Podman (CRIO_KUBERNETES)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from support import (
    WORKLOAD_IMAGE,
    SharedClusters,
    Variant,
    assert_cluster_dns,
    assert_current_cluster,
    ensure_workload,
    ready_nodes,
    scenario_kubectl,
    variants,
    web_manifest,
)

from nestkube.kit.releases import DEFAULT_KUBERNETES_VERSION
from nestkube.kubeadm.version import KUBEADM_V1BETA4, kubeadm_api_version
from nestkube.providers.base import Provider

pytestmark = pytest.mark.e2e


def client(node: str) -> str:
    """A sleeping workload pod pinned to ``node``."""
    return f"""---
apiVersion: v1
kind: Pod
metadata: {{name: client, labels: {{role: client}}}}
spec:
  nodeName: {node}
  tolerations: [{{operator: Exists}}]
  containers:
  - name: main
    image: {WORKLOAD_IMAGE}
    imagePullPolicy: Never
    command: ["sleep", "3600"]
"""


@pytest.mark.parametrize("variant", variants("single"))
def test_a_single_node_serves_a_service_by_dns_name(
    variant: Variant,
    request: pytest.FixtureRequest,
    shared_clusters: SharedClusters,
    workload: Path,
) -> None:
    cluster = shared_clusters.get(request, variant, "single")
    provider: Provider = request.getfixturevalue(variant.engine_fixture)
    kubectl = scenario_kubectl(request, variant, cluster, shared_clusters.kubeconfig)
    node = f"{variant.single}-control-plane"
    assert cluster.provider == variant.engine
    assert ready_nodes(kubectl) == [node]
    ensure_workload(variant, provider, cluster, [node], workload)
    if variant.runtime == "cri-o":
        runtime = kubectl.json("get", "node", node)["status"]["nodeInfo"]
        assert runtime["containerRuntimeVersion"].startswith("cri-o://1.34."), runtime
        # Names resolve once CoreDNS is Ready (it serves only after syncing with the API).
        kubectl.wait_pods_ready("k8s-app=kube-dns", namespace="kube-system")
    else:
        assert_current_cluster(kubectl, DEFAULT_KUBERNETES_VERSION)
        # The default release is initialised by its own kubeadm through the v1beta4 band.
        rendered = provider.exec(node, ["cat", "/etc/nestkube/kubeadm.yaml"]).stdout
        api_versions = {d["apiVersion"] for d in yaml.safe_load_all(rendered) if d}
        assert kubeadm_api_version(DEFAULT_KUBERNETES_VERSION) == KUBEADM_V1BETA4
        assert KUBEADM_V1BETA4 in api_versions, api_versions

    kubectl.apply(web_manifest(replicas=2) + client(node))
    kubectl.wait_pods_ready("app=web", count=2)
    kubectl.wait_pods_ready("role=client")
    pods = {p["metadata"]["name"] for p in kubectl.json("get", "pods", "-l", "app=web")["items"]}
    svc_ip = kubectl.json("get", "service", "web")["spec"]["clusterIP"]
    backends = {
        kubectl("exec", "client", "--", "wget", "-q", "-O-", f"http://{svc_ip}").stdout.strip()
        for _ in range(12)
    }
    assert backends <= pods and backends, f"service answered from {backends}, pods {pods}"
    assert_cluster_dns(kubectl, provider, {"client": node}, "web", pods)
