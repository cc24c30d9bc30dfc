"""A cluster made from a kind v1alpha4 config file, on real rootful Podman with the default
Kubernetes release.

One file, written as a user would write it, exercises every per-node and cluster-wide knob that
changes something observable: a node label, a host port mapped to a NodePort, a host directory
mounted into a node and read by a hostPath pod, a kubelet setting patched through kubeadm, and
a containerd setting patched in TOML. `create cluster --dry-run` (from the file and from stdin)
and a config with a typo are checked to create nothing.
"""

from __future__ import annotations

import http.client
import secrets
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import WORKLOAD_IMAGE, Kubectl, engine_leftovers, import_into_nodes, nestkube_cli

from nestkube import kubeconfig
from nestkube.images.node_image import NodeImage
from nestkube.kit.kubernetes import KubernetesBinaries
from nestkube.kit.releases import DEFAULT_KUBERNETES_VERSION
from nestkube.providers.base import Provider

NAME = "e2e-config"
CONTROL_PLANE = f"{NAME}-control-plane"
WORKER = f"{NAME}-worker"
NODE_PORT = 30080
MOUNT_IN_NODE = "/mnt/host-data"
NOTHING: dict[str, list[str]] = {"containers": [], "volumes": [], "networks": []}

# As a user would write it: kind's format, a relative hostPath next to the file, comments.
CLUSTER_YAML = """\
# A kind config; nestkube reads it unchanged.
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
name: {name}
kubeadmConfigPatches:
- |
  kind: KubeletConfiguration
  maxPods: 42
containerdConfigPatches:
- |-
  [plugins."io.containerd.grpc.v1.cri"]
    max_container_log_line_size = 12345
nodes:
- role: control-plane
- role: worker
  labels:
    tier: edge
  extraMounts:
  - hostPath: ./data          # relative to this file
    containerPath: {mount}
  extraPortMappings:
  - containerPort: {node_port}
    hostPort: {host_port}
    listenAddress: "127.0.0.1"
"""


