"""The configuration file formats, as strict pydantic models of the documents users write.

Two formats share one shape: kind's ``kind.x-k8s.io/v1alpha4`` ``Cluster`` and nestkube's
``nestkube.io/v1alpha1`` ``Cluster``, which has every kind key plus a few of its own. These
models only decode: a key that is not in the format, or a value of the wrong type, is an error.
Defaults and cross-field rules live in :mod:`nestkube.config.model`, so that configs built in
Python (``default_config``, ``with_overrides``) are checked by the same code as files.

Every optional key is nullable because Go's decoder, which kind uses, treats ``key: null`` (and
``key:`` with nothing after it) as "unset"; kind documents that do this must still load.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from nestkube.config.values import IPFamily, KubeProxyMode, ProviderChoice

KIND_API_VERSION = "kind.x-k8s.io/v1alpha4"
NESTKUBE_API_VERSION = "nestkube.io/v1alpha1"
CLUSTER_KIND = "Cluster"

Propagation = Literal["None", "HostToContainer", "Bidirectional"]
Protocol = Literal["TCP", "UDP", "SCTP"]


def _port_range(low: int) -> dict[str, Any]:
    # Ranges are checked with our own messages in model.py; these only inform the schema.
    return {"minimum": low, "maximum": 65535}


class _Doc(BaseModel):
    # strict: YAML "80" is not the integer 80 and 1 is not true, as in kind's Go decoder.
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        # Schema titles name keys as users write them, not as Python spells them.
        field_title_generator=lambda name, info: info.alias or name,
    )


class MountDoc(_Doc):
    """A host path bind-mounted into a node container."""

    host_path: str = Field(
        alias="hostPath",
        description="Path on the host. A relative path is taken from the config file's "
        "directory. Its existence is checked when the cluster is created.",
    )
    container_path: str = Field(
        alias="containerPath", description="Absolute path inside the node container."
    )
    read_only: bool | None = Field(None, alias="readOnly", description="Default false.")
    selinux_relabel: bool | None = Field(
        None, alias="selinuxRelabel", description="Relabel for SELinux (:z). Default false."
    )
    propagation: Propagation | None = Field(None, description="Mount propagation. Default None.")


class PortMappingDoc(_Doc):
    """A node container port published on the host."""

    container_port: int = Field(
        alias="containerPort", json_schema_extra=_port_range(1), description="Port in the node."
    )
    host_port: int | None = Field(
        None,
        alias="hostPort",
        json_schema_extra=_port_range(-1),
        description="Port on the host. 0, -1 or unset: a random free port.",
    )
    listen_address: str | None = Field(
        None,
        alias="listenAddress",
        description='Host IP address to listen on. Default "0.0.0.0" ("::" for ipv6 clusters).',
    )
    protocol: Protocol | None = Field(None, description="Default TCP.")


class PatchJSON6902Doc(_Doc):
    """An RFC 6902 JSON patch applied to one kubeadm configuration object."""

    group: str | None = Field(None, description='API group, e.g. "kubeadm.k8s.io".')
    version: str = Field(description='API version, e.g. "v1beta3".')
    kind: str = Field(description='Object kind, e.g. "ClusterConfiguration".')
    patch: str = Field(description="The patch: a YAML or JSON list of operations.")


class KindNodeDoc(_Doc):
    """One node of a kind.x-k8s.io/v1alpha4 cluster."""

    role: Literal["control-plane", "worker"] | None = Field(
        None, description="Default control-plane."
    )
    image: str | None = Field(None, description="Node image; default nestkube's node image.")
    labels: dict[str, str] | None = Field(None, description="Kubernetes labels for the node.")
    extra_mounts: list[MountDoc] | None = Field(None, alias="extraMounts")
    extra_port_mappings: list[PortMappingDoc] | None = Field(None, alias="extraPortMappings")
    kubeadm_config_patches: list[str] | None = Field(
        None,
        alias="kubeadmConfigPatches",
        description="Strategic-merge patches (YAML strings) for this node's kubeadm config.",
    )
    kubeadm_config_patches_json6902: list[PatchJSON6902Doc] | None = Field(
        None, alias="kubeadmConfigPatchesJSON6902"
    )


class NestkubeNodeDoc(KindNodeDoc):
    """One node of a nestkube.io/v1alpha1 cluster: a kind node plus its container runtime."""

    runtime: Literal["containerd", "cri-o"] | None = Field(
        None, description="Container runtime in the node. Only containerd is available."
    )


class NetworkingDoc(_Doc):
    """Cluster networking."""

    ip_family: IPFamily | None = Field(
        None,
        alias="ipFamily",
        description="Default ipv4. ipv6 and dual are not supported yet and are rejected.",
    )
    api_server_address: str | None = Field(
        None,
        alias="apiServerAddress",
        description='Host address the API server is published on. Default "127.0.0.1" '
        '("::1" for ipv6).',
    )
    api_server_port: int | None = Field(
        None,
        alias="apiServerPort",
        json_schema_extra=_port_range(-1),
        description="Host port for the API server. 0, -1 or unset: a random free port.",
    )
    pod_subnet: str | None = Field(
        None,
        alias="podSubnet",
        description='Default "10.244.0.0/16" (ipv6 "fd00:10:244::/56"; dual: both, '
        "comma-separated).",
    )
    service_subnet: str | None = Field(
        None,
        alias="serviceSubnet",
        description='Default "10.96.0.0/16" (ipv6 "fd00:10:96::/112"; dual: both, '
        "comma-separated).",
    )
    disable_default_cni: bool | None = Field(
        None, alias="disableDefaultCNI", description="Do not install the default CNI."
    )
    kube_proxy_mode: KubeProxyMode | None = Field(
        None, alias="kubeProxyMode", description="Default iptables."
    )
    dns_search: list[str] | None = Field(
        None,
        alias="dnsSearch",
        description="DNS search domains in the nodes' resolv.conf; unset: the engine's "
        "default (the host's), []: none.",
    )


class ImageBuildDoc(_Doc):
    """Not supported yet (rejected): how to build the node image (nestkube only)."""

    kubernetes_version: str | None = Field(
        None, alias="kubernetesVersion", description='A release such as "v1.31.2".'
    )
    kubernetes_binaries: str | None = Field(
        None,
        alias="kubernetesBinaries",
        description="Directory of prebuilt Kubernetes binaries (kubelet, kubeadm, kubectl, ...).",
    )
    kubernetes_source: str | None = Field(
        None, alias="kubernetesSource", description="A Kubernetes source tree to build."
    )
    base_image: str | None = Field(
        None, alias="baseImage", description="Base image to build on; default nestkube's."
    )


class UlimitsDoc(_Doc):
    """Resource limits for node containers (nestkube only). Unset: just below the host's."""

    nofile: int | None = Field(None, json_schema_extra={"minimum": 1})
    nproc: int | None = Field(None, json_schema_extra={"minimum": 1})


