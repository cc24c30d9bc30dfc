"""Create's part for nodes whose image runs CRI-O (see nestkube.images.crio_variant).

What containerd's config carries for a node (the pause image, the cgroup driver, the
oom_score_adj restriction of restricted hosts) CRI-O gets in a drop-in written here.
"""

from __future__ import annotations

import tomli_w

from nestkube.errors import ClusterError
from nestkube.images.crio_variant import CRIO_SOCKET
from nestkube.images.node_image import LABEL_RUNTIME, default_node_image
from nestkube.kit.crio import require_crio
from nestkube.kit.releases import CRIO_KUBERNETES
from nestkube.kubeadm.config import CONTAINERD_SOCKET

CRIO = "cri-o"
DROP_IN = "/etc/crio/crio.conf.d/20-nestkube-create.conf"
# Installed in every CRI-O node image (images/nestkube-runc, the runc wrapper; -oom is a link).
RUNC_OOM = "/usr/local/bin/nestkube-runc-oom"
RUNC = "/usr/local/bin/nestkube-runc"


def image_runtime(labels: dict[str, str]) -> str:
    return labels.get(LABEL_RUNTIME) or "containerd"


def check_runtime(node: str, image: str, wanted: str, labels: dict[str, str]) -> str:
    """The image's runtime, which must be the one the config asks for on this node."""
    have = image_runtime(labels)
    if have != wanted:
        build = "--runtime cri-o " if wanted == CRIO else ""
        raise ClusterError(
            f"node {node} wants runtime {wanted}, but its image {image} runs {have}: "
            f"build one with `nestkube build node-image {build}` or give the node another image"
        )
    return have


def cri_socket(runtime: str) -> str:
    return CRIO_SOCKET if runtime == CRIO else CONTAINERD_SOCKET


def default_image(runtime: str, containerd_image: str) -> str:
    """A node's image when the config names none: CRI-O nodes run the newest Kubernetes
    release that has a CRI-O (CRIO_KUBERNETES), in its CRI-O variant."""
    if runtime != CRIO:
        return containerd_image
    require_crio(CRIO_KUBERNETES)
    return default_node_image(CRIO_KUBERNETES, CRIO)


def crio_config(*, pause_image: str, cgroup_driver: str, restrict_oom_score_adj: bool) -> str:
    """The create-time drop-in: CRI-O has no restrict_oom_score_adj, so restricted hosts get
    its runc through nestkube-runc-oom, which raises negative scores to runc's own."""
    # A drop-in's handler table replaces the image's whole (10-nestkube.conf), so all of it.
    runc = {
        "runtime_path": RUNC_OOM if restrict_oom_score_adj else RUNC,
        "runtime_type": "oci",
        "monitor_path": "/usr/bin/conmon",
        # With cgroupfs, conmon must live in the pod's cgroup.
        "monitor_cgroup": "pod",
    }
    runtime = {"cgroup_manager": cgroup_driver, "runtimes": {"runc": runc}}
    return tomli_w.dumps({"crio": {"runtime": runtime, "image": {"pause_image": pause_image}}})
