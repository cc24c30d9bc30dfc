"""``runners up`` / ``down`` / ``status``: ARC's controller and one scale set per instance.

Everything that can be wrong with the input (the file, the target context, credentials) is
checked before the first command that changes the cluster, so bad input leaves nothing behind.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nestkube import _exec
from nestkube.config.model import DEFAULT_NAME
from nestkube.errors import NestkubeError
from nestkube.kubeconfig import context_name
from nestkube.runners import credentials, render
from nestkube.runners.model import RunnerDoc, RunnerFile
from nestkube.runners.tools import (
    CONTROLLER_CHART,
    SCALE_SET_CHART,
    Helm,
    Kubectl,
    Target,
    chart_ref,
    find_helm,
)
from nestkube.status import Status

RELEASE_LABEL = "nestkube.io/release"
NODE_EXEC_TIMEOUT = 30.0
CONTROLLER_SELECTOR = "app.kubernetes.io/part-of=gha-rs-controller"
LISTENER_SELECTOR = "app.kubernetes.io/component=runner-scale-set-listener"


class RunnersError(NestkubeError):
    """Runners cannot be applied to this target (wrong cluster kind, missing tool)."""


def target(loaded: RunnerFile | None, context: str | None, kubeconfig: str | None) -> Target:
    """``--context``, else the file's ``context``, else the default nestkube cluster's."""
    chosen = context or (loaded.doc.context if loaded else None) or context_name(DEFAULT_NAME)
    return Target(chosen, kubeconfig)


def is_nestkube_context(name: str) -> bool:
    return name.startswith(context_name(""))


def check_target(loaded: RunnerFile, where: Target) -> None:
    """Host caches only exist on a local nestkube cluster's nodes."""
    if is_nestkube_context(where.context):
        return
    cached = [r.name for r in loaded.doc.runners if r.caches]
    if cached:
        raise RunnersError(
            f"context {where.context!r} is not a nestkube cluster: host caches (runner "
            f"{cached[0]!r}) only exist on a local nestkube cluster; remove the caches or "
            "use a nestkube-* context"
        )


def _require(binary: str) -> str:
    found = find_helm() if binary == "helm" else _exec.which(binary)
    if found is None:
        raise RunnersError(f"{binary} is not installed (nestkube doctor says how to get it)")
    return found


def controller_values(image: str | None) -> dict[str, Any]:
    """The controller chart's values: only the image, when one was loaded into the nodes."""
    if not image:
        return {}
    name = image.rsplit("/", 1)[-1]
    repository, tag = image.rsplit(":", 1) if ":" in name else (image, "latest")
    # IfNotPresent: the image is in the nodes already (loaded by `up`), never pulled.
    return {"image": {"repository": repository, "tag": tag, "pullPolicy": "IfNotPresent"}}


def _cluster_of(where: Target) -> str:
    return where.context.removeprefix(context_name(""))


def share_node_mounts(where: Target, status: Status) -> None:
    """Make each node's mounts shared, so a privileged job's ``Bidirectional`` mount of
    /sys/fs/cgroup is allowed: the kubelet refuses it on a private mount ("is not a shared
    mount"), and node containers start with private mounts. Idempotent; repeated on every
    ``up`` since a node restart brings the private mounts back."""
    from nestkube.load import find_cluster

    if not is_nestkube_context(where.context):
        return  # another cluster's nodes are its operator's to configure
    engine, nodes = find_cluster(_cluster_of(where))
    with status.step("Sharing the nodes' mounts (privileged jobs propagate cgroup mounts)"):
        for node in nodes:
            engine.exec(node.name, ["mount", "--make-rshared", "/"], timeout=NODE_EXEC_TIMEOUT)


def check_cache_mount(where: Target, root: Path) -> None:
    """Every node sees the host's cache root at NODE_CACHE_ROOT, or nothing is applied.

    Without that mount a job's hostPath cache would be made inside the node, not on the host:
    the cache would work, but be lost with the node and shared by nothing the user can see.
    A marker file written on the host must show up in each node.
    """
    from nestkube.load import find_cluster

    engine, nodes = find_cluster(_cluster_of(where))
    made = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    marker = root / f".nestkube-mount-check-{secrets.token_hex(4)}"
    marker.touch()
    try:
        for node in nodes:
            seen = engine.exec(
                node.name,
                ["test", "-e", f"{render.NODE_CACHE_ROOT}/{marker.name}"],
                check=False,
                timeout=NODE_EXEC_TIMEOUT,
            )
            if not seen.ok:
                raise RunnersError(
                    f"node {node.name} does not mount the runner cache root {root} at "
                    f"{render.NODE_CACHE_ROOT}: re-create cluster {_cluster_of(where)!r} with "
                    f"that extraMount (hostPath: {root}, containerPath: "
                    f"{render.NODE_CACHE_ROOT}) on every node"
                )
    except BaseException:
        if made:  # bad input leaves nothing behind
            shutil.rmtree(root, ignore_errors=True)
        raise
    finally:
        marker.unlink(missing_ok=True)


