"""Shared helpers for the end-to-end tests: real engines, real Kubernetes, no mocks."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

import nestkube
from nestkube import _exec
from nestkube.cache import cache_root, content_key, file_sha256
from nestkube.config import ClusterConfig, NodeConfig, default_config
from nestkube.kit.kubernetes import KubernetesBinaries
from nestkube.kit.toolchain import modules_toolchain
from nestkube.oci.archive import ImageSpec, Layer, write_image_archive
from nestkube.providers.base import LABEL_CLUSTER, Provider
from nestkube.status import Status
from nestkube.testing import temporary_cluster
from nestkube.testing.wheelhouse import build_wheelhouse, install_argv

BUSYBOX = Path("/bin/busybox")
WORKLOAD_IMAGE = "localhost/nestkube-test/busybox:1"
APPLETS = (
    "sh", "httpd", "wget", "cat", "echo", "sleep", "hostname", "ls", "ip", "nc", "true",
    "stat",
)  # fmt: skip


T = TypeVar("T")

FETCH_SOURCE = Path(__file__).with_name("fetch")


def fetch_binary() -> Path:
    """The in-pod client (tests/e2e/fetch), built statically once per source and Go version."""
    toolchain = modules_toolchain()
    sources = sorted((p.name, file_sha256(p)) for p in FETCH_SOURCE.iterdir() if p.is_file())
    out = cache_root() / "kit" / "e2e-fetch" / content_key([sources, toolchain.version]) / "fetch"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        _exec.run(
            [str(toolchain.go), "build", "-trimpath", "-ldflags=-s -w", "-o", str(tmp), "."],
            cwd=FETCH_SOURCE,
            env={**toolchain.env(), "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"},
            timeout=600,
            what="go build tests/e2e/fetch",
        )
        tmp.replace(out)
    return out


def workload_archive(dest: Path, tag: str = WORKLOAD_IMAGE) -> Path:
    """A tiny image made from Debian's static busybox (a shell, httpd, wget by IP) and the
    tests' own `fetch`, which resolves names and fetches URLs like an application would."""
    if not BUSYBOX.is_file():
        raise RuntimeError("/bin/busybox missing: apt-get install busybox-static")
    layer = (
        Layer()
        .add_file("/bin/busybox", BUSYBOX)
        .add_file("/bin/fetch", fetch_binary())
        .add_dir("/www")
        .add_dir("/tmp", 0o1777)
    )
    for applet in APPLETS:
        layer.add_symlink(f"/bin/{applet}", "busybox")
    write_image_archive(ImageSpec(tags=[tag], layers=[layer], cmd=["/bin/sh"]), dest)
    return dest


def import_into_nodes(provider: Provider, nodes: list[str], archive: Path) -> None:
    for node in nodes:
        with archive.open("rb") as fh:
            provider.exec_stream_in(node, ["ctr", "-n", "k8s.io", "images", "import", "-"], fh)


def kubectl_binary(binaries_dir: Path) -> str:
    return str(binaries_dir / "kubectl")


