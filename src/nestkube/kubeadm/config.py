"""Render the kubeadm configuration for one node, shaped for the kubeadm API its version speaks.

Three bands (see :func:`~nestkube.kubeadm.version.kubeadm_api_version`):

* v1beta2 (< 1.23): extraArgs are maps, ``dns.type`` and ``useHyperKubeImage`` still exist,
  there is no ``skipPhases`` (phases go on the command line, see :func:`skip_phases_args`) and
  the CRI socket is a plain path.
* v1beta3 (1.23 to 1.35): ``dns.type`` and ``useHyperKubeImage`` are gone, ``skipPhases``
  exists, the CRI socket is a URL.
* v1beta4 (>= 1.36): every extraArgs (and ``kubeletExtraArgs``) is a list of
  ``{name, value}``, and waits live under ``timeouts`` instead of
  ``apiServer.timeoutForControlPlane`` and ``discovery.timeout``.

Everything here is pure: it returns YAML text and never talks to an engine.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from nestkube.errors import ConfigError
from nestkube.kubeadm.version import (
    KUBEADM_V1BETA2,
    KUBEADM_V1BETA4,
    KubeVersion,
    as_version,
    kubeadm_api_version,
)

CONTAINERD_SOCKET = "/run/containerd/containerd.sock"
CONTAINERD_ENDPOINT = "unix://" + CONTAINERD_SOCKET
KUBELET_API = "kubelet.config.k8s.io/v1beta1"
KUBE_PROXY_API = "kubeproxy.config.k8s.io/v1alpha1"
API_SERVER_PORT = 6443
DISCOVERY_FILE = "/etc/nestkube/discovery.conf"
# Where kubeadm init leaves the cluster CA on the control plane.
CLUSTER_CA = "/etc/kubernetes/pki/ca.crt"

CGROUP_DRIVERS = ("cgroupfs", "systemd")
KUBE_PROXY_MODES = ("iptables", "ipvs", "nftables")

Doc = dict[str, Any]


@dataclass(frozen=True)
class KubeadmParams:
    """What one node's kubeadm configuration depends on."""

    kubernetes_version: str
    cluster_name: str
    node_name: str
    # The node's address on the engine network, advertised by the API server and the kubelet.
    node_ip: str
    # "<cluster>-control-plane:6443": a name every node resolves on the engine network.
    control_plane_endpoint: str
    api_server_cert_sans: tuple[str, ...]
    pod_subnet: str = "10.244.0.0/16"
    service_subnet: str = "10.96.0.0/16"
    dns_domain: str = "cluster.local"
    cgroup_driver: str = "cgroupfs"
    rootless: bool = False
    kube_proxy_mode: str = "iptables"
    # Applied to every component (API server, controller manager, scheduler, kubelet,
    # kube-proxy), as users expect a cluster-wide gate.
    feature_gates: Mapping[str, bool] = field(default_factory=dict)
    runtime_config: Mapping[str, str] = field(default_factory=dict)
    node_labels: Mapping[str, str] = field(default_factory=dict)
    token: str = "abcdef.0123456789abcdef"
    # False renders a worker join; True an init, or a control-plane join.
    control_plane: bool = True
    # A control plane that runs workloads too (no workers): registered without kubeadm's
    # NoSchedule taint, so nothing has to remove it after init.
    untainted: bool = False
    # kubeadm refuses "all" inside a config file; nestkube skips the preflight phase instead.
    ignore_preflight_errors: tuple[str, ...] = ()
    # Carried in the config from v1beta3 on; for v1beta2 see skip_phases_args().
    skip_phases: tuple[str, ...] = ()
    # The engine name ("podman", ...) for the kubelet's provider ID; None leaves it unset.
    provider: str | None = None
    # Encrypts (init) and decrypts (control-plane join) the certificates `init --upload-certs`
    # shares through the kubeadm-certs Secret.
    certificate_key: str | None = None
    # Twice kubeadm's 4m: on a slow host (a nested or emulated VM, measured in nestkube's
    # cgroup-v2 test guest under TCG) the kubelet took over 5 minutes from its start to a
    # serving API server. Only a limit: a fast host waits no longer.
    control_plane_timeout: str = "8m0s"
    discovery_timeout: str = "5m0s"
    # kubeadm's limit for one API call, 1m by default, also bounds its first call, which waits
    # for the API server the kubelet is still starting, so it takes the same limit (v1beta4;
    # older bands have no such field).
    api_call_timeout: str = "8m0s"
    # A kubeconfig on the joining node holding the cluster's CA and API server: kubeadm's
    # file discovery. It needs only the cluster-info ConfigMap to exist, where token
    # discovery waits for the controller manager to sign it (and retries every 5 s).
    discovery_file: str = DISCOVERY_FILE
    # The nameservers the kubelet gives ClusterFirst pods; None keeps kubeadm's default, the
    # DNS Service address (only right when the DNS addon runs).
    cluster_dns: tuple[str, ...] | None = None
    # The tag of the etcd image the node holds when it is not kubeadm's own (Debian's etcd).
    etcd_image_tag: str | None = None
    # False when nestkube plans each node's pod CIDR itself (see kubeadm.pod_cidrs): the
    # controller manager then hands out none, so it cannot disagree with the plan.
    allocate_node_cidrs: bool = True
    # With one control plane there is nothing to elect, and the leases the controller
    # manager and scheduler renew every 2 s with a 5 s limit are what kills them on a slow
    # host: in the cgroup-v2 test guest under TCG both exited on "leaderelection lost" again
    # and again, so no Deployment got a pod. Several control planes keep kubeadm's election.
    leader_election: bool = True
    # Kubelets from 1.35 on refuse cgroup v1 unless told otherwise (failCgroupV1).
    host_cgroup_v1: bool = False
    # The node runtime's CRI socket: containerd's, or CRI-O's on a CRI-O node image.
    cri_socket: str = CONTAINERD_SOCKET
    # The resolv.conf the kubelet gives pods with dnsPolicy Default (CoreDNS among them);
    # None keeps the kubelet's default, the node's /etc/resolv.conf.
    resolv_conf: str | None = None
    # Serving certificates the cluster CA signs (serverTLSBootstrap): each kubelet asks for
    # one in a CSR, which create approves; what metrics-server verifies the kubelets against.
    kubelet_serving_certificates: bool = False

    @property
    def version(self) -> KubeVersion:
        return as_version(self.kubernetes_version)

    @property
    def provider_id(self) -> str | None:
        if self.provider is None:
            return None
        return f"nestkube://{self.provider}/{self.cluster_name}/{self.node_name}"


