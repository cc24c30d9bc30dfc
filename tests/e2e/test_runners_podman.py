"""`nestkube runners` on a real cluster of the default release (rootful Podman), without GitHub.

- Docker-in-Kubernetes: pods made from the privileged mode's job template (as ARC's container
  hook merges it into a job pod) run dockerd with overlay2, build and run an image; a new pod
  of the same instance rebuilds from the host cache's layer cache; the two instances of one
  runner write to their own host directories.
- ARC: helm built from its module installs ARC's controller chart (from ARC's module files)
  with a controller image built from ARC's module; a scale set of each mode is accepted with
  ARC's CRDs and reconciled; ARC's call to GitHub fails and `runners status` prints that error.
- Bad input through the CLI: one line, nothing applied.

Measurements are printed (run with -s to see them).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import Kubectl, engine_leftovers, nestkube_cli

import nestkube
from nestkube.config import load_config
from nestkube.images.node_image import NodeImage
from nestkube.kit.kubernetes import KubernetesBinaries
from nestkube.load import load_images
from nestkube.providers.base import Provider
from nestkube.runners import images, model, ops, render
from nestkube.runners import kit as runners_kit
from nestkube.runners.tools import Target
from nestkube.status import Status

CLUSTER = "e2e-i12-runners"
CONTEXT = f"nestkube-{CLUSTER}"
TIMES: dict[str, float | str] = {}

# The job: its own dockerd on the instance's cache, a build from scratch (busybox from the
# job image: no registry here), a run of the result. Prints key=value lines.
JOB = r"""
set -e
(dockerd --storage-driver overlay2 >/tmp/dockerd.log 2>&1 &)
i=0
until docker info >/dev/null 2>&1; do
  i=$((i+1)); [ $i -lt 120 ] || { tail /tmp/dockerd.log; exit 1; }; sleep 0.5
done
echo "driver=$(docker info --format '{{.Driver}}')"
mkdir -p /tmp/ctx && cd /tmp/ctx && cp /bin/busybox .
cat > Dockerfile <<'EOF'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN dd if=/dev/urandom of=/blob bs=1M count=32 2>/dev/null && sha256sum /blob > /blob.sha256
CMD ["/bin/sh", "-c", "echo ran=hello; echo blob=$(cut -c1-16 /blob.sha256)"]
EOF
start=$(date +%s%N)
DOCKER_BUILDKIT=0 docker build -t nestkube-e2e/hello . > /tmp/build.log 2>&1 ||
  { cat /tmp/build.log; exit 1; }
end=$(date +%s%N)
echo "build_ms=$(( (end - start) / 1000000 ))"
echo "steps=$(grep -c '^Step ' /tmp/build.log)"
echo "cache_hits=$(grep -c 'Using cache' /tmp/build.log || true)"
docker run --rm nestkube-e2e/hello
kill $(cat /var/run/docker.pid) && while [ -e /var/run/docker.pid ]; do sleep 0.2; done
"""


def _timed(key: str, fn: Callable[..., Any], *args: Any) -> Any:
    start = time.monotonic()
    out = fn(*args)
    TIMES[key] = round(time.monotonic() - start, 1)
    return out


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    start = time.monotonic()
    yield
    TIMES["module wall s"] = round(time.monotonic() - start, 1)
    print("\nrunners e2e measurements:", json.dumps(TIMES, indent=1))


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runner-cache")


@pytest.fixture(scope="module")
def built(podman: Provider, progress: Status) -> dict[str, str]:
    """helm and ARC from their modules, both images: cache hits when warm (timed either way)."""
    helm = _timed("helm build s", runners_kit.helm_binary, progress)
    _timed("arc build s", runners_kit.arc_binaries, progress)
    controller = _timed("controller image s", images.build_controller_image, podman, progress)
    docker = _timed("docker image s", images.build_docker_image, podman, progress)
    for name in (controller, docker):
        TIMES[f"{name} MB"] = round(_image_bytes(podman, name) / 1e6, 1)
    return {
        "helm": str(helm),
        "charts": str(runners_kit.arc_chart_dir()),
        "controller": controller,
        "docker": docker,
    }


def _image_bytes(podman: Provider, image: str) -> int:
    out = subprocess.run(
        ["podman", "image", "inspect", "--format", "{{.Size}}", image],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return int(out.strip())


@pytest.fixture(scope="module")
def kubeconfig_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kube") / "config"


@pytest.fixture(scope="module")
def cluster(
    podman: Provider, podman_node_image: NodeImage, kubeconfig_file: Path, cache_root: Path
) -> Iterator[nestkube.Cluster]:
    # The nodes get the host's cache root where job pods' hostPath volumes expect it.
    [mount] = render.node_mounts(cache_root)
    config = f"""\
