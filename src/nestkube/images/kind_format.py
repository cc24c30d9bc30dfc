"""``nestkube build node-image --format kind``: a node image the real kind boots.

The kind-format image is a nestkube node image (same Kubernetes, runtime and preloaded
component images) with what kind v0.33.0 expects of a node image added on top:

- ``/kind/version``: the Kubernetes release, which kind puts in its kubeadm config;
- ``/kind/manifests/default-cni.yaml`` and ``default-storage.yaml``: kind applies them as they
  are (the CNI one after filling in the pod subnet); both name only preloaded images;
- an entrypoint that prepares the node for kind's kubelet config (systemd cgroup driver with
  cgroup root ``/kubelet``, shared mounts) and then runs nestkube's own entrypoint;
- containerd configured for the systemd cgroup driver.

kindnetd, kind's own CNI, cannot be built here: its module (``sigs.k8s.io/kind/images/kindnetd``,
a nested module of kind's repository) is not served by the module proxy. The CNI manifest runs
nestkube's pod network agent instead (the node image's ``nestkube-netd``, started by
``kind/pod-network.sh`` with the pod CIDR kind's controller manager assigns); the image's
labels say so. The storage
manifest is nestkube's local-path provisioner (:mod:`nestkube.storage`), the same default
StorageClass ``standard`` kind installs.

nestkube's ``create cluster`` boots the same image: the nestkube node image underneath carries
every label create reads, and create rewrites containerd's config and installs its own pod
network as it does on any node image.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path

import yaml

from nestkube import storage
from nestkube.cache import content_key, file_sha256
from nestkube.errors import CommandError, ImageBuildError
from nestkube.images.node_image import (
    LABEL_BUILD_KEY,
    LABEL_COMPONENTS,
    LABEL_PRELOADED,
    NODE_FILES,
    NodeImage,
    _describe,
    _label_value,
    components_label,
    parse_components_label,
)
from nestkube.kit.node_kit import repo_name
from nestkube.kubeadm.cni import render_bridge_cni
from nestkube.kubeadm.containerd import render_containerd_config
from nestkube.oci.archive import ImageSpec, Layer, write_image_archive
from nestkube.providers.base import Mount, Provider
from nestkube.status import SILENT, Status

KIND_FILES = Path(__file__).with_name("kind")
# Bump when what this module adds to a node image changes.
RECIPE = "kind-2"
# The kind release whose node-image contract these images meet.
KIND_CONTRACT = "v0.33.0"
LABEL_FORMAT = "io.nestkube.image-format"
LABEL_KIND_CONTRACT = "io.nestkube.kind-contract"
# What of kind's own node image this one replaces, and why.
LABEL_KIND_GAPS = "io.nestkube.kind-gaps"
KIND_GAPS = (
    "kindnetd: module sigs.k8s.io/kind/images/kindnetd is not served; "
    "default-cni.yaml runs nestkube's pod network instead"
)
FORMAT_KIND = "kind"
FORMATS = ("nestkube", FORMAT_KIND)

POD_NETWORK_IMAGE = f"localhost/nestkube/pod-network:{RECIPE}"
# A documentation range (RFC 5737) standing for the node's pod CIDR in the CNI template;
# pod-network.sh replaces it with the CIDR the controller manager assigned.
CIDR_PLACEHOLDER = "192.0.2.0/24"
# kind fills in Go-template fields of default-cni.yaml only when the file holds this phrase.
KIND_TEMPLATE_MARKER = "would you kindly template this file"
KIND_POD_SUBNET_FIELD = "{{ .PodSubnet }}"


def default_kind_image(version: str) -> str:
    return f"localhost/nestkube/kind-node:{version}"


def is_kind_format(labels: dict[str, str]) -> bool:
    return labels.get(LABEL_FORMAT) == FORMAT_KIND


def cni_manifest() -> str:
    """The DaemonSet kind applies as its default CNI: nestkube's pod network on every node."""
    name = "nestkube-pod-network"
    app = {"app": name}
    token = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    rbac: list[dict[str, object]] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": "kube-system"},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name},
            # nestkube-netd lists Nodes and watches them for changes.
            "rules": [
                {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]}
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": name,
            },
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": "kube-system"}],
        },
    ]
    daemonset = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "nestkube-pod-network", "namespace": "kube-system", "labels": app},
        "spec": {
            "selector": {"matchLabels": app},
            "template": {
                "metadata": {"labels": app},
                "spec": {
                    "hostNetwork": True,
                    "serviceAccountName": name,
                    "priorityClassName": "system-node-critical",
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "tolerations": [{"operator": "Exists"}],
                    "containers": [
                        {
                            "name": "pod-network",
                            "image": POD_NETWORK_IMAGE,
                            "imagePullPolicy": "Never",
                            # The node's own kubectl, ip and iptables do the work; the
                            # token is read here, where it is mounted, and handed over.
                            "command": [
                                "/bin/sh",
                                "-c",
                                f"TOKEN=$(cat {token}) && export TOKEN && "
                                "exec chroot /host /kind/bin/nestkube-pod-network",
                            ],
                            "env": [
                                {
                                    "name": "NODE_NAME",
                                    "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}},
                                },
                                {"name": "POD_SUBNET", "value": KIND_POD_SUBNET_FIELD},
                                {"name": "PLACEHOLDER", "value": CIDR_PLACEHOLDER},
                                {
                                    "name": "PATH",
                                    "value": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                                    "/sbin:/bin",
                                },
                            ],
                            "securityContext": {"privileged": True},
                            "resources": {"requests": {"cpu": "10m", "memory": "20Mi"}},
                            "volumeMounts": [{"name": "node", "mountPath": "/host"}],
                        }
                    ],
                    "volumes": [{"name": "node", "hostPath": {"path": "/"}}],
                },
            },
        },
    }
    header = (
        "# nestkube's pod network for kind-format node images (kindnetd's module is not served).\n"
        f"# {KIND_TEMPLATE_MARKER}: kind fills in the cluster's pod subnet below.\n"
    )
    docs = [*rbac, daemonset]
    return header + "".join("---\n" + yaml.safe_dump(d, sort_keys=False) for d in docs)