def load_controller_image(where: Target, image: str, status: Status) -> None:
    """Copy ``image`` from a local engine into the nodes of the nestkube cluster behind
    ``where`` (only a nestkube cluster's nodes can be loaded that way)."""
    from nestkube.load import load_images

    if not is_nestkube_context(where.context):
        raise RunnersError(
            f"context {where.context!r} is not a nestkube cluster: --controller-image loads an "
            "image into a nestkube cluster's nodes; push it to a registry instead"
        )
    cluster = _cluster_of(where)
    with status.step(f"Loading {image} into cluster {cluster}"):
        load_images([image], cluster=cluster)


@dataclass(frozen=True)
class Planned:
    runner: RunnerDoc
    instance: render.Instance
    secret_data: Mapping[str, str]

    def manifests(self) -> list[dict[str, Any]]:
        out = [render.secret(self.instance, self.secret_data)]
        template = render.hook_template(self.runner, self.instance)
        if template is not None:
            out.append(render.hook_configmap(self.instance, template))
        for m in out:
            m["metadata"]["labels"][RELEASE_LABEL] = self.instance.release
        return out


def plan(loaded: RunnerFile, env: Mapping[str, str] | None = None) -> list[Planned]:
    """Every instance with its credentials read; raises before anything is applied."""
    root = render.cache_root(loaded, env)
    out = []
    for runner in loaded.doc.runners:
        data = credentials.read(loaded, runner, env)
        out += [Planned(runner, inst, data) for inst in render.instances(runner, root)]
    return out


