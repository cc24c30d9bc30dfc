"""Whole clusters on real rootful nerdctl (single node, and one control plane with two workers):
a Service by DNS name, an image only nerdctl has loaded into every node, export logs, and
delete leaving nothing.

nerdctl and its containerd are built from Go modules and started for the session by the
``nerdctl`` fixture (conftest.py, engines.host_nerdctl); the node image is built in nerdctl
itself. Rootless nerdctl needs cgroup v2 delegation, which this host lacks: unit tests only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from engines import busybox_loaded_into
from support import (
    WORKLOAD_IMAGE,
    Kubectl,
    assert_cluster_dns,
    assert_current_cluster,
    engine_leftovers,
    import_into_nodes,
    web_manifest,
)
from test_docker_cluster import nk, ready_nodes, run_pod_never_pull

import nestkube
from nestkube.config import default_config
from nestkube.images.node_image import NodeImage
from nestkube.kit.kubernetes import KubernetesBinaries
from nestkube.kit.releases import DEFAULT_KUBERNETES_VERSION
from nestkube.providers.nerdctl import NerdctlProvider
from nestkube.status import Status

pytestmark = pytest.mark.e2e

NC_SINGLE = "e2e-nc-single"
NC_MULTI = "e2e-nc-multi"


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kube") / "config"


def fresh_cluster(name: str, workers: int, kubeconfig: Path) -> Iterator[nestkube.Cluster]:
    nestkube.delete_cluster(name, provider="nerdctl", kubeconfig_path=str(kubeconfig))
    start = time.monotonic()
    cluster = nestkube.create_cluster(
        default_config(name, workers=workers),
        provider="nerdctl",
        kubeconfig_path=str(kubeconfig),
        status=Status(verbosity=1),
    )
    print(f"created {name} on nerdctl in {time.monotonic() - start:.0f}s")
    yield cluster
    nestkube.delete_cluster(name, provider="nerdctl", kubeconfig_path=str(kubeconfig))


@pytest.fixture(scope="module")
def nc_single(
    nerdctl: NerdctlProvider, nerdctl_node_image: NodeImage, kubeconfig: Path
) -> Iterator[nestkube.Cluster]:
    yield from fresh_cluster(NC_SINGLE, 0, kubeconfig)


@pytest.fixture(scope="module")
def nc_multi(
    nerdctl: NerdctlProvider, nerdctl_node_image: NodeImage, kubeconfig: Path
) -> Iterator[nestkube.Cluster]:
    yield from fresh_cluster(NC_MULTI, 2, kubeconfig)


def test_nerdctl_is_rootful_and_built_from_modules(nerdctl: NerdctlProvider) -> None:
    assert not nerdctl.info.rootless
    assert nerdctl.info.version.lstrip("v").startswith("2.")


# --- single node ----------------------------------------------------------------------------
def test_nerdctl_single_node_serves_a_service_by_dns_name(
    nc_single: nestkube.Cluster,
    kit: KubernetesBinaries,
    kubeconfig: Path,
    nerdctl: NerdctlProvider,
    workload: Path,
) -> None:
    node = f"{NC_SINGLE}-control-plane"
    assert nc_single.provider == "nerdctl"
    assert ready_nodes(kit, kubeconfig, nc_single) == [node]
    import_into_nodes(nerdctl, [node], workload)
    kubectl = Kubectl(str(kit.path("kubectl")), kubeconfig, nc_single.context)
    assert_current_cluster(kubectl, DEFAULT_KUBERNETES_VERSION)
    kubectl.apply(
        web_manifest(replicas=2)
        + f"""---
apiVersion: v1
kind: Pod
metadata: {{name: client, labels: {{role: client}}}}
spec:
  containers:
  - name: main
    image: {WORKLOAD_IMAGE}
    imagePullPolicy: Never
    command: ["sleep", "3600"]
"""
    )
    kubectl.wait_pods_ready("app=web")
    kubectl.wait_pods_ready("role=client")
    pods = {p["metadata"]["name"] for p in kubectl.json("get", "pods", "-l", "app=web")["items"]}
    assert_cluster_dns(kubectl, nerdctl, {"client": node}, "web", pods)


def test_nerdctl_export_logs(nc_single: nestkube.Cluster, tmp_path: Path) -> None:
    node = f"{NC_SINGLE}-control-plane"
    out_dir = tmp_path / "logs"
    proc = nk("export", "logs", str(out_dir), "--name", NC_SINGLE)
    assert proc.stdout.strip() == str(out_dir)
    assert "Started" in (out_dir / node / "kubelet.log").read_text()
    for name in ("journal.log", "containerd.log", "ctr-images.txt", "inspect.json"):
        assert (out_dir / node / name).stat().st_size > 0, name
    assert (out_dir / "nerdctl-info.txt").read_text().strip()


# --- one control plane, two workers ---------------------------------------------------------
def test_nerdctl_image_into_every_node(
    nc_multi: nestkube.Cluster,
    nerdctl: NerdctlProvider,
    kit: KubernetesBinaries,
    kubeconfig: Path,
    tmp_path: Path,
) -> None:
    nodes = [f"{NC_MULTI}-control-plane", f"{NC_MULTI}-worker", f"{NC_MULTI}-worker2"]
    assert ready_nodes(kit, kubeconfig, nc_multi) == nodes
    with busybox_loaded_into(nerdctl, tmp_path, "nc-only", marker="built-with-nerdctl") as (
        tag,
        _,
    ):
        start = time.monotonic()
        first = nk("load", "image", tag, "--name", NC_MULTI)
        print(f"load into 3 nerdctl nodes: {time.monotonic() - start:.1f}s")
        assert "skipped" not in first.stderr
        for node in nodes[1:]:
            out = run_pod_never_pull(kit, kubeconfig, nc_multi, tag, node)
            assert out.strip() == "built-with-nerdctl", node
        second = nk("load", "image", tag, "--name", NC_MULTI)
        for node in nodes:
            assert f"image {tag} already present on node {node}, skipped" in second.stderr


# --- delete ---------------------------------------------------------------------------------
def test_nerdctl_delete_leaves_nothing(
    nc_single: nestkube.Cluster, nc_multi: nestkube.Cluster, kubeconfig: Path
) -> None:
    for name in (NC_SINGLE, NC_MULTI):
        nk(
            "delete",
            "cluster",
            "--name",
            name,
            "--provider",
            "nerdctl",
            "--kubeconfig",
            str(kubeconfig),
        )
        assert engine_leftovers("nerdctl", name) == {
            "containers": [],
            "volumes": [],
            "networks": [],
        }, name
    contexts = kubeconfig.read_text() if kubeconfig.exists() else ""
    assert f"nestkube-{NC_SINGLE}" not in contexts
    assert f"nestkube-{NC_MULTI}" not in contexts