def render_init_config(p: KubeadmParams) -> str:
    """InitConfiguration, ClusterConfiguration, KubeletConfiguration, KubeProxyConfiguration."""
    _validate(p)
    docs = [
        init_configuration(p),
        cluster_configuration(p),
        kubelet_configuration(p),
        kube_proxy_configuration(p),
    ]
    return dump_documents(docs)


def render_discovery_kubeconfig(server: str, ca_pem: str) -> str:
    """The kubeconfig a joining node discovers the cluster from: the API server every node
    reaches (``host:port``) and the cluster CA, no credentials (the join authenticates with
    ``tlsBootstrapToken``)."""
    if not ca_pem.strip().startswith("-----BEGIN CERTIFICATE-----"):
        raise ConfigError("the cluster CA read from the control plane is no PEM certificate")
    ca = base64.b64encode(ca_pem.encode()).decode()
    # An unnamed cluster and nothing else, like kubeadm's own cluster-info: kubeadm's
    # discovery takes the cluster named "" before looking at contexts (every release).
    doc: Doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "",
                "cluster": {"server": f"https://{server}", "certificate-authority-data": ca},
            }
        ],
        "contexts": [],
        "current-context": "",
        "users": [],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def render_join_config(p: KubeadmParams) -> str:
    """A JoinConfiguration; with ``controlPlane`` when ``p.control_plane`` is set."""
    _validate(p)
    return dump_documents([join_configuration(p)])