def up(
    loaded: RunnerFile,
    *,
    context: str | None = None,
    kubeconfig: str | None = None,
    chart_dir: str | None = None,
    controller_image: str | None = None,
    status: Status | None = None,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """Install or upgrade the controller and every instance; remove instances no longer defined.

    Returns the scale-set release names.
    """
    status = status or Status(quiet=True)
    where = target(loaded, context, kubeconfig)
    check_target(loaded, where)
    planned = plan(loaded, env)
    helm = Helm(where, binary=_require("helm"))
    kubectl = Kubectl(where, binary=_require("kubectl"))
    if any(p.instance.caches for p in planned):
        # check_target() allowed caches only on a nestkube context.
        check_cache_mount(where, render.cache_root(loaded, env))
    if controller_image:
        load_controller_image(where, controller_image, status)
    chart, flags = chart_ref(CONTROLLER_CHART, chart_dir)
    with status.step(f"ARC controller on {where.context}"):
        helm.upgrade_install(
            render.CONTROLLER_RELEASE,
            chart,
            render.CONTROLLER_NAMESPACE,
            controller_values(controller_image),
            flags=flags,
        )
    kubectl.apply([render.namespace()])
    if any(p.runner.mode == "privileged" for p in planned):
        share_node_mounts(where, status)
    chart, flags = chart_ref(SCALE_SET_CHART, chart_dir)
    for item in planned:
        for cache in item.instance.caches:
            # Made here so they belong to the user, not to the node's root.
            cache.host.mkdir(parents=True, exist_ok=True)
        with status.step(f"scale set {item.instance.release}"):
            kubectl.apply(item.manifests())
            helm.upgrade_install(
                item.instance.release,
                chart,
                render.RUNNERS_NAMESPACE,
                render.values(item.runner, item.instance),
                flags=flags,
            )
    wanted = {p.instance.release for p in planned}
    for release in helm.releases(render.RUNNERS_NAMESPACE):
        name = str(release.get("name", ""))
        if name and name not in wanted:
            with status.step(f"removing scale set {name}"):
                _remove(helm, kubectl, name)
    return sorted(wanted)


def _remove(helm: Helm, kubectl: Kubectl, release: str) -> None:
    # The release first: ARC needs the secret to deregister the scale set from GitHub.
    helm.uninstall(release, render.RUNNERS_NAMESPACE)
    kubectl.delete_labelled(
        "secrets,configmaps", render.RUNNERS_NAMESPACE, f"{RELEASE_LABEL}={release}"
    )


def down(
    loaded: RunnerFile | None,
    *,
    context: str | None = None,
    kubeconfig: str | None = None,
    status: Status | None = None,
) -> list[str]:
    """Uninstall every scale set, then the controller. Returns what was removed."""
    status = status or Status(quiet=True)
    where = target(loaded, context, kubeconfig)
    helm = Helm(where, binary=_require("helm"))
    kubectl = Kubectl(where, binary=_require("kubectl"))
    removed = []
    releases = helm.releases(render.RUNNERS_NAMESPACE)
    if releases:
        # Mark every scale set deleted first. ARC's controller reconciles one object at a
        # time, and a scale set that is not being deleted keeps retrying GitHub. One by one,
        # each uninstall waited minutes behind those retries (seen with no GitHub reachable).
        kubectl.delete_all_nowait("autoscalingrunnersets", render.RUNNERS_NAMESPACE)
    for release in releases:
        name = str(release.get("name", ""))
        if name:
            with status.step(f"removing scale set {name}"):
                _remove(helm, kubectl, name)
            removed.append(name)
    with status.step("removing ARC controller"):
        if helm.uninstall(render.CONTROLLER_RELEASE, render.CONTROLLER_NAMESPACE):
            removed.append(render.CONTROLLER_RELEASE)
    return removed


# --- status -----------------------------------------------------------------------------
def status_report(
    loaded: RunnerFile | None, *, context: str | None = None, kubeconfig: str | None = None
) -> dict[str, Any]:
    """Controller, listeners, scale sets, runners and the last error, as ARC reports them."""
    where = target(loaded, context, kubeconfig)
    kubectl = Kubectl(where, binary=_require("kubectl"))
    ns, runners_ns = render.CONTROLLER_NAMESPACE, render.RUNNERS_NAMESPACE
    deployments = kubectl.items("deployments", ns, CONTROLLER_SELECTOR)
    controller = "not installed"
    if deployments:
        st = deployments[0].get("status", {})
        controller = f"{st.get('readyReplicas', 0)}/{st.get('replicas', 0)} ready"
    listeners = [
        {"name": _name(p), "phase": p.get("status", {}).get("phase", "")}
        for p in kubectl.items("pods", ns, LISTENER_SELECTOR)
    ]
    scale_set_objs = kubectl.items("autoscalingrunnersets", runners_ns)
    scale_sets = [_scale_set(o) for o in scale_set_objs]
    runner_sets = kubectl.items("ephemeralrunnersets", runners_ns)
    runners = [_runner(o) for o in kubectl.items("ephemeralrunners", runners_ns)]
    errors = [m for o in [*scale_set_objs, *runner_sets] for m in _messages(o)]
    errors += [r["message"] for r in runners if r["message"]]
    if not errors:
        log = kubectl.logs(ns, CONTROLLER_SELECTOR)
        errors = [ln for ln in log.splitlines() if "error" in ln.lower()]
    return {
        "context": where.context,
        "controller": controller,
        "listeners": listeners,
        "scaleSets": scale_sets,
        "runners": runners,
        "lastError": errors[-1] if errors else "",
    }


def _name(obj: Mapping[str, Any]) -> str:
    return str(obj.get("metadata", {}).get("name", ""))


def _scale_set(obj: Mapping[str, Any]) -> dict[str, Any]:
    spec, st = obj.get("spec", {}), obj.get("status", {})
    return {
        "name": _name(obj),
        "minRunners": spec.get("minRunners"),
        "maxRunners": spec.get("maxRunners"),
        "currentRunners": st.get("currentRunners", 0),
        "pending": st.get("pendingEphemeralRunners", 0),
        "running": st.get("runningEphemeralRunners", 0),
        "failed": st.get("failedEphemeralRunners", 0),
    }


def _runner(obj: Mapping[str, Any]) -> dict[str, Any]:
    st = obj.get("status", {})
    return {
        "name": _name(obj),
        "phase": st.get("phase", ""),
        "reason": st.get("reason", ""),
        "message": st.get("message", ""),
    }


def _messages(obj: Mapping[str, Any]) -> list[str]:
    """Error text an ARC object's status carries (a message, or failed conditions)."""
    st = obj.get("status", {})
    out = [str(st["message"])] if st.get("message") else []
    for cond in st.get("conditions", []) or []:
        if isinstance(cond, dict) and cond.get("message") and cond.get("status") != "True":
            out.append(str(cond["message"]))
    return out