def pod_network_archive(dest: Path) -> Path:
    """The pod network's image: busybox for chroot; everything else is the node's."""
    if not storage.BUSYBOX.is_file():
        raise ImageBuildError(
            "/bin/busybox missing for the pod network image: apt-get install busybox-static"
        )
    layer = Layer().add_file("/bin/busybox", storage.BUSYBOX)
    for applet in ("sh", "chroot"):
        layer.add_symlink(f"/bin/{applet}", "busybox")
    write_image_archive(ImageSpec(tags=[POD_NETWORK_IMAGE], layers=[layer]), dest)
    return dest


def _containerd_config(preloaded: list[str]) -> str:
    pause = next((ref for ref in preloaded if repo_name(ref) == "pause"), None)
    if pause is None:
        raise ImageBuildError("the node image preloads no pause image for containerd's sandbox")
    # kind's kubelet config uses the systemd cgroup driver; the entrypoint turns on
    # restrict_oom_score_adj where the host forbids lowering oom_score_adj.
    return render_containerd_config(
        restrict_oom_score_adj=False, cgroup_driver="systemd", sandbox_image=pause
    )


def _stage(work: Path, preloaded: list[str]) -> tuple[Path, dict[str, str]]:
    """Files install.sh takes from /nestkube-in, and their contents' hashes for the build key."""
    in_dir = work / "in"
    (in_dir / "images").mkdir(parents=True)
    for path in KIND_FILES.iterdir():
        if path.is_file():
            shutil.copy2(path, in_dir / path.name)
    # The node image's own import routine, so both images preload the same way.
    shutil.copy2(NODE_FILES / "preload-images.sh", in_dir / "preload-images.sh")
    (in_dir / "default-cni.yaml").write_text(cni_manifest())
    (in_dir / "default-storage.yaml").write_text(storage.manifests())
    (in_dir / "bridge.conflist").write_text(render_bridge_cni(CIDR_PLACEHOLDER))
    (in_dir / "containerd.toml").write_text(_containerd_config(preloaded))
    pod_network_archive(in_dir / "images" / "pod-network.tar")
    for path in [work, *work.rglob("*")]:
        path.chmod(path.stat().st_mode | (0o755 if path.is_dir() else 0o644))
    hashes = {
        str(p.relative_to(in_dir)): file_sha256(p) for p in sorted(in_dir.rglob("*")) if p.is_file()
    }
    return in_dir, hashes


