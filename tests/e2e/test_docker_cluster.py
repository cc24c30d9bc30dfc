"""Whole clusters on real Docker (single node, and one control plane with two workers), images
loaded across engines both ways, logs of a broken kubelet, and delete leaving nothing.

The CLI is driven as a user would drive it (`nestkube load image`, `nestkube export logs`),
so stderr messages and exit codes are part of what is checked.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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

import nestkube
from nestkube.config import default_config
from nestkube.images.node_image import NodeImage
from nestkube.kit.kubernetes import KubernetesBinaries
from nestkube.kit.releases import DEFAULT_KUBERNETES_VERSION
from nestkube.providers.docker import DockerProvider
from nestkube.providers.podman import PodmanProvider
from nestkube.status import Status

pytestmark = pytest.mark.e2e

DK_SINGLE = "e2e-dk-single"
DK_MULTI = "e2e-dk-multi"
PM_LOAD = "e2e-pm-load"
CLI = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "nestkube")


# --- fixtures -------------------------------------------------------------------------------
# docker, podman_engine, kit, docker_node_image and podman_node_image come from conftest.py.
@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kube") / "config"


def fresh_cluster(
    name: str, workers: int, engine: str, kubeconfig: Path
) -> Iterator[nestkube.Cluster]:
    """The body of a cluster fixture: create ``name`` anew, yield it, delete it afterwards."""
    nestkube.delete_cluster(name, provider=engine, kubeconfig_path=str(kubeconfig))
    start = time.monotonic()
    cluster = nestkube.create_cluster(
        default_config(name, workers=workers),
        provider=engine,
        kubeconfig_path=str(kubeconfig),
        status=Status(verbosity=1),
    )
    print(f"created {name} on {engine} in {time.monotonic() - start:.0f}s")
    yield cluster
    nestkube.delete_cluster(name, provider=engine, kubeconfig_path=str(kubeconfig))


@pytest.fixture(scope="module")
def dk_single(
    docker: DockerProvider, docker_node_image: NodeImage, kubeconfig: Path
) -> Iterator[nestkube.Cluster]:
    yield from fresh_cluster(DK_SINGLE, 0, "docker", kubeconfig)


@pytest.fixture(scope="module")
def dk_multi(
    docker: DockerProvider, docker_node_image: NodeImage, kubeconfig: Path
) -> Iterator[nestkube.Cluster]:
    yield from fresh_cluster(DK_MULTI, 2, "docker", kubeconfig)


@pytest.fixture(scope="module")
def pm_cluster(
    podman_engine: PodmanProvider, podman_node_image: NodeImage, kubeconfig: Path
) -> Iterator[nestkube.Cluster]:
    yield from fresh_cluster(PM_LOAD, 0, "podman", kubeconfig)


# --- helpers --------------------------------------------------------------------------------
def nk(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([CLI, *args], capture_output=True, text=True, check=False, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"nestkube {' '.join(args)} failed:\n{proc.stderr}{proc.stdout}")
    return proc


def kubectl(
    binaries: KubernetesBinaries,
    kubeconfig: Path,
    cluster: nestkube.Cluster,
    *args: str,
    input: str | None = None,
    timeout: float | None = 120,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(binaries.path("kubectl")),
            f"--kubeconfig={kubeconfig}",
            f"--context={cluster.context}",
            *args,
        ],
        input=input,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def kubectl_json(
    binaries: KubernetesBinaries, kubeconfig: Path, cluster: nestkube.Cluster, *args: str
) -> Any:
    proc = kubectl(binaries, kubeconfig, cluster, *args, "-o", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def ready_nodes(
    binaries: KubernetesBinaries, kubeconfig: Path, cluster: nestkube.Cluster
) -> list[str]:
    items = kubectl_json(binaries, kubeconfig, cluster, "get", "nodes")["items"]
    return sorted(
        n["metadata"]["name"]
        for n in items
        if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
    )


def run_pod_never_pull(
    binaries: KubernetesBinaries,
    kubeconfig: Path,
    cluster: nestkube.Cluster,
    image: str,
    node: str,
    timeout: float = 120,
) -> str:
    """Run `cat /marker` from ``image`` on ``node`` without pulling; returns its output."""
    name = f"marker-{uuid.uuid4().hex[:6]}"
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "nodeName": node,
            "restartPolicy": "Never",
            "tolerations": [{"operator": "Exists"}],
            "containers": [
                {
                    "name": "main",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": ["cat", "/marker"],
                }
            ],
        },
    }
    applied = kubectl(
        binaries, kubeconfig, cluster, "apply", "-f", "-", input=json.dumps(manifest), timeout=None
    )
    assert applied.returncode == 0, applied.stderr
    deadline = time.monotonic() + timeout
    phase = ""
    while time.monotonic() < deadline:
        pod = kubectl_json(binaries, kubeconfig, cluster, "get", "pod", name)
        phase = pod["status"].get("phase", "")
        if phase in ("Succeeded", "Failed"):
            break
        time.sleep(1)
    logs = kubectl(binaries, kubeconfig, cluster, "logs", name).stdout
    assert phase == "Succeeded", f"pod {name} on {node}: {phase}\n{json.dumps(pod['status'])}"
    return logs


# --- single node ----------------------------------------------------------------------------
def test_docker_single_node_is_ready(
    dk_single: nestkube.Cluster, kit: KubernetesBinaries, kubeconfig: Path
) -> None:
    assert dk_single.provider == "docker"
    assert ready_nodes(kit, kubeconfig, dk_single) == [f"{DK_SINGLE}-control-plane"]


WEB = (
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


def test_docker_single_node_serves_a_service_by_dns_name(
    dk_single: nestkube.Cluster,
    kit: KubernetesBinaries,
    kubeconfig: Path,
    docker: DockerProvider,
    workload: Path,
) -> None:
    node = f"{DK_SINGLE}-control-plane"
    import_into_nodes(docker, [node], workload)
    kubectl = Kubectl(str(kit.path("kubectl")), kubeconfig, dk_single.context)
    assert_current_cluster(kubectl, DEFAULT_KUBERNETES_VERSION)
    kubectl.apply(WEB)
    kubectl.wait_pods_ready("app=web")
    kubectl.wait_pods_ready("role=client")
    pods = {p["metadata"]["name"] for p in kubectl.json("get", "pods", "-l", "app=web")["items"]}
    assert_cluster_dns(kubectl, docker, {"client": node}, "web", pods)


def test_export_logs_holds_the_kubelet_failure(
    dk_single: nestkube.Cluster, docker: DockerProvider, tmp_path: Path
) -> None:
    node = f"{DK_SINGLE}-control-plane"
    # Break the kubelet the way a bad config change would, then let systemd retry it.
    docker.exec(
        node,
        [
            "sh",
            "-c",
            "systemctl stop kubelet && echo 'this: [is not a kubelet config' "
            "> /var/lib/kubelet/config.yaml && systemctl start kubelet; sleep 3",
        ],
        check=False,
    )
    out_dir = tmp_path / "logs"
    proc = nk("export", "logs", str(out_dir), "--name", DK_SINGLE)
    assert proc.stdout.strip() == str(out_dir)
    kubelet_log = (out_dir / node / "kubelet.log").read_text()
    assert "failed to load Kubelet config file" in kubelet_log
    for name in ("journal.log", "containerd.log", "ctr-images.txt", "inspect.json"):
        assert (out_dir / node / name).stat().st_size > 0, name
    assert (out_dir / "docker-info.txt").read_text().strip()

    tar_proc = nk("export", "logs", str(tmp_path / "again"), "--name", DK_SINGLE, "--tar")
    archive = Path(tar_proc.stdout.strip())
    assert archive == tmp_path / "again.tar.gz"
    with tarfile.open(archive) as tar:
        member = tar.extractfile(f"again/{node}/kubelet.log")
        assert member is not None
        assert b"failed to load Kubelet config file" in member.read()


# --- one control plane, two workers, and images across engines ------------------------------
def test_docker_multi_node_is_ready(
    dk_multi: nestkube.Cluster, kit: KubernetesBinaries, kubeconfig: Path
) -> None:
    assert ready_nodes(kit, kubeconfig, dk_multi) == [
        f"{DK_MULTI}-control-plane",
        f"{DK_MULTI}-worker",
        f"{DK_MULTI}-worker2",
    ]


def test_podman_image_into_docker_cluster(
    dk_multi: nestkube.Cluster,
    podman_engine: PodmanProvider,
    docker: DockerProvider,
    kit: KubernetesBinaries,
    kubeconfig: Path,
    tmp_path: Path,
) -> None:
    with busybox_loaded_into(
        podman_engine, tmp_path, "from-podman", marker="built-with-podman"
    ) as (tag, _):
        assert not docker.image_exists(tag)
        start = time.monotonic()
        first = nk("load", "image", tag, "--name", DK_MULTI)
        print(f"load into 3 docker nodes: {time.monotonic() - start:.1f}s")
        assert "skipped" not in first.stderr
        assert run_pod_never_pull(
            kit, kubeconfig, dk_multi, tag, f"{DK_MULTI}-worker2"
        ).strip() == ("built-with-podman")

        second = nk("load", "image", tag, "--name", DK_MULTI)
        for node in (f"{DK_MULTI}-control-plane", f"{DK_MULTI}-worker", f"{DK_MULTI}-worker2"):
            assert f"image {tag} already present on node {node}, skipped" in second.stderr


def test_docker_image_into_podman_cluster(
    pm_cluster: nestkube.Cluster,
    podman_engine: PodmanProvider,
    docker: DockerProvider,
    kit: KubernetesBinaries,
    kubeconfig: Path,
    tmp_path: Path,
) -> None:
    with busybox_loaded_into(docker, tmp_path, "from-docker", "built-with-docker") as (tag, _):
        assert not podman_engine.image_exists(tag)
        nk("load", "image", tag, "--name", PM_LOAD)
        node = f"{PM_LOAD}-control-plane"
        assert run_pod_never_pull(kit, kubeconfig, pm_cluster, tag, node).strip() == (
            "built-with-docker"
        )
        second = nk("load", "image", tag, "--name", PM_LOAD)
        assert f"image {tag} already present on node {node}, skipped" in second.stderr


def test_bad_input_is_one_line_exit_1(dk_multi: nestkube.Cluster, tmp_path: Path) -> None:
    for args, message in (
        (("load", "image", "localhost/nestkube-e2e/ghost:0", "--name", DK_MULTI), "not found"),
        (("load", "archive", str(tmp_path / "none.tar"), "--name", DK_MULTI), "not found"),
        (("load", "image", "busybox", "--name", "e2e-no-such-cluster"), "no cluster named"),
        (("export", "logs", "--name", "e2e-no-such-cluster"), "no cluster named"),
    ):
        proc = nk(*args, check=False)
        assert proc.returncode == 1, args
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("ERROR: ") and message in lines[0], lines


# --- delete ---------------------------------------------------------------------------------
def test_delete_leaves_nothing(
    dk_single: nestkube.Cluster, dk_multi: nestkube.Cluster, kubeconfig: Path
) -> None:
    for name in (DK_SINGLE, DK_MULTI):
        proc = nk(
            "delete",
            "cluster",
            "--name",
            name,
            "--provider",
            "docker",
            "--kubeconfig",
            str(kubeconfig),
        )
        assert proc.returncode == 0
        assert engine_leftovers("docker", name) == {
            "containers": [],
            "volumes": [],
            "networks": [],
        }, name
    contexts = kubeconfig.read_text() if kubeconfig.exists() else ""
    assert f"nestkube-{DK_SINGLE}" not in contexts
    assert f"nestkube-{DK_MULTI}" not in contexts