kind: Cluster
apiVersion: nestkube.io/v1alpha1
name: {CLUSTER}
nodes:
- role: control-plane
  extraMounts:
  - {{hostPath: {mount.host_path}, containerPath: {mount.container_path}}}
"""
    nestkube.delete_cluster(CLUSTER, provider="podman", kubeconfig_path=str(kubeconfig_file))
    made = _timed(
        "cluster create s",
        lambda: nestkube.create_cluster(
            load_config("runners.yaml", text=config),
            provider="podman",
            kubeconfig_path=str(kubeconfig_file),
            status=Status(verbosity=1),
        ),
    )
    yield made
    nestkube.delete_cluster(CLUSTER, provider="podman", kubeconfig_path=str(kubeconfig_file))
    assert engine_leftovers("podman", CLUSTER) == {"containers": [], "volumes": [], "networks": []}


@pytest.fixture(scope="module")
def kubectl(cluster: nestkube.Cluster, kit: KubernetesBinaries, kubeconfig_file: Path) -> Kubectl:
    return Kubectl(str(kit.path("kubectl")), kubeconfig_file, cluster.context)


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory, cache_root: Path) -> Path:
    """One runner of each mode; the privileged one with a cache and two instances."""
    d = tmp_path_factory.mktemp("defs")
    (d / "token").write_text("ghp_e2e-not-a-real-token\n")
    path = d / "runners.yaml"
    path.write_text(f"""\
apiVersion: nestkube.io/v1alpha1
kind: RunnerSet
context: {CONTEXT}
cacheRoot: {cache_root}
runners:
- {{name: kube, repository: https://github.com/nestkube-e2e/none, mode: kubernetes,
   min: 1, max: 3, auth: {{pat: {{tokenFile: token}}}}}}
- {{name: dind, org: nestkube-e2e, mode: dind, auth: {{pat: {{tokenFile: token}}}}}}
- {{name: docker, repository: https://github.com/nestkube-e2e/none, mode: privileged,
   caches: [/var/lib/docker], instances: 2, auth: {{pat: {{tokenFile: token}}}}}}