def pick_free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(
    *args: str, input: str | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [nestkube_cli(), *args],
        input=input,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass(frozen=True)
class UserFiles:
    """The directory a user would work in: the config, the data to mount, a kubeconfig path."""

    directory: Path
    config: Path
    text: str
    data: Path
    token: str
    host_port: int
    kubeconfig: Path


@pytest.fixture(scope="module")
def user_files(tmp_path_factory: pytest.TempPathFactory) -> UserFiles:
    directory = tmp_path_factory.mktemp("config-e2e")
    data = directory / "data"
    data.mkdir()
    token = secrets.token_hex(16)
    (data / "token.txt").write_text(token + "\n")
    host_port = pick_free_port()
    text = CLUSTER_YAML.format(
        name=NAME, mount=MOUNT_IN_NODE, node_port=NODE_PORT, host_port=host_port
    )
    config = directory / "cluster.yaml"
    config.write_text(text)
    kube = directory / "kube" / "config"
    # A run that was killed may have left the cluster behind; start from nothing.
    cli("delete", "cluster", "--name", NAME, "--kubeconfig", str(kube), "--provider", "podman")
    assert engine_leftovers("podman", NAME) == NOTHING
    return UserFiles(directory, config, text, data, token, host_port, kube)


@dataclass(frozen=True)
class ConfigCluster:
    files: UserFiles
    kubectl: Kubectl
    create_seconds: float


@pytest.fixture(scope="module")
def cluster(
    user_files: UserFiles,
    podman: Provider,
    podman_node_image: NodeImage,
    kit: KubernetesBinaries,
    workload: Path,
) -> Iterator[ConfigCluster]:
    kube = str(user_files.kubeconfig)
    start = time.monotonic()
    created = cli(
        "create",
        "cluster",
        "--config",
        str(user_files.config),
        "--kubeconfig",
        kube,
        "--provider",
        "podman",
        timeout=900,
    )
    create_seconds = time.monotonic() - start
    try:
        assert created.returncode == 0, f"create failed:\n{created.stderr}"
        print(f"\ncreate cluster --config took {create_seconds:.0f}s")
        import_into_nodes(podman, [CONTROL_PLANE, WORKER], workload)
        kubectl = Kubectl(str(kit.path("kubectl")), user_files.kubeconfig, f"nestkube-{NAME}")
        yield ConfigCluster(user_files, kubectl, create_seconds)
    finally:
        deleted = cli("delete", "cluster", "--name", NAME, "--kubeconfig", kube)
        assert deleted.returncode == 0, deleted.stderr
        assert engine_leftovers("podman", NAME) == NOTHING
        assert not kubeconfig.has_entries(NAME, kube)


def dry_run_plan(stdout: str) -> dict[str, Any]:
    plan = yaml.safe_load(stdout)
    assert isinstance(plan, dict), stdout
    return plan


def check_plan(plan: dict[str, Any], files: UserFiles) -> None:
    assert plan["provider"] == "podman"
    assert plan["kubernetesVersion"] == DEFAULT_KUBERNETES_VERSION
    nodes = {n["name"]: n for n in plan["nodes"]}
    assert list(nodes) == [CONTROL_PLANE, WORKER]
    assert [n["role"] for n in plan["nodes"]] == ["control-plane", "worker"]

    worker_run: list[str] = nodes[WORKER]["run"]
    assert worker_run[:2] == [podman_binary(plan), "run"]
    mount = f"{files.data}:{MOUNT_IN_NODE}:rw"
    assert mount in worker_run, worker_run
    assert worker_run[worker_run.index(mount) - 1] == "--volume"
    publish = f"127.0.0.1:{files.host_port}:{NODE_PORT}/tcp"
    assert publish in worker_run, worker_run
    assert worker_run[worker_run.index(publish) - 1] == "--publish"
    assert worker_run[-1] == nodes[WORKER]["image"]
    # The control plane gets neither the mount nor the port, only the API server's port.
    cp_run: list[str] = nodes[CONTROL_PLANE]["run"]
    assert mount not in cp_run and publish not in cp_run
    assert any(a.endswith(":6443/tcp") for a in cp_run), cp_run

    init = list(yaml.safe_load_all(nodes[CONTROL_PLANE]["kubeadmConfig"]))
    kubelet = [d for d in init if d["kind"] == "KubeletConfiguration"]
    assert len(kubelet) == 1 and kubelet[0]["maxPods"] == 42, init
    join = list(yaml.safe_load_all(nodes[WORKER]["kubeadmConfig"]))
    assert join[0]["kind"] == "JoinConfiguration"
    # v1beta4 (the default release) lists extra args as name/value pairs; v1beta3 as a map.
    extra = join[0]["nodeRegistration"]["kubeletExtraArgs"]
    args = {a["name"]: a["value"] for a in extra} if isinstance(extra, list) else extra
    assert "tier=edge" in args["node-labels"]

    patches = plan["config"]["containerdConfigPatches"]
    assert any("max_container_log_line_size = 12345" in p for p in patches), patches


def podman_binary(plan: dict[str, Any]) -> str:
    run: list[str] = plan["nodes"][0]["run"]
    assert Path(run[0]).name == "podman", run
    return run[0]


def assert_nothing_created(files: UserFiles) -> None:
    assert engine_leftovers("podman", NAME) == NOTHING
    assert not files.kubeconfig.exists()


# --- before the cluster exists: dry runs and a broken file -------------------------------------
def test_dry_run_from_file_prints_the_plan_and_creates_nothing(
    user_files: UserFiles, podman_node_image: NodeImage
) -> None:
    assert_nothing_created(user_files)
    result = cli(
        "create",
        "cluster",
        "--config",
        str(user_files.config),
        "--dry-run",
        "--kubeconfig",
        str(user_files.kubeconfig),
        "--provider",
        "podman",
    )
    assert result.returncode == 0, result.stderr
    check_plan(dry_run_plan(result.stdout), user_files)
    assert "maxPods: 42" in dry_run_plan(result.stdout)["nodes"][0]["kubeadmConfig"]
    assert_nothing_created(user_files)


def test_dry_run_from_stdin(user_files: UserFiles, podman_node_image: NodeImage) -> None:
    # From stdin, a relative hostPath resolves against the current directory.
    from_stdin = cli(
        "create",
        "cluster",
        "--config",
        "-",
        "--dry-run",
        "--provider",
        "podman",
        input=user_files.text,
        cwd=user_files.directory,
    )
    assert from_stdin.returncode == 0, from_stdin.stderr
    plan = dry_run_plan(from_stdin.stdout)
    check_plan(plan, user_files)
    from_file = cli(
        "create", "cluster", "--config", str(user_files.config), "--dry-run", "--provider", "podman"
    )
    assert from_file.returncode == 0, from_file.stderr
    assert plan["config"] == dry_run_plan(from_file.stdout)["config"]
    assert_nothing_created(user_files)


@pytest.mark.parametrize(
    ("typo", "fixed", "key_path"),
    [
        ("  extraMounts:", "  extraMount:", "nodes[1].extraMount"),
        ("    hostPort:", "    hostPrt:", "nodes[1].extraPortMappings[0].hostPrt"),
        ("containerdConfigPatches:", "containerdConfigPatch:", "containerdConfigPatch"),
    ],
    ids=["node-key", "port-mapping-key", "top-level-key"],
)
def test_unknown_key_is_a_one_line_error_and_creates_nothing(
    user_files: UserFiles, typo: str, fixed: str, key_path: str
) -> None:
    assert typo in user_files.text
    bad = user_files.directory / "typo.yaml"
    bad.write_text(user_files.text.replace(typo, fixed, 1))
    result = cli(
        "create",
        "cluster",
        "--config",
        str(bad),
        "--kubeconfig",
        str(user_files.kubeconfig),
        "--provider",
        "podman",
    )
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    unknown = key_path.rsplit(".", 1)[-1]
    assert lines[0].startswith(f'ERROR: {bad}: {key_path}: unknown key "{unknown}"'), lines
    assert result.stdout == ""
    assert_nothing_created(user_files)


# --- the cluster ---------------------------------------------------------------------------------
def test_nodes_and_worker_label(cluster: ConfigCluster) -> None:
    kubectl = cluster.kubectl
    names = sorted(n["metadata"]["name"] for n in kubectl.json("get", "nodes")["items"])
    assert names == [CONTROL_PLANE, WORKER]
    edge = kubectl("get", "node", "-l", "tier=edge", "-o", "name").stdout.split()
    assert edge == [f"node/{WORKER}"]


def test_kubeadm_patch_sets_max_pods_on_every_node(cluster: ConfigCluster) -> None:
    for node in cluster.kubectl.json("get", "nodes")["items"]:
        status = node["status"]
        name = node["metadata"]["name"]
        assert status["capacity"]["pods"] == "42", (name, status["capacity"])
        assert status["allocatable"]["pods"] == "42", (name, status["allocatable"])


def test_containerd_patch_is_in_the_config_and_containerd_runs(
    cluster: ConfigCluster, podman: Provider
) -> None:
    for node in (CONTROL_PLANE, WORKER):
        config = podman.exec(node, ["cat", "/etc/containerd/config.toml"]).stdout
        assert "max_container_log_line_size = 12345" in config, config
        assert '[plugins."io.containerd.grpc.v1.cri"]' in config, config
        # The rest of nestkube's config survives the merge.
        assert "restrict_oom_score_adj" in config and "SystemdCgroup" in config, config
        active = podman.exec(node, ["systemctl", "is-active", "containerd"], check=False)
        assert active.stdout.strip() == "active", active
        # containerd itself reads the file and knows the setting.
        dump = podman.exec(node, ["containerd", "config", "dump"]).stdout
        assert "max_container_log_line_size = 12345" in dump, dump
        # And it answers on its socket.
        assert podman.exec(node, ["ctr", "version"]).stdout.count("Version:") >= 2


def pod_on_edge(name: str, command: str, extra: str = "") -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{role: {name}}}}}
spec:
  nodeSelector: {{tier: edge}}
  containers:
  - name: main
    image: {WORKLOAD_IMAGE}
    imagePullPolicy: Never
    command: ["sh", "-c", "{command}"]
    readinessProbe: {{exec: {{command: ["true"]}}, periodSeconds: 1}}
{extra}"""


def test_extra_mount_is_read_by_a_host_path_pod(cluster: ConfigCluster) -> None:
    kubectl = cluster.kubectl
    reply = secrets.token_hex(8)
    mounts = f"""\
    volumeMounts: [{{name: host-data, mountPath: /data}}]
  volumes:
  - name: host-data
    hostPath: {{path: {MOUNT_IN_NODE}, type: Directory}}