class Kubectl:
    """kubectl on the host, through the merged kubeconfig context, as a user would run it."""

    def __init__(self, binary: str, kubeconfig: Path, context: str) -> None:
        self.binary = binary
        self.kubeconfig = kubeconfig
        self.context = context

    def __call__(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        cmd = [self.binary, f"--kubeconfig={self.kubeconfig}", f"--context={self.context}", *args]
        proc = subprocess.run(
            cmd, input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed: {proc.stderr}{proc.stdout}")
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json").stdout)

    def apply(self, manifest: str) -> None:
        self("apply", "-f", "-", input=manifest)

    def wait_pods_ready(
        self, selector: str, timeout: int = 180, namespace: str = "default", count: int = 1
    ) -> None:
        """Until at least ``count`` pods match and every one that matches is Ready: `kubectl
        wait` alone returns as soon as the pods that exist are Ready, before a Deployment has
        made the rest."""
        deadline = time.monotonic() + timeout
        while True:
            proc = self(
                "-n",
                namespace,
                "wait",
                "--for=condition=Ready",
                "pod",
                "-l",
                selector,
                "--timeout=30s",
                check=False,
                timeout=60,
            )
            if proc.returncode == 0 and self.ready_pods(selector, namespace) >= count:
                return
            if time.monotonic() > deadline:
                pods = self("-n", namespace, "get", "pods", "-o", "wide", check=False).stdout
                events = self("get", "events", "--sort-by=.lastTimestamp", check=False).stdout
                raise AssertionError(f"pods {selector} not Ready:\n{pods}\n{events[-3000:]}")
            time.sleep(2)

    def ready_pods(self, selector: str, namespace: str = "default") -> int:
        """How many pods match, or 0 while any that matches is not Ready."""
        pods = self.json("-n", namespace, "get", "pods", "-l", selector)["items"]
        ready = [
            any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
            for conditions in (p.get("status", {}).get("conditions", []) for p in pods)
        ]
        return len(ready) if all(ready) else 0


def pinned_pod(name: str, node: str, command: str) -> str:
    """A workload pod labelled ``role: name`` on ``node``, running ``command``."""
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{role: {name}}}}}
spec:
  nodeName: {node}
  containers:
  - name: main
    image: {WORKLOAD_IMAGE}
    imagePullPolicy: Never
    command: ["sh", "-c", "{command}"]
    readinessProbe: {{exec: {{command: ["true"]}}, periodSeconds: 1}}
"""


def claim_manifest(claim: str) -> str:
    """A 16Mi ReadWriteOnce claim of the default StorageClass (none is named)."""
    return f"""
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: {claim}}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 16Mi}}}}
"""


def claim_pod(name: str, claim: str, *, write: bool = False, node: str | None = None) -> str:
    """A pod labelled ``role: name`` with ``claim`` at /data, Ready once /data/proof exists
    (it writes its host name there first when ``write``), on ``node`` if one is named: by a
    node selector, since a WaitForFirstConsumer claim is bound only once the scheduler
    picked a node (a pod with nodeName set never meets it)."""
    first = "hostname > /data/proof; " if write else ""
    pinned = f"\n  nodeSelector: {{kubernetes.io/hostname: {node}}}" if node else ""
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{role: {name}}}}}
spec:{pinned}
  containers:
  - name: main
    image: {WORKLOAD_IMAGE}
    imagePullPolicy: Never
    command: ["sh", "-c", "{first}exec sleep 3600"]
    readinessProbe: {{exec: {{command: ["cat", "/data/proof"]}}, periodSeconds: 1}}
    volumeMounts: [{{name: data, mountPath: /data}}]
  volumes:
  - name: data
    persistentVolumeClaim: {{claimName: {claim}}}
"""


def web_manifest(replicas: int, service: bool = True, name: str = "web") -> str:
    """Deployment ``name`` (busybox httpd answering its pod's name on 8080, pods labelled
    ``app: name``), and Service ``name`` on port 80 in front of it."""
    manifest = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: web
        image: {WORKLOAD_IMAGE}
        imagePullPolicy: Never
        command: ["sh", "-c", "hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
        readinessProbe: {{tcpSocket: {{port: 8080}}, periodSeconds: 1}}
"""
    if service:
        manifest += f"""---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: 8080}}]
