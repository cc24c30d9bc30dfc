"""What the node network agent (images/node/nestkube-netd) may read, and how it logs in.

The agent needs every Node's pod CIDR and address. A kubelet's own credentials cannot list
Nodes (the Node authorizer lets a kubelet read only its own Node object), so the agent has a
ServiceAccount of its own, allowed to read Nodes and nothing else, and a kubeconfig in each
node with a long-lived token for it.
"""

from __future__ import annotations

import yaml

NAME = "nestkube-netd"
NAMESPACE = "kube-system"
# Where the agent finds its kubeconfig; until it exists the agent keeps only local state.
KUBECONFIG = "/etc/nestkube/netd.kubeconfig"
# The token outlives any local cluster; a stopped cluster keeps it (the signing key stays).
TOKEN_DURATION = "87600h"

RBAC = f"""\
apiVersion: v1
kind: ServiceAccount
metadata: {{name: {NAME}, namespace: {NAMESPACE}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {NAME}}}
rules:
- apiGroups: [""]
  resources: [nodes]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {NAME}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {NAME}}}
subjects:
- {{kind: ServiceAccount, name: {NAME}, namespace: {NAMESPACE}}}
"""


def token_args() -> list[str]:
    """kubectl arguments that print a token for the agent's ServiceAccount (kubectl 1.24+)."""
    return ["-n", NAMESPACE, "create", "token", NAME, f"--duration={TOKEN_DURATION}"]


def render_kubeconfig(server: str, ca_data: str, token: str) -> str:
    """The agent's kubeconfig: the API server every node uses, the cluster CA, the token."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "cluster",
                "cluster": {"server": server, "certificate-authority-data": ca_data},
            }
        ],
        "users": [{"name": NAME, "user": {"token": token}}],
        "contexts": [{"name": NAME, "context": {"cluster": "cluster", "user": NAME}}],
        "current-context": NAME,
    }
    return yaml.safe_dump(config, sort_keys=False)


def agent_kubeconfig(admin_conf: str, token: str) -> str:
    """The agent's kubeconfig from the cluster's admin.conf: the same API server (the one every
    node joined through) and CA, the agent's token instead of the admin's certificate."""
    clusters = (yaml.safe_load(admin_conf) or {}).get("clusters") or [{}]
    cluster = clusters[0].get("cluster", {})
    return render_kubeconfig(
        str(cluster.get("server", "")), str(cluster.get("certificate-authority-data", "")), token
    )