def skip_phases_args(version: str | KubeVersion, phases: tuple[str, ...] | list[str]) -> list[str]:
    """Command-line arguments that skip ``phases`` where the config cannot carry them.

    v1beta2 has no ``skipPhases`` field, so for those versions the phases must go on the
    ``kubeadm init``/``join`` command line (kubeadm accepts ``--skip-phases`` beside
    ``--config``). From v1beta3 on :class:`KubeadmParams.skip_phases` carries them and this
    returns ``[]``.
    """
    if not phases or kubeadm_api_version(version) != KUBEADM_V1BETA2:
        return []
    return ["--skip-phases=" + ",".join(phases)]


def dump_documents(docs: list[Doc]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False)


def init_configuration(p: KubeadmParams) -> Doc:
    api = kubeadm_api_version(p.version)
    doc: Doc = {
        "apiVersion": api,
        "kind": "InitConfiguration",
        "bootstrapTokens": [{"token": p.token}],
        "localAPIEndpoint": {"advertiseAddress": p.node_ip, "bindPort": API_SERVER_PORT},
        "nodeRegistration": node_registration(p),
    }
    if p.certificate_key is not None:
        # What `init --upload-certs` encrypts the shared certificates with.
        doc["certificateKey"] = p.certificate_key
    if api != KUBEADM_V1BETA2 and p.skip_phases:
        doc["skipPhases"] = list(p.skip_phases)
    if api == KUBEADM_V1BETA4:
        doc["timeouts"] = {
            "controlPlaneComponentHealthCheck": p.control_plane_timeout,
            "kubernetesAPICall": p.api_call_timeout,
        }
    return doc


def join_configuration(p: KubeadmParams) -> Doc:
    api = kubeadm_api_version(p.version)
    discovery: Doc = {
        # The CA comes from the file (see render_discovery_kubeconfig): it is trusted because
        # nestkube read it from the control plane itself, not from the network.
        "file": {"kubeConfigPath": p.discovery_file},
        "tlsBootstrapToken": p.token,
    }
    if api != KUBEADM_V1BETA4:
        discovery["timeout"] = p.discovery_timeout
    doc: Doc = {
        "apiVersion": api,
        "kind": "JoinConfiguration",
        "discovery": discovery,
        "nodeRegistration": node_registration(p),
    }
    if p.control_plane:
        control_plane: Doc = {
            "localAPIEndpoint": {"advertiseAddress": p.node_ip, "bindPort": API_SERVER_PORT}
        }
        if p.certificate_key is not None:
            control_plane["certificateKey"] = p.certificate_key
        doc["controlPlane"] = control_plane
    if api != KUBEADM_V1BETA2 and p.skip_phases:
        doc["skipPhases"] = list(p.skip_phases)
    if api == KUBEADM_V1BETA4:
        doc["timeouts"] = {
            "discovery": p.discovery_timeout,
            "kubernetesAPICall": p.api_call_timeout,
        }
    return doc