class ProxyDoc(_Doc):
    """HTTP proxy for the nodes' runtime and kubelet (nestkube only). Unset keys come from
    the environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY, either case)."""

    http_proxy: str | None = Field(None, alias="httpProxy")
    https_proxy: str | None = Field(None, alias="httpsProxy")
    no_proxy: str | None = Field(
        None,
        alias="noProxy",
        description="Comma-separated; the cluster's subnets, node names and addresses are added.",
    )


class _ClusterDocBase(_Doc):
    api_version: str = Field(alias="apiVersion")
    kind: Literal["Cluster"]
    name: str | None = Field(
        None, description='Cluster name; default "nestkube". Lowercase letters, digits, "-".'
    )
    networking: NetworkingDoc | None = None
    feature_gates: dict[str, bool] | None = Field(
        None, alias="featureGates", description="Kubernetes feature gates for all components."
    )
    runtime_config: dict[str, str] | None = Field(
        None, alias="runtimeConfig", description="kube-apiserver --runtime-config entries."
    )
    kubeadm_config_patches: list[str] | None = Field(
        None,
        alias="kubeadmConfigPatches",
        description="Strategic-merge patches (YAML strings) for every node's kubeadm config.",
    )
    kubeadm_config_patches_json6902: list[PatchJSON6902Doc] | None = Field(
        None, alias="kubeadmConfigPatchesJSON6902"
    )
    containerd_config_patches: list[str] | None = Field(
        None,
        alias="containerdConfigPatches",
        description="TOML merged into every node's containerd config.",
    )
    containerd_config_patches_json6902: list[str] | None = Field(
        None,
        alias="containerdConfigPatchesJSON6902",
        description="RFC 6902 patches (YAML or JSON strings) for containerd's config.",
    )


