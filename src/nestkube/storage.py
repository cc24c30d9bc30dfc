"""The default StorageClass: Rancher's local-path provisioner, built from its Go module.

No image can be pulled here, so the provisioner is compiled from its module (by the kit, at the
version pinned in nestkube.kit.releases) into a small local image together with Debian's static
busybox, which the provisioner's helper pods use to make and remove volume directories. The
node image build preloads that image, as it does every component image; create applies the
manifests below. Volumes live on the node, under /var/local-path-provisioner (the node's /var
volume).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from nestkube.errors import ImageBuildError
from nestkube.kit.releases import LOCAL_PATH_PROVISIONER
from nestkube.oci.archive import ImageSpec, Layer, write_image_archive
from nestkube.providers.base import Provider

IMAGE = f"localhost/nestkube/local-path-provisioner:{LOCAL_PATH_PROVISIONER}"
BUSYBOX = Path("/bin/busybox")
NAMESPACE = "local-path-storage"
# kind's name for its default class, so manifests written for kind find it.
STORAGE_CLASS = "standard"
PROVISIONER = "rancher.io/local-path"
VOLUME_ROOT = "/var/local-path-provisioner"
# What the helper pods' scripts (sh) and the provisioner need from busybox.
APPLETS = ("sh", "mkdir", "rm", "chmod", "ls", "cat")


def image_archive(dest: Path, binary: Path) -> Path:
    """The provisioner image (``binary`` and busybox) as a docker-archive at ``dest``."""
    if not BUSYBOX.is_file():
        raise ImageBuildError(
            "/bin/busybox missing for the storage helper: apt-get install busybox-static"
        )
    layer = (
        Layer()
        .add_file("/local-path-provisioner", binary)
        .add_file("/bin/busybox", BUSYBOX)
        .add_dir("/tmp", 0o1777)
    )
    for applet in APPLETS:
        layer.add_symlink(f"/bin/{applet}", "busybox")
    write_image_archive(
        ImageSpec(tags=[IMAGE], layers=[layer], entrypoint=["/local-path-provisioner"]), dest
    )
    return dest


def manifests() -> str:
    """The provisioner's namespace, RBAC, config, Deployment and the default StorageClass."""
    sa = "local-path-provisioner"
    config = {
        "nodePathMap": [{"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": [VOLUME_ROOT]}]
    }
    helper_pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "helper-pod"},
        "spec": {
            "priorityClassName": "system-node-critical",
            "tolerations": [{"operator": "Exists"}],
            "containers": [{"name": "helper-pod", "image": IMAGE, "imagePullPolicy": "Never"}],
        },
    }
    rules = [
        ("", ["nodes", "pods", "pods/log", "endpoints", "configmaps"], ["get", "list", "watch"]),
        ("", ["pods"], ["create", "delete", "patch", "update"]),
        ("", ["persistentvolumeclaims", "persistentvolumes"], ["*"]),
        ("", ["events"], ["create", "patch"]),
        ("storage.k8s.io", ["storageclasses"], ["get", "list", "watch"]),
        ("coordination.k8s.io", ["leases"], ["*"]),
    ]
    docs: list[dict[str, object]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": sa, "namespace": NAMESPACE},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": sa},
            "rules": [{"apiGroups": [g], "resources": r, "verbs": v} for g, r, v in rules],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": sa},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": sa},
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": NAMESPACE}],
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "local-path-config", "namespace": NAMESPACE},
            "data": {
                "config.json": json.dumps(config),
                # Run by helper pods on the volume's node with VOL_DIR set.
                "setup": 'set -eu\nmkdir -m 0777 -p "$VOL_DIR"\n',
                "teardown": 'set -eu\nrm -rf "$VOL_DIR"\n',
                "helperPod.yaml": yaml.safe_dump(helper_pod, sort_keys=False),
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "local-path-provisioner", "namespace": NAMESPACE},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "local-path-provisioner"}},
                "template": {
                    "metadata": {"labels": {"app": "local-path-provisioner"}},
                    "spec": {
                        "serviceAccountName": sa,
                        "priorityClassName": "system-node-critical",
                        "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}],
                        "containers": [
                            {
                                "name": "provisioner",
                                "image": IMAGE,
                                "imagePullPolicy": "Never",
                                "args": [
                                    "start",
                                    "--config=/etc/config/config.json",
                                    f"--helper-image={IMAGE}",
                                    f"--service-account-name={sa}",
                                    f"--provisioner-name={PROVISIONER}",
                                ],
                                "env": [
                                    {
                                        "name": "POD_NAMESPACE",
                                        "valueFrom": {
                                            "fieldRef": {"fieldPath": "metadata.namespace"}
                                        },
                                    }
                                ],
                                "volumeMounts": [{"name": "config", "mountPath": "/etc/config"}],
                            }
                        ],
                        "volumes": [{"name": "config", "configMap": {"name": "local-path-config"}}],
                    },
                },
            },
        },
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": STORAGE_CLASS,
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            "provisioner": PROVISIONER,
            # Bound where the pod lands: the volume is a directory on that node.
            "volumeBindingMode": "WaitForFirstConsumer",
            "reclaimPolicy": "Delete",
        },
    ]
    return yaml.safe_dump_all(docs, sort_keys=False)


def install(provider: Provider, bootstrap: str, kubectl: list[str], timeout: float) -> None:
    """Apply the manifests through ``bootstrap`` (the image is preloaded in the node image)."""
    provider.exec(
        bootstrap,
        [*kubectl, "apply", "-f", "-"],
        input=manifests(),
        what="applying the local-path provisioner",
        timeout=timeout,
    )
