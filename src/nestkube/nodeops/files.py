"""Where things are in a node, and the time limit for a short command there."""

from __future__ import annotations

from nestkube.providers.timeouts import CHANGE, engine_timeout

ADMIN_CONF = "/etc/kubernetes/admin.conf"


KUBECTL = ["kubectl", f"--kubeconfig={ADMIN_CONF}"]


KUBEADM_CONF = "/etc/nestkube/kubeadm.yaml"
# The config a cluster was made from, every node's image filled in (`create node` reads it).
CLUSTER_RECORD = "/etc/nestkube/cluster.yaml"


KUBELET_CONF = "/etc/kubernetes/kubelet.conf"


CNI_CONF = "/etc/cni/net.d/10-nestkube.conflist"


CONTAINERD_CONF = "/etc/containerd/config.toml"


def quick() -> float:
    """The limit for a short command in a node (write a file, restart a service, kubectl)."""
    return engine_timeout(CHANGE)
