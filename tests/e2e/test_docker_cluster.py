"""What only Docker's clusters are checked for: logs of a broken kubelet (export logs, as a
directory and as a tarball), a control plane with two workers Ready, and bad input to load and
export as one line and exit 1. Docker's clusters are the shared ones (support.SharedClusters);
the scenarios every engine runs (a Service by DNS name, a loaded image, delete leaving
nothing) are in their own modules.

The CLI is driven as a user would drive it (`nestkube load image`, `nestkube export logs`),
so stderr messages and exit codes are part of what is checked.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from support import VARIANTS, SharedClusters, nk, ready_nodes, scenario_kubectl, uses

from nestkube.providers.docker import DockerProvider

pytestmark = pytest.mark.e2e

DOCKER = VARIANTS["docker"]


# Stage 1: it leaves the single node's kubelet broken, so it runs after the tests that use it.
@uses("docker-single", stage=1)
def test_export_logs_holds_the_kubelet_failure(
    request: pytest.FixtureRequest,
    shared_clusters: SharedClusters,
    docker: DockerProvider,
    tmp_path: Path,
) -> None:
    shared_clusters.get(request, DOCKER, "single")
    node = f"{DOCKER.single}-control-plane"
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
    proc = nk("export", "logs", str(out_dir), "--name", DOCKER.single)
    assert proc.stdout.strip() == str(out_dir)
    kubelet_log = (out_dir / node / "kubelet.log").read_text()
    assert "failed to load Kubelet config file" in kubelet_log
    for name in ("journal.log", "containerd.log", "ctr-images.txt", "inspect.json"):
        assert (out_dir / node / name).stat().st_size > 0, name
    assert (out_dir / "docker-info.txt").read_text().strip()

    tar_proc = nk("export", "logs", str(tmp_path / "again"), "--name", DOCKER.single, "--tar")
    archive = Path(tar_proc.stdout.strip())
    assert archive == tmp_path / "again.tar.gz"
    with tarfile.open(archive) as tar:
        member = tar.extractfile(f"again/{node}/kubelet.log")
        assert member is not None
        assert b"failed to load Kubelet config file" in member.read()


@uses("docker-multi")
def test_docker_multi_node_is_ready(
    request: pytest.FixtureRequest, shared_clusters: SharedClusters
) -> None:
    cluster = shared_clusters.get(request, DOCKER, "multi")
    assert cluster.provider == "docker"
    kubectl = scenario_kubectl(request, DOCKER, cluster, shared_clusters.kubeconfig)
    assert ready_nodes(kubectl) == [
        f"{DOCKER.multi}-control-plane",
        f"{DOCKER.multi}-worker",
        f"{DOCKER.multi}-worker2",
    ]


@uses("docker-multi")
def test_bad_input_is_one_line_exit_1(
    request: pytest.FixtureRequest, shared_clusters: SharedClusters, tmp_path: Path
) -> None:
    name = shared_clusters.get(request, DOCKER, "multi").name
    for args, message in (
        (("load", "image", "localhost/nestkube-e2e/ghost:0", "--name", name), "not found"),
        (("load", "archive", str(tmp_path / "none.tar"), "--name", name), "not found"),
        (("load", "image", "busybox", "--name", "e2e-no-such-cluster"), "no cluster named"),
        (("export", "logs", "--name", "e2e-no-such-cluster"), "no cluster named"),
    ):
        proc = nk(*args, check=False)
        assert proc.returncode == 1, args
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("ERROR: ") and message in lines[0], lines
