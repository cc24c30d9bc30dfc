"""What ``runners up`` applies, as data: Helm values for ARC's charts and the objects beside them.

Every instance of a runner is its own ARC scale set (Helm release), so each one has its own
cache directories, ``<cache root>/<runner>/<instance>/<n>`` on the host. The host's cache root
is mounted into every node at :data:`NODE_CACHE_ROOT` (a cluster requirement, returned by
:func:`node_mounts`) and reaches job pods as hostPath volumes.

Modes, in the terms of ARC's ``gha-runner-scale-set`` chart at the pinned version (0.6.1, see
:mod:`nestkube.runners.kit`):

- ``kubernetes``: ``containerMode.type: kubernetes``; jobs run in their own pods through ARC's
  container hooks, sharing the runner's work volume, an ephemeral claim on the cluster's
  default StorageClass (nestkube clusters have one: local-path).
- ``dind``: ``containerMode.type: dind``; the chart adds its docker:dind sidecar. Caches are
  mounted into the runner container (the chart owns the sidecar's mounts).
- ``privileged``: like ``kubernetes``, plus a container-hook template (a ConfigMap) that makes
  the job container privileged with /sys, /sys/fs/cgroup (bidirectional), /dev and /dev/shm,
  so dockerd runs inside the job.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nestkube.config.model import ExtraMount
from nestkube.runners.model import RunnerDoc, RunnerFile

CONTROLLER_NAMESPACE = "arc-systems"
CONTROLLER_RELEASE = "arc"
# The controller chart names its service account after the release.
CONTROLLER_SERVICE_ACCOUNT = f"{CONTROLLER_RELEASE}-gha-rs-controller"
# nestkube owns this namespace: every release in it is one of the file's instances.
RUNNERS_NAMESPACE = "nestkube-runners"
RUNNER_IMAGE = "ghcr.io/actions/actions-runner:latest"
NODE_CACHE_ROOT = "/nestkube/runner-cache"
# The work volume the chart's kubernetes mode claims per runner pod (job pods share it).
WORK_VOLUME_SIZE = "1Gi"
HOOK_TEMPLATE_DIR = "/home/runner/pod-template"
HOOK_TEMPLATE_KEY = "content"
MANAGED_BY = {"app.kubernetes.io/managed-by": "nestkube"}
RUNNER_LABEL = "nestkube.io/runner"


@dataclass(frozen=True)
class CacheDir:
    """One cache of one instance: where the job sees it, on the host, and on the node."""

    path: str
    host: Path
    node: str


@dataclass(frozen=True)
class Instance:
    runner: str
    index: int
    release: str
    caches: tuple[CacheDir, ...]

    @property
    def secret_name(self) -> str:
        return f"{self.release}-github"

    @property
    def hook_name(self) -> str:
        return f"{self.release}-hook-template"


def default_cache_root(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/nestkube/runners`` (``~/.cache`` when unset)."""
    environ = os.environ if env is None else env
    home = environ.get("XDG_CACHE_HOME") or str(Path(environ.get("HOME", "~")) / ".cache")
    return Path(home).expanduser() / "nestkube" / "runners"


def cache_root(loaded: RunnerFile, env: Mapping[str, str] | None = None) -> Path:
    root = loaded.doc.cache_root
    return loaded.resolve(root) if root else default_cache_root(env)


def config_url(runner: RunnerDoc) -> str:
    return runner.repository or f"https://github.com/{runner.org}"


def instances(runner: RunnerDoc, root: Path) -> list[Instance]:
    out = []
    for i in range(1, runner.instances + 1):
        release = runner.name if runner.instances == 1 else f"{runner.name}-{i}"
        caches = tuple(
            CacheDir(
                path=path,
                host=root / runner.name / str(i) / str(n),
                node=f"{NODE_CACHE_ROOT}/{runner.name}/{i}/{n}",
            )
            for n, path in enumerate(runner.caches, start=1)
        )
        out.append(Instance(runner.name, i, release, caches))
    return out


def node_mounts(root: Path) -> list[ExtraMount]:
    """What every node needs for host caches: the cache root at :data:`NODE_CACHE_ROOT`."""
    return [ExtraMount(host_path=str(root), container_path=NODE_CACHE_ROOT)]