""")
    return path


def cli_env(kit: KubernetesBinaries, tmp: Path) -> dict[str, str]:
    # No helm on PATH: `runners` finds the one the kit built (its content-keyed cache).
    return {
        "PATH": f"{kit.directory}:/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "XDG_CONFIG_HOME": str(tmp / "config"),
        "NESTKUBE_PROVIDER": "podman",
    }


def run_cli(
    args: list[str], env: dict[str, str], timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [nestkube_cli(), *args], capture_output=True, text=True, timeout=timeout, env=env
    )


# --- Docker-in-Kubernetes -------------------------------------------------------------------
def job_pod(runner: model.RunnerDoc, inst: render.Instance, image: str, name: str) -> str:
    """A job pod as ARC's hook makes it: the rendered template with the job's container."""
    template = render.hook_template(runner, inst)
    assert template is not None
    spec = template["spec"]
    [job] = spec["containers"]
    assert job["name"] == "$job"
    job.update(name="job", image=image, imagePullPolicy="Never", command=["sleep", "infinity"])
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "runner-job"}},
        "spec": {**spec, "terminationGracePeriodSeconds": 5},
    }
    return yaml.safe_dump(pod)


def run_job(kubectl: Kubectl, pod: str, manifest: str) -> dict[str, str]:
    kubectl.apply(manifest)
    kubectl("wait", "--for=condition=Ready", f"pod/{pod}", "--timeout=120s", timeout=150)
    proc = kubectl("exec", "-i", pod, "--", "sh", "-s", input=JOB, timeout=300)
    kubectl("delete", "pod", pod, "--wait=true", "--timeout=60s", timeout=90)
    return dict(ln.split("=", 1) for ln in proc.stdout.splitlines() if re.match(r"^[a-z_]+=", ln))


def test_docker_in_kubernetes_from_the_privileged_job_template(
    cluster: nestkube.Cluster,
    built: dict[str, str],
    kubectl: Kubectl,
    defs: Path,
    cache_root: Path,
) -> None:
    loaded = model.load(defs)
    runner = loaded.runner("docker")
    assert runner is not None
    first, second = render.instances(runner, render.cache_root(loaded))
    _timed("docker image load s", lambda: load_images([built["docker"]], cluster=CLUSTER))
    # What `runners up` does for a privileged runner: the template's Bidirectional cgroup
    # mount needs shared mounts in the node.
    ops.share_node_mounts(Target(CONTEXT), Status(quiet=True))

    cold = run_job(kubectl, "job-1a", job_pod(runner, first, built["docker"], "job-1a"))
    assert cold["driver"] == "overlay2", cold
    assert cold["ran"] == "hello" and int(cold["steps"]) == 5 and cold["cache_hits"] == "0"
    # A new pod of the same instance: a fresh dockerd on the same host directory.
    warm = run_job(kubectl, "job-1b", job_pod(runner, first, built["docker"], "job-1b"))
    assert warm["driver"] == "overlay2" and warm["ran"] == "hello"
    assert warm["cache_hits"] == "4", warm  # every step after FROM
    assert warm["blob"] == cold["blob"]  # the same layer, not a rebuilt one
    other = run_job(kubectl, "job-2a", job_pod(runner, second, built["docker"], "job-2a"))
    assert other["cache_hits"] == "0" and other["blob"] != cold["blob"]
    TIMES["docker build cold ms"] = int(cold["build_ms"])
    TIMES["docker build cached ms"] = int(warm["build_ms"])
    TIMES["docker build instance 2 ms"] = int(other["build_ms"])
    assert int(warm["build_ms"]) < int(cold["build_ms"])

    # Each instance's Docker data is in its own host directory: <root>/<runner>/<instance>/<n>.
    dirs = [cache_root / "docker" / "1" / "1", cache_root / "docker" / "2" / "1"]
    assert [c.host for c in (*first.caches, *second.caches)] == dirs
    layers = [set(os.listdir(d / "overlay2")) - {"l"} for d in dirs]
    assert layers[0] and layers[1] and not layers[0] & layers[1]


# --- ARC ----------------------------------------------------------------------------------
def test_arc_installed_and_each_mode_reconciled(
    cluster: nestkube.Cluster,
    built: dict[str, str],
    kubectl: Kubectl,
    kit: KubernetesBinaries,
    defs: Path,
    kubeconfig_file: Path,
    tmp_path: Path,
) -> None:
    env = cli_env(kit, tmp_path)
    start = time.monotonic()
    proc = run_cli(
        [
            "runners", "up", "-f", str(defs), "--kubeconfig", str(kubeconfig_file),
            "--chart-dir", built["charts"], "--controller-image", built["controller"],
        ],
        env,
    )  # fmt: skip
    TIMES["runners up s"] = round(time.monotonic() - start, 1)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["dind", "docker-1", "docker-2", "kube"]

    # helm (the kit's, found without PATH) installed the controller chart of ARC's module.
    releases = json.loads(
        subprocess.run(
            [built["helm"], "--kubeconfig", str(kubeconfig_file), "--kube-context", CONTEXT,
             "list", "-A", "-o", "json"],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout
    )  # fmt: skip
    charts = {r["name"]: (r["namespace"], r["chart"], r["status"]) for r in releases}
    version = runners_kit.ARC_CHART_VERSION
    assert charts["arc"] == (
        "arc-systems",
        f"gha-runner-scale-set-controller-{version}",
        "deployed",
    )
    for name in ("kube", "dind", "docker-1", "docker-2"):
        assert charts[name] == ("nestkube-runners", f"gha-runner-scale-set-{version}", "deployed")
    crds = kubectl("get", "crd", "-o", "name").stdout.split()
    for kind in ("autoscalingrunnersets", "autoscalinglisteners", "ephemeralrunnersets"):
        assert f"customresourcedefinition.apiextensions.k8s.io/{kind}.actions.github.com" in crds

    # The controller runs from our image.
    deploy = kubectl.json("-n", "arc-systems", "get", "deployment", "arc-gha-rs-controller")
    [container] = deploy["spec"]["template"]["spec"]["containers"]
    assert container["image"] == built["controller"]
    assert deploy["status"].get("readyReplicas") == 1

    # Each mode's scale set is accepted, as rendered, and reconciled by the controller (its
    # finalizer is the controller's first write), which then fails to reach GitHub.
    deadline = time.monotonic() + 180
    while True:
        sets = {
            o["metadata"]["name"]: o
            for o in kubectl.json("-n", "nestkube-runners", "get", "autoscalingrunnersets")["items"]
        }
        reconciled = {n for n, o in sets.items() if o["metadata"].get("finalizers")}
        if reconciled == set(sets) == {"kube", "dind", "docker-1", "docker-2"}:
            break
        assert time.monotonic() < deadline, f"not reconciled: {set(sets) - reconciled}"
        time.sleep(3)
    assert (sets["kube"]["spec"]["minRunners"], sets["kube"]["spec"]["maxRunners"]) == (1, 3)
    assert sets["dind"]["spec"]["githubConfigUrl"] == "https://github.com/nestkube-e2e"
    pods = {n: o["spec"]["template"]["spec"] for n, o in sets.items()}
    assert [c["name"] for c in pods["dind"]["containers"]] == ["runner", "dind"]
    kube_env = {e["name"]: e.get("value") for e in pods["kube"]["containers"][0]["env"]}
    assert kube_env["ACTIONS_RUNNER_CONTAINER_HOOKS"] == "/home/runner/k8s/index.js"
    priv_env = {e["name"]: e.get("value") for e in pods["docker-2"]["containers"][0]["env"]}
    assert priv_env["ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE"] == "/home/runner/pod-template/content"
    hook = kubectl.json("-n", "nestkube-runners", "get", "configmap", "docker-2-hook-template")
    job_template = yaml.safe_load(hook["data"]["content"])
    assert job_template["spec"]["containers"][0]["securityContext"]["privileged"] is True
    secret = kubectl.json("-n", "nestkube-runners", "get", "secret", "kube-github")
    assert set(secret["data"]) == {"github_token"}

    # `runners status` shows the controller and the error ARC got, verbatim.
    deadline = time.monotonic() + 120
    while True:
        status = run_cli(
            ["runners", "status", "-f", str(defs), "--kubeconfig", str(kubeconfig_file),
             "-o", "json"],
            env, timeout=120,
        )  # fmt: skip
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        if report["lastError"]:
            break
        assert time.monotonic() < deadline, report
        time.sleep(3)
    assert report["controller"] == "1/1 ready"
    assert {s["name"] for s in report["scaleSets"]} == set(sets)
    error = report["lastError"]
    assert "api.github.com" in error, error
    logs = kubectl("-n", "arc-systems", "logs", "deployment/arc-gha-rs-controller").stdout
    assert error in logs.splitlines(), error
    text = run_cli(
        ["runners", "status", "-f", str(defs), "--kubeconfig", str(kubeconfig_file)], env
    ).stdout
    assert "controller: 1/1 ready" in text
    [shown] = [ln for ln in text.splitlines() if ln.startswith("last error: ")]
    logs = kubectl("-n", "arc-systems", "logs", "deployment/arc-gha-rs-controller").stdout
    assert shown.removeprefix("last error: ") in logs.splitlines()
    TIMES["last error"] = error[-200:]


# --- bad input ----------------------------------------------------------------------------
def _state(kubectl: Kubectl) -> Any:
    names = kubectl(
        "-n", "nestkube-runners", "get", "secrets,configmaps,autoscalingrunnersets",
        "-o", "name", check=False,
    ).stdout  # fmt: skip
    return sorted(names.split())


@pytest.mark.parametrize(
    ("case", "args", "message"),
    [
        ("mode", ["--mode", "docker"], 'mode: expected one of kubernetes, dind, privileged'),
        ("key", ["--auth", "app", "--app-id", "1", "--installation-id", "2",
                 "--private-key-file", "/nonexistent/app.pem"], "privateKeyFile: cannot read"),
        ("minmax", ["--min", "3", "--max", "2"], "min (3) is greater than max (2)"),
        ("duplicate", ["--name-again"], 'duplicate runner name "bad"'),
        ("token", ["--token", "ghp_secret"], "secrets are never taken on the command line"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_applies_nothing(
    cluster: nestkube.Cluster,
    kubectl: Kubectl,
    kit: KubernetesBinaries,
    kubeconfig_file: Path,
    tmp_path: Path,
    case: str,
    args: list[str],
    message: str,
) -> None:
    env = cli_env(kit, tmp_path)
    token = tmp_path / "token"
    token.write_text("t\n")
    path = tmp_path / "bad.yaml"
    base = ["runners", "add", "bad", "-f", str(path), "--repository", "https://github.com/o/r"]
    if case == "duplicate":
        assert run_cli([*base, "--token-file", str(token)], env).returncode == 0
        args = []
    auth = [] if "--auth" in args else ["--token-file", str(token)]
    before_file = path.read_text() if path.exists() else None
    before = _state(kubectl)
    proc = run_cli([*base, *auth, *args], env)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR: ") and message in lines[0], lines
    assert (path.read_text() if path.exists() else None) == before_file
    if before_file is not None:
        # And `up` of the file as it is applies nothing new when its token file is gone.
        token.unlink()
        up = run_cli(["runners", "up", "-f", str(path), "--kubeconfig", str(kubeconfig_file),
                      "--context", CONTEXT], env)  # fmt: skip
        assert up.returncode == 1 and len(up.stderr.strip().splitlines()) == 1, up.stderr
        assert "tokenFile: cannot read" in up.stderr
    assert _state(kubectl) == before


def test_a_cache_root_the_nodes_do_not_mount_is_refused(
    cluster: nestkube.Cluster,
    kubectl: Kubectl,
    kit: KubernetesBinaries,
    kubeconfig_file: Path,
    tmp_path: Path,
) -> None:
    # Caches would silently land inside the node instead of on the host: refused up front.
    (tmp_path / "token").write_text("t\n")
    path = tmp_path / "unmounted.yaml"
    path.write_text(f"""\