def build_kind_image(
    provider: Provider,
    base: str,
    *,
    image: str | None = None,
    force: bool = False,
    status: Status = SILENT,
) -> NodeImage:
    """The kind-format image of nestkube node image ``base``; reused if built from the same."""
    base_labels = provider.image_labels(base)
    base_id = provider.image_id(base)
    version = base_labels.get("io.nestkube.kubernetes-version", "")
    if base_id is None or not version:
        raise ImageBuildError(f"{base} is not a nestkube node image in {provider.info.name}")
    target = image or default_kind_image(version)
    preloaded = [x for x in base_labels.get(LABEL_PRELOADED, "").split(",") if x]
    work = Path(tempfile.mkdtemp(prefix="nestkube-kind-"))
    container = f"nestkube-kind-build-{secrets.token_hex(4)}"
    try:
        in_dir, hashes = _stage(work, preloaded)
        key = content_key([RECIPE, base_id, sorted(hashes.items())])
        fresh = provider.image_exists(target) and (
            provider.image_labels(target).get(LABEL_BUILD_KEY) == key
        )
        if fresh and not force:
            status.info(f"Node image {target} is up to date")
            return _describe(provider, target, reused=True)
        with status.step(f"Starting a build container from {base}"):
            provider.run_build_container(
                base, container, [Mount(str(in_dir), "/nestkube-in", read_only=True)]
            )
        with status.step("Adding kind's node files and the pod network image"):
            try:
                provider.exec(container, ["sh", "/nestkube-in/install.sh"], what="kind install.sh")
            except CommandError as exc:
                raise ImageBuildError(
                    f"kind-format step install.sh failed:\n{exc.output_tail(15)}"
                ) from exc
        out = provider.exec(container, ["cat", "/etc/nestkube/preloaded-images"]).stdout
        now_preloaded = [line.strip() for line in out.splitlines() if line.strip()]
        if POD_NETWORK_IMAGE not in now_preloaded:
            raise ImageBuildError(f"{POD_NETWORK_IMAGE} was not preloaded")
        components = parse_components_label(base_labels.get(LABEL_COMPONENTS, ""))
        components |= {"kind-format": RECIPE, "pod-network": RECIPE}
        labels = {
            LABEL_FORMAT: FORMAT_KIND,
            LABEL_KIND_CONTRACT: KIND_CONTRACT,
            LABEL_KIND_GAPS: KIND_GAPS,
            LABEL_COMPONENTS: components_label(components),
            LABEL_PRELOADED: ",".join(now_preloaded),
            LABEL_BUILD_KEY: key,
        }
        changes = [
            'ENTRYPOINT ["/usr/local/bin/nestkube-kind-entrypoint"]',
            "CMD []",
            "STOPSIGNAL SIGRTMIN+3",
            *[f"LABEL {k}={_label_value(v)}" for k, v in labels.items()],
        ]
        with status.step(f"Committing {target}"):
            provider.commit(container, target, changes)
    finally:
        provider.remove_container(container)
        shutil.rmtree(work, ignore_errors=True)
    return _describe(provider, target, reused=False)