def values(runner: RunnerDoc, inst: Instance) -> dict[str, Any]:
    """Helm values for ARC's ``gha-runner-scale-set`` chart for one instance."""
    container: dict[str, Any] = {
        "name": "runner",
        "image": runner.image or RUNNER_IMAGE,
        "command": ["/home/runner/run.sh"],
    }
    volumes: list[dict[str, Any]] = []
    if runner.mode == "dind":
        mode = "dind"
        if inst.caches:
            container["volumeMounts"] = _cache_mounts(inst)
            volumes += _cache_volumes(inst)
    else:
        mode = "kubernetes"
        if hook_template(runner, inst) is not None:
            container["env"] = [
                {
                    "name": "ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE",
                    "value": f"{HOOK_TEMPLATE_DIR}/{HOOK_TEMPLATE_KEY}",
                }
            ]
            container["volumeMounts"] = [
                {"name": "hook-template", "mountPath": HOOK_TEMPLATE_DIR, "readOnly": True}
            ]
            volumes.append({"name": "hook-template", "configMap": {"name": inst.hook_name}})
    spec: dict[str, Any] = {"containers": [container]}
    if volumes:
        spec["volumes"] = volumes
    out: dict[str, Any] = {
        "githubConfigUrl": config_url(runner),
        # A pre-made secret (applied from stdin): the values file never holds a token.
        "githubConfigSecret": inst.secret_name,
        "runnerScaleSetName": inst.release,
        "minRunners": runner.min,
        "maxRunners": runner.max,
        "controllerServiceAccount": {
            "namespace": CONTROLLER_NAMESPACE,
            "name": CONTROLLER_SERVICE_ACCOUNT,
        },
        "containerMode": {"type": mode},
        "template": {"spec": spec},
    }
    if mode == "kubernetes":
        # No storageClassName: the cluster's default class provisions it.
        out["containerMode"]["kubernetesModeWorkVolumeClaim"] = {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": WORK_VOLUME_SIZE}},
        }
    return out


def hook_template(runner: RunnerDoc, inst: Instance) -> dict[str, Any] | None:
    """The container-hook template for the job pod, or None when the job needs nothing extra."""
    if runner.mode == "dind" or (runner.mode == "kubernetes" and not inst.caches):
        return None
    job: dict[str, Any] = {"name": "$job"}
    mounts: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = []
    if runner.mode == "privileged":
        job["securityContext"] = {"privileged": True, "runAsUser": 0, "runAsGroup": 0}
        mounts += [
            {"name": "sys", "mountPath": "/sys"},
            # Bidirectional: cgroups dockerd makes inside the job must be visible to the node.
            {"name": "cgroup", "mountPath": "/sys/fs/cgroup", "mountPropagation": "Bidirectional"},
            {"name": "dev", "mountPath": "/dev"},
            {"name": "dev-shm", "mountPath": "/dev/shm"},
        ]
        volumes += [
            {"name": "sys", "hostPath": {"path": "/sys", "type": "Directory"}},
            {"name": "cgroup", "hostPath": {"path": "/sys/fs/cgroup", "type": "Directory"}},
            {"name": "dev", "hostPath": {"path": "/dev", "type": "Directory"}},
            # The job's own shared memory, not the node's.
            {"name": "dev-shm", "emptyDir": {"medium": "Memory"}},
        ]
    mounts += _cache_mounts(inst)
    volumes += _cache_volumes(inst)
    job["volumeMounts"] = mounts
    return {"spec": {"containers": [job], "volumes": volumes}}


def _cache_mounts(inst: Instance) -> list[dict[str, Any]]:
    return [{"name": f"cache-{n}", "mountPath": c.path} for n, c in enumerate(inst.caches, 1)]


def _cache_volumes(inst: Instance) -> list[dict[str, Any]]:
    return [
        {"name": f"cache-{n}", "hostPath": {"path": c.node, "type": "DirectoryOrCreate"}}
        for n, c in enumerate(inst.caches, 1)
    ]


def _meta(name: str, inst: Instance) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": RUNNERS_NAMESPACE,
        "labels": {**MANAGED_BY, RUNNER_LABEL: inst.runner},
    }


def secret(inst: Instance, data: Mapping[str, str]) -> dict[str, Any]:
    """The GitHub config secret (ARC's keys) for one instance."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(inst.secret_name, inst),
        "type": "Opaque",
        "stringData": dict(data),
    }


def hook_configmap(inst: Instance, template: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(inst.hook_name, inst),
        "data": {HOOK_TEMPLATE_KEY: yaml.safe_dump(dict(template), sort_keys=False)},
    }


def namespace() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": RUNNERS_NAMESPACE, "labels": dict(MANAGED_BY)},
    }