def node_registration(p: KubeadmParams) -> Doc:
    v = p.version
    api = kubeadm_api_version(v)
    kubelet_args: dict[str, str] = {"node-ip": p.node_ip}
    if p.node_labels:
        kubelet_args["node-labels"] = _join_pairs(p.node_labels)
    if p.provider_id is not None:
        kubelet_args["provider-id"] = p.provider_id
    if not v.at_least(1, 24):
        # Before 1.24 the kubelet still defaults to its built-in Docker shim.
        kubelet_args["container-runtime"] = "remote"
        kubelet_args["container-runtime-endpoint"] = cri_endpoint(p)
    elif not v.at_least(1, 27):
        # 1.24-1.26 only know the endpoint as a flag; 1.27 added containerRuntimeEndpoint
        # to the KubeletConfiguration, which kubelet_configuration() sets instead.
        kubelet_args["container-runtime-endpoint"] = cri_endpoint(p)
    registration: Doc = {
        "name": p.node_name,
        # kubeadm before v1beta3 expects a plain socket path and warns about URLs after.
        "criSocket": p.cri_socket if api == KUBEADM_V1BETA2 else cri_endpoint(p),
        "kubeletExtraArgs": _args(api, kubelet_args),
    }
    if p.untainted and p.control_plane:
        # An empty list, not an absent key: absent means kubeadm's default taint.
        registration["taints"] = []
    if p.ignore_preflight_errors:
        registration["ignorePreflightErrors"] = list(p.ignore_preflight_errors)
    return registration


def cri_endpoint(p: KubeadmParams) -> str:
    return "unix://" + p.cri_socket


def cluster_configuration(p: KubeadmParams) -> Doc:
    v = p.version
    api = kubeadm_api_version(v)
    gates = _join_gates(p.feature_gates)

    api_server_args: dict[str, str] = {}
    if p.runtime_config:
        # Kept in the caller's order: later entries override earlier ones ("api/all=false,
        # apps/v1=true"), so sorting could change the meaning.
        api_server_args["runtime-config"] = _join_pairs(p.runtime_config, sort=False)
    if gates:
        api_server_args["feature-gates"] = gates
    # Gives single-host clusters working PersistentVolumes without a storage driver.
    controller_manager_args = {"enable-hostpath-provisioner": "true"}
    if not p.allocate_node_cidrs:
        controller_manager_args["allocate-node-cidrs"] = "false"
    scheduler_args: dict[str, str] = {}
    if gates:
        controller_manager_args["feature-gates"] = gates
        scheduler_args["feature-gates"] = gates
    if not p.leader_election:
        controller_manager_args["leader-elect"] = "false"
        scheduler_args["leader-elect"] = "false"

    api_server: Doc = {"certSANs": list(p.api_server_cert_sans)}
    if api_server_args:
        api_server["extraArgs"] = _args(api, api_server_args)
    if api != KUBEADM_V1BETA4:
        api_server["timeoutForControlPlane"] = p.control_plane_timeout
    controller_manager: Doc = {"extraArgs": _args(api, controller_manager_args)}
    local_etcd: Doc = {"dataDir": "/var/lib/etcd"}
    if p.etcd_image_tag:
        local_etcd["imageTag"] = p.etcd_image_tag

    doc: Doc = {
        "apiVersion": api,
        "kind": "ClusterConfiguration",
        "clusterName": p.cluster_name,
        "kubernetesVersion": str(v),
        "controlPlaneEndpoint": p.control_plane_endpoint,
        # The node image preloads the images under exactly the names kubeadm asks for, and
        # kubeadm switched its default registry in 1.25.
        "imageRepository": "registry.k8s.io" if v.at_least(1, 25) else "k8s.gcr.io",
        "networking": {
            "podSubnet": p.pod_subnet,
            "serviceSubnet": p.service_subnet,
            "dnsDomain": p.dns_domain,
        },
        "apiServer": api_server,
        "controllerManager": controller_manager,
        "etcd": {"local": local_etcd},
    }
    if scheduler_args:
        doc["scheduler"] = {"extraArgs": _args(api, scheduler_args)}
    if api == KUBEADM_V1BETA2:
        doc["dns"] = {"type": "CoreDNS"}
        doc["useHyperKubeImage"] = False
    return doc