"""
    return manifest


def apt_source_host() -> str:
    """A name this machine's own resolver answers: a host its Debian packages come from.

    Read from apt's sources at run time, so the tests name no host of their own; the cluster's
    DNS must forward it to the node's resolver like any name outside the cluster.
    """
    texts = [p.read_text() for p in Path("/etc/apt").glob("sources.list*") if p.is_file()]
    texts += [p.read_text() for p in Path("/etc/apt/sources.list.d").glob("*") if p.is_file()]
    hosts = [
        word.split("/")[2]
        for text in texts
        for word in text.split()
        if word.startswith(("http://", "https://"))
    ]
    for host in dict.fromkeys(hosts):
        try:
            socket.getaddrinfo(host, None, socket.AF_INET)
        except OSError:
            continue
        return host
    raise AssertionError(f"no apt source host resolves here ({hosts}): nothing to look up")


def eventually(
    check: Callable[[], T], until: Callable[[T], bool], timeout: float = 180, what: str = ""
) -> T:
    """``check()`` once ``until`` holds for it, polled every second. For cluster state that
    settles after the nodes turn Ready: static pods' mirror pods and DaemonSet pods of the
    last node to join appear seconds later."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what or 'condition'} not met in {timeout:.0f}s: {value!r}")
        time.sleep(1)


def fetched(kubectl: Kubectl, pod: str, url: str, timeout: float = 120) -> str:
    """What ``url`` answers from ``pod``. A Service is polled until it answers: a pod turns
    Ready before kube-proxy has synced its endpoints, and until then the rule rejects
    (connection refused)."""
    deadline = time.monotonic() + timeout
    while True:
        proc = kubectl("exec", pod, "--", "fetch", url, check=False)
        if proc.returncode == 0:
            return proc.stdout
        if time.monotonic() > deadline:
            raise AssertionError(f"{pod}: {url} did not answer in {timeout:.0f}s: {proc.stderr}")
        time.sleep(1)


def resolved_addresses(kubectl: Kubectl, pod: str, name: str) -> set[str]:
    """The IPv4 addresses a pod's resolver gives for ``name``."""
    out = ""
    for _ in range(20):  # CoreDNS may still be starting its cache or forwarders
        proc = kubectl("exec", pod, "--", "fetch", "-resolve", name, check=False)
        out = proc.stdout + proc.stderr
        if proc.returncode == 0 and proc.stdout.split():
            return set(proc.stdout.split())
        time.sleep(1)
    raise AssertionError(f"{pod}: no address for {name}:\n{out}")


def assert_cluster_dns(
    kubectl: Kubectl, provider: Provider, clients: dict[str, str], service: str, backends: set[str]
) -> None:
    """From each client pod (pod -> node): the Service by its DNS name answers, the API
    server's Service name resolves to its ClusterIP, and an outside name resolves as the
    node's own resolver answers it."""
    fqdn = f"{service}.default.svc.cluster.local"
    api_ip = kubectl.json("get", "service", "kubernetes")["spec"]["clusterIP"]
    outside = apt_source_host()
    for pod, node in clients.items():
        reply = fetched(kubectl, pod, f"http://{fqdn}")
        assert reply.strip() in backends, f"{pod}: {fqdn} answered {reply!r}"
        api_name = "kubernetes.default.svc.cluster.local"
        assert resolved_addresses(kubectl, pod, api_name) == {api_ip}
        on_node = provider.exec(node, ["getent", "ahostsv4", outside], check=False).stdout
        node_ips = {line.split()[0] for line in on_node.splitlines() if line.strip()}
        assert node_ips, f"{node} cannot resolve {outside} itself"
        assert resolved_addresses(kubectl, pod, outside) & node_ips, f"{pod}: {outside}"


def assert_current_cluster(kubectl: Kubectl, version: str) -> None:
    """The server is ``version``, every node runs containerd 2, and CoreDNS is Running."""
    server = json.loads(kubectl("version", "-o", "json").stdout)["serverVersion"]
    assert server["gitVersion"] == version
    for node in kubectl.json("get", "nodes")["items"]:
        runtime = node["status"]["nodeInfo"]["containerRuntimeVersion"]
        assert runtime.startswith("containerd://2."), runtime
    kubectl.wait_pods_ready("k8s-app=kube-dns", namespace="kube-system")
    dns = kubectl.json("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns")["items"]
    assert dns and all(p["status"]["phase"] == "Running" for p in dns)