apiVersion: nestkube.io/v1alpha1
kind: RunnerSet
context: {CONTEXT}
cacheRoot: {tmp_path / "elsewhere"}
runners:
- {{name: stray, org: nestkube-e2e, mode: privileged, caches: [/var/lib/docker],
   auth: {{pat: {{tokenFile: token}}}}}}
""")
    before = _state(kubectl)
    proc = run_cli(["runners", "up", "-f", str(path), "--kubeconfig", str(kubeconfig_file)],
                   cli_env(kit, tmp_path))  # fmt: skip
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(
        f"ERROR: node {CLUSTER}-control-plane does not mount the runner cache root "
        f"{tmp_path / 'elsewhere'} at /nestkube/runner-cache: re-create cluster"
    ), line
    assert not (tmp_path / "elsewhere").exists()
    assert _state(kubectl) == before


def test_down_uninstalls_scale_sets_and_controller_and_keeps_caches(
    cluster: nestkube.Cluster,
    built: dict[str, str],
    kubectl: Kubectl,
    kit: KubernetesBinaries,
    defs: Path,
    kubeconfig_file: Path,
    cache_root: Path,
    tmp_path: Path,
) -> None:
    env = cli_env(kit, tmp_path)
    base = ["-f", str(defs), "--kubeconfig", str(kubeconfig_file)]
    if not _releases(built, kubeconfig_file):  # run alone: install first
        up = ["runners", "up", *base, "--chart-dir", built["charts"]]
        assert run_cli([*up, "--controller-image", built["controller"]], env).returncode == 0
    start = time.monotonic()
    proc = run_cli(["runners", "down", *base], env)
    TIMES["runners down s"] = round(time.monotonic() - start, 1)
    assert proc.returncode == 0, proc.stderr
    assert _releases(built, kubeconfig_file) == []
    # Every namespace has its kube-root-ca.crt ConfigMap; nothing of nestkube's is left.
    assert _state(kubectl) == ["configmap/kube-root-ca.crt"]
    kubectl("-n", "arc-systems", "wait", "--for=delete", "pods", "--all", "--timeout=120s",
            timeout=150)  # fmt: skip
    assert kubectl("-n", "arc-systems", "get", "pods", "-o", "name").stdout.strip() == ""
    # Host caches stay (they are the user's data); ARC's CRDs stay, as with any helm uninstall.
    assert (cache_root / "docker" / "1" / "1").is_dir()
    status = json.loads(run_cli(["runners", "status", *base, "-o", "json"], env).stdout)
    assert (status["controller"], status["scaleSets"]) == ("not installed", [])


def _releases(built: dict[str, str], kubeconfig_file: Path) -> list[str]:
    out = subprocess.run(
        [built["helm"], "--kubeconfig", str(kubeconfig_file), "--kube-context", CONTEXT,
         "list", "-A", "-q"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    return out.split()