def kubelet_configuration(p: KubeadmParams) -> Doc:
    v = p.version
    gates: dict[str, bool] = {}
    if p.rootless and v.at_least(1, 22):
        # Lets the kubelet treat the EPERMs of a user namespace (sysctls, oom_score_adj,
        # /dev/kmsg) as warnings; the gate appeared in 1.22.
        gates["KubeletInUserNamespace"] = True
    gates.update(p.feature_gates)
    doc: Doc = {
        "apiVersion": KUBELET_API,
        "kind": "KubeletConfiguration",
        "cgroupDriver": p.cgroup_driver,
        # Node containers cannot turn off the host's swap.
        "failSwapOn": False,
        # Node containers share the host's disk, which the user fills with other things;
        # evicting pods (or deleting preloaded images that cannot be pulled again) because
        # the host is full would only break the cluster.
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "0%",
            "nodefs.inodesFree": "0%",
            "imagefs.available": "0%",
        },
        "imageGCHighThresholdPercent": 100,
    }
    if gates:
        doc["featureGates"] = gates
    if v.at_least(1, 27):
        doc["containerRuntimeEndpoint"] = cri_endpoint(p)
    if p.resolv_conf is not None:
        doc["resolvConf"] = p.resolv_conf
    if p.host_cgroup_v1 and v.at_least(1, 31):
        # The field appeared in 1.31 and defaults to true from 1.35: cgroup v1 is deprecated
        # upstream (the doctor says so), but hosts like this one still run it.
        doc["failCgroupV1"] = False
    if p.cluster_dns is not None:
        doc["clusterDNS"] = list(p.cluster_dns)
    if p.kubelet_serving_certificates:
        doc["serverTLSBootstrap"] = True
    return doc


def kube_proxy_configuration(p: KubeadmParams) -> Doc:
    v = p.version
    # kube-proxy would raise nf_conntrack_max, a host-wide sysctl a container cannot write;
    # 0 leaves it alone.
    conntrack: Doc = {"maxPerCore": 0}
    if p.rootless and v.at_least(1, 22):
        # In a user namespace even the per-namespace conntrack timeouts are read-only; 0s
        # tells kube-proxy not to touch them.
        conntrack["tcpEstablishedTimeout"] = "0s"
        conntrack["tcpCloseWaitTimeout"] = "0s"
    doc: Doc = {
        "apiVersion": KUBE_PROXY_API,
        "kind": "KubeProxyConfiguration",
        "mode": p.kube_proxy_mode,
        "clusterCIDR": p.pod_subnet,
        "conntrack": conntrack,
    }
    if p.feature_gates:
        doc["featureGates"] = dict(p.feature_gates)
    return doc


def _args(api: str, args: Mapping[str, str]) -> dict[str, str] | list[dict[str, str]]:
    if api == KUBEADM_V1BETA4:
        # v1beta4 made extraArgs ordered lists so a flag can repeat; sorted for stable output.
        return [{"name": k, "value": args[k]} for k in sorted(args)]
    return dict(args)


def _join_pairs(pairs: Mapping[str, object], *, sort: bool = True) -> str:
    keys = sorted(pairs) if sort else list(pairs)
    return ",".join(f"{k}={pairs[k]}" for k in keys)


def _join_gates(gates: Mapping[str, bool]) -> str:
    return ",".join(f"{k}={'true' if gates[k] else 'false'}" for k in sorted(gates))


def _validate(p: KubeadmParams) -> None:
    as_version(p.kubernetes_version)
    if p.cgroup_driver not in CGROUP_DRIVERS:
        raise ConfigError(
            f"unknown cgroup driver {p.cgroup_driver!r} "
            f"(expected one of {', '.join(CGROUP_DRIVERS)})"
        )
    if p.kube_proxy_mode not in KUBE_PROXY_MODES:
        raise ConfigError(
            f"unknown kube-proxy mode {p.kube_proxy_mode!r} "
            f"(expected one of {', '.join(KUBE_PROXY_MODES)})"
        )
    for name, subnet in (("pod subnet", p.pod_subnet), ("service subnet", p.service_subnet)):
        try:
            ipaddress.ip_network(subnet)
        except ValueError:
            raise ConfigError(f"{name} {subnet!r} is not a CIDR") from None