def engine_leftovers(engine: str, cluster: str) -> dict[str, list[str]]:
    """Containers, volumes and networks the engine still holds for ``cluster``."""

    def names(*args: str) -> list[str]:
        out = subprocess.run([engine, *args], capture_output=True, text=True, check=True).stdout
        return [line for line in out.split() if line]

    label = f"label={LABEL_CLUSTER}={cluster}"
    return {
        "containers": names("ps", "-a", "-q", "--filter", label),
        "volumes": names("volume", "ls", "-q", "--filter", label),
        "networks": [
            n for n in names("network", "ls", "--format", "{{.Name}}") if n == f"nestkube-{cluster}"
        ],
    }


def nestkube_cli() -> str:
    found = shutil.which("nestkube")
    if found:
        return found
    return str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "nestkube")


# --- running nestkube as the rootless test user ---------------------------------------------

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
NESTKUBE = VENV_BIN / "nestkube"
ENSURE_USER = REPO / "scripts/ensure-rootless-user.sh"
# Absolute, because the user's environment below has no sbin on PATH.
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"


def ensure_rootless_user() -> pwd.struct_passwd:
    assert os.geteuid() == 0, "creating the rootless test user needs root"
    out = subprocess.run([str(ENSURE_USER)], capture_output=True, text=True, check=True, timeout=60)
    return pwd.getpwnam(out.stdout.strip().splitlines()[-1])


# A venv of the rootless test user's own, made once per session from a wheelhouse of this
# checkout: the checkout may lie where the user cannot read it (root's 0700 home, a mktemp -d).
_USER_VENVS: dict[str, Path] = {}


def user_venv(user: str) -> Path:
    """``user``'s venv with this checkout's nestkube in it, installed offline from wheels."""
    if user in _USER_VENVS:
        return _USER_VENVS[user]
    home = Path(pwd.getpwnam(user).pw_dir)
    venv = home / ".nestkube-test-venv"
    house = Path(tempfile.mkdtemp(prefix="nestkube-wheels.", dir="/tmp"))
    try:
        house.chmod(0o755)
        build_wheelhouse(REPO, house)
        for path in (house, Path("/usr/bin/python3")):
            probe = subprocess.run(
                [RUNUSER, "-u", user, "--", "test", "-r", str(path)], check=False
            )
            if probe.returncode != 0:
                raise AssertionError(f"{user} cannot read {path}: the rootless tests need it")
        for argv in install_argv("/usr/bin/python3", str(venv), str(house)):
            proc = subprocess.run(
                [RUNUSER, "-u", user, "--", "env", "-i", f"HOME={home}", "PATH=/usr/bin:/bin",
                 *argv],
                capture_output=True, text=True, timeout=600, check=False,
            )  # fmt: skip
            if proc.returncode != 0:
                last = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:]
                raise AssertionError(
                    f"making {user}'s venv {venv} failed: {' '.join(argv)}: {last}"
                )
    finally:
        shutil.rmtree(house, ignore_errors=True)
    _USER_VENVS[user] = venv
    return venv


def nestkube_as(user: str, home: Path) -> list[str]:
    """A nestkube command line that ``user`` runs from its own venv, with ``home`` as HOME.

    runuser resets HOME from the password database, so the environment is set inside it, and
    keeps the caller's directory, which the user may not enter (a checkout under root's home):
    the command starts in ``home``.
    """
    env = ["env", "-i", f"HOME={home}", "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"]
    in_home = ["sh", "-c", 'cd "$HOME" && exec "$@"', "sh"]
    return [RUNUSER, "-u", user, "--", *env, *in_home, str(user_venv(user) / "bin" / "nestkube")]


