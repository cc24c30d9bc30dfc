"""CRI-O nodes at create: which image, which socket, the drop-in, and a mismatched image."""

from __future__ import annotations

import tomllib

import pytest
from memory_engine import MemoryEngine

from nestkube.config import ClusterConfig, NodeConfig
from nestkube.create import crio, plan
from nestkube.create.context import CreateContext
from nestkube.errors import ClusterError
from nestkube.images.node_image import LABEL_RUNTIME
from nestkube.kubeadm.config import KubeadmParams, init_configuration, kubelet_configuration
from nestkube.status import SILENT


def test_cri_o_nodes_default_to_the_newest_release_with_a_cri_o() -> None:
    assert crio.default_image("cri-o", "localhost/nestkube/node:v1.37.2") == (
        "localhost/nestkube/node:v1.34.4-crio"
    )
    assert crio.default_image("containerd", "img") == "img"


def test_image_must_run_the_runtime_the_config_asks_for() -> None:
    labels = {LABEL_RUNTIME: "cri-o"}
    assert crio.check_runtime("n", "img", "cri-o", labels) == "cri-o"
    with pytest.raises(ClusterError) as caught:
        crio.check_runtime("n", "img:v1.37.2", "cri-o", {LABEL_RUNTIME: "containerd"})
    msg = str(caught.value)
    assert "runs containerd" in msg and "--runtime cri-o" in msg and "\n" not in msg
    # Images built before the label existed run containerd.
    assert crio.check_runtime("n", "old", "containerd", {}) == "containerd"


@pytest.mark.parametrize(("restrict", "runc"), [(True, crio.RUNC_OOM), (False, crio.RUNC)])
def test_drop_in_carries_pause_cgroup_driver_and_the_runc_wrapper(
    restrict: bool, runc: str
) -> None:
    text = crio.crio_config(
        pause_image="registry.k8s.io/pause:3.10.1",
        cgroup_driver="cgroupfs",
        restrict_oom_score_adj=restrict,
    )
    config = tomllib.loads(text)["crio"]
    assert config["image"]["pause_image"] == "registry.k8s.io/pause:3.10.1"
    assert config["runtime"]["cgroup_manager"] == "cgroupfs"
    handler = config["runtime"]["runtimes"]["runc"]
    assert handler["runtime_path"] == runc
    # A drop-in's handler replaces the image's: everything it needs is here.
    assert handler["monitor_path"] == "/usr/bin/conmon" and handler["monitor_cgroup"] == "pod"


def test_kubeadm_and_kubelet_use_the_cri_o_socket() -> None:
    params = KubeadmParams(
        kubernetes_version="v1.34.4",
        cluster_name="c",
        node_name="c-control-plane",
        node_ip="10.89.0.2",
        control_plane_endpoint="c-control-plane:6443",
        api_server_cert_sans=(),
        cri_socket=crio.cri_socket("cri-o"),
    )
    endpoint = "unix:///var/run/crio/crio.sock"
    assert init_configuration(params)["nodeRegistration"]["criSocket"] == endpoint
    assert kubelet_configuration(params)["containerRuntimeEndpoint"] == endpoint
    assert crio.cri_socket("containerd") == "/run/containerd/containerd.sock"


def _planned_images(image: str, *, chosen: bool) -> list[str]:
    cfg = ClusterConfig(nodes=[NodeConfig(role="control-plane", runtime="cri-o")])
    ctx = CreateContext(config=cfg, provider=MemoryEngine(), status=SILENT)
    plan.plan_nodes(ctx, image, chosen=chosen)
    return [spec.image for spec in ctx.specs]


def test_an_image_the_user_names_serves_cri_o_nodes_too() -> None:
    # Not chosen (no --image): CRI-O nodes take the CRI-O variant, not the containerd default.
    assert _planned_images("localhost/nestkube/node:v1.37.2", chosen=False) == [
        "localhost/nestkube/node:v1.34.4-crio"
    ]
    # --image given: it is used (check_runtime later holds it to the runtime), never ignored.
    assert _planned_images("mine:crio", chosen=True) == ["mine:crio"]
