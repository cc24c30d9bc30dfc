"""The metrics-server addon (``metricsServer: true``): ``kubectl top`` on a nestkube cluster.

metrics-server is compiled from its Go module by the kit (at the version pinned in
:mod:`nestkube.kit.releases`) into a one-binary image that every module-built node image
preloads, like the local-path provisioner; create applies the manifests below when the config
asks for the addon.

It reads each kubelet's metrics over HTTPS and checks the kubelet's serving certificate
against the cluster CA (no ``--kubelet-insecure-tls``): with the addon on, the kubelets ask
for serving certificates the cluster CA signs (``serverTLSBootstrap``), and create approves
each node's request (:mod:`nestkube.create.kubelet_certs`).
"""

from __future__ import annotations

import json
from pathlib import Path

from nestkube.kit.releases import METRICS_SERVER
from nestkube.oci.archive import ImageSpec, Layer, write_image_archive

IMAGE = f"localhost/nestkube/metrics-server:{METRICS_SERVER}"
NAME = "metrics-server"
NAMESPACE = "kube-system"
# metrics-server runs as this user, with a read-only root: its self-signed certificate for the
# aggregated API goes to an emptyDir.
USER = 65534
PORT = 10250
API_GROUP = "metrics.k8s.io"


def image_archive(dest: Path, binary: Path) -> Path:
    """The metrics-server image (its static binary and a writable /tmp) at ``dest``."""
    layer = Layer().add_file("/metrics-server", binary).add_dir("/tmp", 0o1777)
    write_image_archive(
        ImageSpec(tags=[IMAGE], layers=[layer], entrypoint=["/metrics-server"]), dest
    )
    return dest


def _rbac() -> list[dict[str, object]]:
    def binding(kind: str, name: str, role_kind: str, role: str, **meta: str) -> dict[str, object]:
        return {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": kind,
            "metadata": {"name": name, **meta},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}],
        }

    reader = "system:aggregated-metrics-reader"
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": NAME, "namespace": NAMESPACE},
        },
        {
            # What `kubectl top` needs, given to whoever may view, edit or admin.
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {
                "name": reader,
                "labels": {
                    f"rbac.authorization.k8s.io/aggregate-to-{role}": "true"
                    for role in ("view", "edit", "admin")
                },
            },
            "rules": [
                {
                    "apiGroups": [API_GROUP],
                    "resources": ["pods", "nodes"],
                    "verbs": ["get", "list", "watch"],
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": f"system:{NAME}"},
            "rules": [
                {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
                {
                    "apiGroups": [""],
                    "resources": ["pods", "nodes"],
                    "verbs": ["get", "list", "watch"],
                },
            ],
        },
        binding("ClusterRoleBinding", f"system:{NAME}", "ClusterRole", f"system:{NAME}"),
        binding(
            "ClusterRoleBinding",
            f"{NAME}:system:auth-delegator",
            "ClusterRole",
            "system:auth-delegator",
        ),
        binding(
            "RoleBinding",
            f"{NAME}-auth-reader",
            "Role",
            "extension-apiserver-authentication-reader",
            namespace=NAMESPACE,
        ),
    ]


def _probe(path: str) -> dict[str, object]:
    return {"httpGet": {"path": path, "port": "https", "scheme": "HTTPS"}, "periodSeconds": 10}


def _deployment() -> dict[str, object]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {"k8s-app": NAME}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"k8s-app": NAME}},
            "template": {
                "metadata": {"labels": {"k8s-app": NAME}},
                "spec": {
                    "serviceAccountName": NAME,
                    "priorityClassName": "system-cluster-critical",
                    "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}],
                    "containers": [
                        {
                            "name": NAME,
                            "image": IMAGE,
                            "imagePullPolicy": "Never",
                            "args": [
                                "--cert-dir=/tmp",
                                f"--secure-port={PORT}",
                                # The nodes' names resolve nowhere in the cluster; their
                                # addresses are in the kubelets' serving certificates.
                                "--kubelet-preferred-address-types=InternalIP",
                                "--kubelet-use-node-status-port",
                                "--metric-resolution=15s",
                            ],
                            "ports": [{"name": "https", "containerPort": PORT}],
                            "readinessProbe": _probe("/readyz"),
                            "livenessProbe": _probe("/livez"),
                            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
                            "securityContext": {
                                "readOnlyRootFilesystem": True,
                                "runAsNonRoot": True,
                                "runAsUser": USER,
                                "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


def manifests() -> str:
    """The addon's ServiceAccount and RBAC, Deployment, Service and APIService, as one
    multi-document text (JSON documents, which kubectl reads as YAML)."""
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {"k8s-app": NAME}},
        "spec": {
            "selector": {"k8s-app": NAME},
            "ports": [{"name": "https", "port": 443, "targetPort": "https"}],
        },
    }
    api_service = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": f"v1beta1.{API_GROUP}"},
        "spec": {
            "service": {"name": NAME, "namespace": NAMESPACE},
            "group": API_GROUP,
            "version": "v1beta1",
            # The API server reaches metrics-server's self-signed endpoint (kubeadm gives the
            # aggregator no CA for it); the kubelets metrics-server reads are verified.
            "insecureSkipTLSVerify": True,
            "groupPriorityMinimum": 100,
            "versionPriority": 100,
        },
    }
    docs = [*_rbac(), _deployment(), service, api_service]
    return "---\n".join(json.dumps(doc, indent=1) + "\n" for doc in docs)