"""
    command = f"cat /data/token.txt && echo {reply} > /data/from-pod.txt && exec sleep 3600"
    kubectl.apply(pod_on_edge("reader", command, mounts))
    kubectl.wait_pods_ready("role=reader")
    pod = kubectl.json("get", "pod", "reader")
    assert pod["spec"]["nodeName"] == WORKER
    logs = kubectl("logs", "reader").stdout
    assert logs.strip() == cluster.files.token
    shown = kubectl("exec", "reader", "--", "cat", "/data/token.txt").stdout
    assert shown.strip() == cluster.files.token
    # The mount is read-write: what the pod writes lands in the host directory.
    assert (cluster.files.data / "from-pod.txt").read_text().strip() == reply


def http_get(url: str, deadline: float) -> str:
    last: object = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return str(response.read().decode())
        except (OSError, http.client.HTTPException) as exc:
            last = exc
            time.sleep(1)
    raise AssertionError(f"GET {url} failed for 60 s: {last!r}")


def test_extra_port_mapping_reaches_a_node_port_service(
    cluster: ConfigCluster, podman: Provider
) -> None:
    kubectl = cluster.kubectl
    content = f"edge-{secrets.token_hex(8)}"
    serve = f"echo {content} > /www/index.html && exec httpd -f -p 8080 -h /www"
    kubectl.apply(pod_on_edge("edge-web", serve))
    kubectl.apply(
        f"""
apiVersion: v1
kind: Service
metadata: {{name: edge-web}}
spec:
  type: NodePort
  selector: {{role: edge-web}}
  ports: [{{port: 80, targetPort: 8080, nodePort: {NODE_PORT}}}]
"""
    )
    kubectl.wait_pods_ready("role=edge-web")
    assert kubectl.json("get", "pod", "edge-web")["spec"]["nodeName"] == WORKER
    published = subprocess.run(
        [podman.info.binary, "port", WORKER],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"{NODE_PORT}/tcp -> 127.0.0.1:{cluster.files.host_port}" in published, published
    body = http_get(f"http://127.0.0.1:{cluster.files.host_port}/", time.monotonic() + 60)
    assert body.strip() == content