class KindClusterDoc(_ClusterDocBase):
    """A kind.x-k8s.io/v1alpha4 Cluster document, exactly as kind reads it."""

    api_version: Literal["kind.x-k8s.io/v1alpha4"] = Field(alias="apiVersion")
    nodes: list[KindNodeDoc] | None = Field(None, description="Default: one control-plane node.")


class NestkubeClusterDoc(_ClusterDocBase):
    """A nestkube.io/v1alpha1 Cluster document: every kind key plus nestkube's own."""

    model_config = ConfigDict(title="nestkube.io/v1alpha1 Cluster")

    api_version: Literal["nestkube.io/v1alpha1"] = Field(alias="apiVersion")
    nodes: list[NestkubeNodeDoc] | None = Field(
        None, description="Default: one control-plane node."
    )
    provider: ProviderChoice | None = Field(
        None, description="Container engine; unset picks the first one found."
    )
    rootless: bool | None = Field(
        None, description="Require a rootless (true) or rootful (false) engine; unset: either."
    )
    image_build: ImageBuildDoc | None = Field(None, alias="imageBuild")
    restrict_oom_score_adj: bool | None = Field(
        None,
        alias="restrictOOMScoreAdj",
        description="Keep node processes from lowering oom_score_adj; unset: when the host "
        "forbids it.",
    )
    ulimits: UlimitsDoc | None = None
    drop_capabilities: list[str] | None = Field(
        None,
        alias="dropCapabilities",
        description="Not supported yet: a non-empty list is rejected (privileged node "
        "containers get every capability whatever --cap-drop says).",
    )
    default_storage_class: bool | None = Field(
        None,
        alias="defaultStorageClass",
        description='Install the local-path provisioner as the default StorageClass "standard" '
        "(default true).",
    )
    metrics_server: bool | None = Field(
        None,
        alias="metricsServer",
        description="Install metrics-server so `kubectl top` answers (default false); the "
        "kubelets then get serving certificates the cluster CA signs, which it verifies.",
    )
    load_balancer_services: bool | None = Field(
        None,
        alias="loadBalancerServices",
        description="Give each `type: LoadBalancer` Service an address on the cluster's "
        "network (MetalLB; default true); false leaves them pending and installs nothing.",
    )
    proxy: ProxyDoc | None = None
    registries: list[str] | None = Field(
        None,
        description="nestkube registries (`nestkube registry create NAME`) the nodes pull "
        "from: each joins the cluster's network and its host name (localhost:5001) works in "
        "pods.",
    )
    registry_mirrors: dict[str, str] | None = Field(
        None,
        alias="registryMirrors",
        description="Registry name (docker.io, registry.k8s.io, localhost:5001) -> the URL "
        "nodes pull its images through first (a mirror or a pull-through cache).",
    )
    dns_addon: bool | None = Field(
        None,
        alias="dnsAddon",
        description="Run CoreDNS (default true). false: pods get nameserver 127.0.0.1, so "
        "every lookup fails inside the pod and none leaves it.",
    )