# --- the nestkube CLI and a cluster's nodes and pods ----------------------------------------
def nk(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``nestkube ARGS`` as a user runs it; with ``check``, a failure is the test's."""
    proc = subprocess.run(
        [nestkube_cli(), *args], capture_output=True, text=True, check=False, timeout=600
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"nestkube {' '.join(args)} failed:\n{proc.stderr}{proc.stdout}")
    return proc


def ready_nodes(kubectl: Kubectl) -> list[str]:
    """The names of the cluster's Ready nodes, sorted."""
    return sorted(
        n["metadata"]["name"]
        for n in kubectl.json("get", "nodes")["items"]
        if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
    )


def run_pod_never_pull(kubectl: Kubectl, image: str, node: str, timeout: float = 120) -> str:
    """Run `cat /marker` from ``image`` on ``node`` without pulling; returns its output."""
    name = f"marker-{uuid.uuid4().hex[:6]}"
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "nodeName": node,
            "restartPolicy": "Never",
            "tolerations": [{"operator": "Exists"}],
            "containers": [
                {
                    "name": "main",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": ["cat", "/marker"],
                }
            ],
        },
    }
    kubectl("apply", "-f", "-", input=json.dumps(manifest))
    deadline = time.monotonic() + timeout
    pod: dict[str, Any] = {}
    phase = ""
    while time.monotonic() < deadline:
        pod = kubectl.json("get", "pod", name)
        phase = pod["status"].get("phase", "")
        if phase in ("Succeeded", "Failed"):
            break
        time.sleep(1)
    logs = kubectl("logs", name, check=False).stdout
    assert phase == "Succeeded", f"pod {name} on {node}: {phase}\n{json.dumps(pod.get('status'))}"
    return logs


# --- engines as test parameters, and the clusters the tests share ---------------------------
@dataclass(frozen=True)
class Variant:
    """An engine (and node runtime) the scenario tests run on: the fixtures that give its
    engine, node image and Kubernetes binaries, and the names of its shared clusters."""

    id: str
    engine: str
    engine_fixture: str
    image_fixture: str
    single: str
    multi: str
    workers: int = 2
    runtime: str = "containerd"
    kit_fixture: str = "kit"


VARIANTS = {
    v.id: v
    for v in (
        Variant("podman", "podman", "podman", "podman_node_image", "e2e-single", "e2e-multi"),
        Variant("docker", "docker", "docker", "docker_node_image", "e2e-dk-single", "e2e-dk-multi"),
        Variant(
            "nerdctl", "nerdctl", "nerdctl", "nerdctl_node_image", "e2e-nc-single", "e2e-nc-multi"
        ),
        # CRI-O nodes on Podman, at the newest release with a CRI-O served (CRIO_KUBERNETES).
        Variant(
            "crio",
            "podman",
            "podman_engine",
            "crio_image",
            "e2e-crio-single",
            "e2e-crio-multi",
            workers=1,
            runtime="cri-o",
            kit_fixture="crio_kit",
        ),
    )
}
SHAPES = ("single", "multi")
# Marks a test that uses shared clusters: shared_clusters("docker-single", ..., stage=N). Tests
# of one engine run together (conftest.py orders them), in stages: 0, then 1 (tests that leave
# a cluster changed, a broken kubelet say), then 2 (tests that delete them); a shared cluster
# is deleted after the last test that named it.
SHARED_MARK = "shared_clusters"


def variants(*shapes: str, only: tuple[str, ...] = tuple(VARIANTS), stage: int = 0) -> list[Any]:
    """pytest parameters for a scenario run on each engine in ``only``, using its shared
    clusters of ``shapes``."""
    return [
        pytest.param(
            VARIANTS[v],
            id=v,
            marks=getattr(pytest.mark, SHARED_MARK)(*(f"{v}-{s}" for s in shapes), stage=stage),
        )
        for v in only
    ]


def uses(*keys: str, stage: int = 0) -> pytest.MarkDecorator:
    """Marks a test of one engine that uses its shared clusters ``keys`` ("docker-single")."""
    mark: pytest.MarkDecorator = getattr(pytest.mark, SHARED_MARK)(*keys, stage=stage)
    return mark


