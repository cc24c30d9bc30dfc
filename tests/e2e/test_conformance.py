"""Upstream's own conformance specs on a real single-node cluster of the default release.

`nestkube conformance` builds e2e.test, ginkgo and the test images from the release's
``k8s.io/kubernetes`` module (cached by content: a warm run only runs specs), loads the images
and runs this subset: Pods, Services (ClusterIP, NodePort, by DNS name), DNS, ConfigMap and
Secret volumes and environment, a Deployment rollout, and pod-to-pod and node-to-pod traffic,
and the two specs that pull with ``imagePullPolicy: Always`` (ImageVolume, PodCertificate mTLS):
the cluster pulls ``registry.k8s.io`` through a local registry, which the run fills with the test
images, so those pulls succeed offline; and the two whose images are built from other
programs' modules (nonewprivs, the aggregator's sample-apiserver).
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import engine_leftovers, nestkube_cli

import nestkube
from nestkube.config import default_config
from nestkube.conformance.suite import build_suite
from nestkube.images.node_image import NodeImage
from nestkube.kit.releases import DEFAULT_KUBERNETES_VERSION
from nestkube.kit.toolchain import modules_toolchain
from nestkube.testing import temporary_cluster

NAME = "e2e-conformance"
# Each expression names one [Conformance] spec of v1.37 (ginkgo ORs --focus expressions).
SUBSET = [
    r"\[sig-node\] Pods should (get a host IP|be submitted and removed|be updated) ",
    r"\[sig-network\] Services should (serve a basic endpoint from pods|serve multiport "
    r"endpoints from pods|be able to create a functioning NodePort service) ",
    r"\[sig-network\] DNS should provide (DNS for services|DNS for the cluster|/etc/hosts "
    r"entries for the cluster) ",
    r"\[sig-storage\] (ConfigMap|Secrets) should be consumable from pods in volume \[",
    r"\[sig-node\] ConfigMap should be consumable via environment variable ",
    r"\[sig-apps\] Deployment RollingUpdateDeployment should delete old pods and create new ",
    r"\[sig-network\] Networking Granular Checks: Pods should function for "
    r"(intra|node)-pod communication: http ",
    # Both pull with imagePullPolicy: Always, so they need the registry.
    r"\[sig-node\] ImageVolume should succeed with pod and pull policy of Always",
    r"\[sig-auth\] .*PodCertificate.* should allow server and client pods to establish an mTLS "
    r"connection",
    # Their images are built from modules: test/images/nonewprivs and k8s.io/sample-apiserver.
    r"\[sig-node\] Security Context when creating containers with AllowPrivilegeEscalation "
    r"should not allow privilege escalation when false ",
    r"\[sig-api-machinery\] Aggregator Should be able to support the 1\.17 Sample API Server ",
]
SUBSET_SPECS = 19
REGISTRY = "e2e-conformance-reg"
REGISTRY_PORT = 5028
SUMMARY_RE = re.compile(r"^(\d+) passed, (\d+) failed, (\d+) skipped of (\d+)$", re.M)


@pytest.fixture(scope="module")
def conformance_cluster(
    podman_node_image: NodeImage, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[nestkube.Cluster]:
    kubeconfig = tmp_path_factory.mktemp("kube") / "config"
    nestkube.delete_registry(REGISTRY, provider="podman")
    nestkube.create_registry(REGISTRY, port=REGISTRY_PORT, provider="podman")
    # As `create cluster --registry R --registry-mirror registry.k8s.io=http://R:5000` makes it.
    config = default_config(NAME).with_overrides(
        registries=[REGISTRY], registry_mirrors={"registry.k8s.io": f"http://{REGISTRY}:5000"}
    )
    try:
        # Deleted at the end even when the specs fail; `conformance` never deletes a given
        # cluster (nor its registry).
        with temporary_cluster(config, provider="podman", kubeconfig_path=kubeconfig) as cluster:
            yield cluster
    finally:
        nestkube.delete_registry(REGISTRY, provider="podman")
    assert engine_leftovers("podman", NAME) == {"containers": [], "volumes": [], "networks": []}


def test_e2e_test_reports_the_clusters_release() -> None:
    suite = build_suite(DEFAULT_KUBERNETES_VERSION, modules_toolchain())
    out = subprocess.run(
        [str(suite.e2e_test), "--version"], capture_output=True, text=True, timeout=60
    )
    assert DEFAULT_KUBERNETES_VERSION in out.stdout + out.stderr, out.stdout + out.stderr


def test_conformance_subset_passes(conformance_cluster: nestkube.Cluster, tmp_path: Path) -> None:
    started = time.monotonic()
    args = [nestkube_cli(), "conformance", "--name", NAME, "--provider", "podman"]
    args += [f"--focus={f}" for f in SUBSET]
    args += ["--procs", "4", "--timeout", "15m", "--report-dir", str(tmp_path)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=40 * 60)
    output = proc.stdout + proc.stderr[-4000:]
    match = SUMMARY_RE.search(proc.stdout)
    assert match, output
    passed, failed, _skipped, total = (int(g) for g in match.groups())
    assert failed == 0, output
    assert passed >= SUBSET_SPECS, output
    assert total >= SUBSET_SPECS, output
    assert proc.returncode == 0, output
    assert (tmp_path / "junit.xml").is_file()
    assert (tmp_path / "summary.txt").read_text().splitlines()[0] == match.group(0)
    # The Always pulls went through the registry the run filled.
    log = nestkube.registry_logs(REGISTRY, provider="podman")
    assert "ns=registry.k8s.io" in log, log[-2000:]
    print(f"conformance subset: {match.group(0)} in {time.monotonic() - started:.0f}s")