class SharedClusters:
    """The clusters several test modules share, one per engine and shape, made on first use
    and deleted after their last (the order and the last uses come from conftest.py)."""

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        self.made: dict[str, nestkube.Cluster] = {}
        self.last_user: dict[str, str] = {}
        self._exits: dict[str, ExitStack] = {}

    def get(self, request: pytest.FixtureRequest, variant: Variant, shape: str) -> nestkube.Cluster:
        key = f"{variant.id}-{shape}"
        mark = request.node.get_closest_marker(SHARED_MARK)
        if mark is None or key not in mark.args:
            raise AssertionError(f"{request.node.nodeid} uses {key} without marking it")
        if key not in self.made:
            self.made[key] = self._make(request, variant, shape)
        return self.made[key]

    def _make(
        self, request: pytest.FixtureRequest, variant: Variant, shape: str
    ) -> nestkube.Cluster:
        provider: Provider = request.getfixturevalue(variant.engine_fixture)
        request.getfixturevalue(variant.image_fixture)
        name = variant.single if shape == "single" else variant.multi
        workers = 0 if shape == "single" else variant.workers
        if variant.runtime == "cri-o":
            nodes = [NodeConfig(runtime="cri-o")]
            nodes += [NodeConfig(role="worker", runtime="cri-o") for _ in range(workers)]
            config = ClusterConfig(name=name, nodes=nodes)
        else:
            config = default_config(name, workers=workers)
        nestkube.delete_cluster(name, provider=variant.engine, kubeconfig_path=str(self.kubeconfig))
        stack = ExitStack()
        start = time.monotonic()
        if variant.id == "podman" and shape == "single":
            # Built on the public pytest helper users get, so that helper is exercised for real.
            cluster = stack.enter_context(
                temporary_cluster(config, provider=variant.engine, kubeconfig_path=self.kubeconfig)
            )
        else:
            cluster = nestkube.create_cluster(
                config,
                provider=variant.engine,
                kubeconfig_path=str(self.kubeconfig),
                status=Status(verbosity=1),
            )
            stack.callback(
                nestkube.delete_cluster,
                name,
                provider=variant.engine,
                kubeconfig_path=str(self.kubeconfig),
            )
        self._exits[f"{variant.id}-{shape}"] = stack
        print(f"created {name} on {variant.id} in {time.monotonic() - start:.0f}s")
        if variant.id == "podman":
            # Podman's clusters hold the workload image from the start.
            workload: Path = request.getfixturevalue("workload")
            import_into_nodes(provider, [n.name for n in cluster.nodes], workload)
        return cluster

    def release(self, key: str) -> None:
        """Delete ``key``'s cluster if it was made (a test may have deleted it already)."""
        self.made.pop(key, None)
        stack = self._exits.pop(key, None)
        if stack is not None:
            stack.close()

    def release_all(self) -> None:
        for key in list(self._exits):
            self.release(key)


def ensure_workload(
    variant: Variant, provider: Provider, cluster: nestkube.Cluster, nodes: list[str], archive: Path
) -> None:
    """The busybox workload image in ``nodes`` of a shared cluster: Podman's clusters hold it
    from the start; CRI-O's nodes take it through `nestkube load archive` (skopeo into CRI-O's
    store); the other engines' straight into containerd."""
    if variant.runtime == "cri-o":
        nk("load", "archive", str(archive), "--name", cluster.name)
    elif variant.engine != "podman":
        import_into_nodes(provider, nodes, archive)


def scenario_kubectl(
    request: pytest.FixtureRequest, variant: Variant, cluster: nestkube.Cluster, kubeconfig: Path
) -> Kubectl:
    """kubectl of ``variant``'s Kubernetes release for ``cluster``."""
    kit: KubernetesBinaries = request.getfixturevalue(variant.kit_fixture)
    return Kubectl(str(kit.path("kubectl")), kubeconfig, cluster.context)
