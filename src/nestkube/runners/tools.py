"""Thin wrappers over the ``helm`` and ``kubectl`` CLIs, through :func:`nestkube._exec.run`.

Both take the kubeconfig context explicitly, so the same commands serve a nestkube cluster
and any other one. Secrets never appear in an argument list: manifests go to ``kubectl apply``
on stdin, and Helm values (which hold no token) are written to a 0600 file in a private
temporary directory that is removed as soon as Helm returns.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nestkube import _exec
from nestkube.defaults import HELM_ENV as HELM_ENV
from nestkube.errors import CommandError, ImageBuildError
from nestkube.kit.gomod import cached
from nestkube.kit.helm import HELM_BUILD
from nestkube.kit.toolchain import modules_toolchain
from nestkube.runners.kit import ARC_CHART_VERSION

# ARC's published charts (OCI), at the version of the pinned ARC module (see runners.kit).
OCI_CHARTS = "oci://ghcr.io/actions/actions-runner-controller-charts"
CHART_VERSION = ARC_CHART_VERSION
CONTROLLER_CHART = "gha-runner-scale-set-controller"
SCALE_SET_CHART = "gha-runner-scale-set"
# Installing waits for the controller's pods; pulling a chart may be slow on a first run.
HELM_TIMEOUT = 600.0
KUBECTL_TIMEOUT = 60.0


def chart_ref(chart: str, chart_dir: str | None) -> tuple[str, list[str]]:
    """(chart reference, extra flags): a local chart directory, else the published OCI chart."""
    if chart_dir:
        return str(Path(chart_dir).expanduser() / chart), []
    return f"{OCI_CHARTS}/{chart}", ["--version", CHART_VERSION]


def find_helm(env: Mapping[str, str] | None = None) -> str | None:
    """$NESTKUBE_HELM, else helm on PATH, else a helm the kit built from its module earlier."""
    environ = os.environ if env is None else env
    if environ.get(HELM_ENV):
        return environ[HELM_ENV]
    on_path = _exec.which("helm")
    if on_path:
        return on_path
    try:
        built = cached(HELM_BUILD, modules_toolchain())
    except ImageBuildError:  # no Go here: nothing the kit could have built either
        return None
    return str(built.path("helm")) if built else None


@dataclass(frozen=True)
class Target:
    """Where commands go: a kubeconfig context (and optionally a kubeconfig file)."""

    context: str
    kubeconfig: str | None = None


@dataclass(frozen=True)
class Helm:
    target: Target
    binary: str = "helm"
    timeout: float = HELM_TIMEOUT

    def _base(self) -> list[str]:
        out = [self.binary, "--kube-context", self.target.context]
        if self.target.kubeconfig:
            out += ["--kubeconfig", self.target.kubeconfig]
        return out

    def upgrade_install(
        self,
        release: str,
        chart: str,
        namespace: str,
        values: Mapping[str, Any],
        *,
        flags: Sequence[str] = (),
    ) -> None:
        with tempfile.TemporaryDirectory(prefix="nestkube-helm-") as tmp:
            path = Path(tmp) / "values.yaml"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(yaml.safe_dump(dict(values), sort_keys=False))
            _exec.run(
                [
                    *self._base(),
                    "upgrade",
                    "--install",
                    release,
                    chart,
                    "--namespace",
                    namespace,
                    "--create-namespace",
                    "--values",
                    str(path),
                    "--wait",
                    "--timeout",
                    f"{int(self.timeout)}s",
                    *flags,
                ],
                timeout=self.timeout + 30,
                what=f"helm upgrade --install {release}",
            )

    def uninstall(self, release: str, namespace: str) -> bool:
        """Uninstall ``release``; False when it was not installed."""
        res = _exec.run(
            [
                *self._base(),
                "uninstall",
                release,
                "--namespace",
                namespace,
                "--wait",
                # helm's own default (5m) is shorter than ours and was hit by ARC's cleanup.
                "--timeout",
                f"{int(self.timeout)}s",
            ],
            check=False,
            timeout=self.timeout + 30,
        )
        if res.ok:
            return True
        if "not found" in res.stderr:
            return False
        raise CommandError(
            res.args, res.returncode, res.stdout, res.stderr, what=f"helm uninstall {release}"
        )

    def releases(self, namespace: str) -> list[dict[str, Any]]:
        res = _exec.run(
            [*self._base(), "list", "--namespace", namespace, "--all", "--output", "json"],
            timeout=KUBECTL_TIMEOUT,
            what="helm list",
        )
        data = json.loads(res.stdout or "[]")
        return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []


@dataclass(frozen=True)
class Kubectl:
    target: Target
    binary: str = "kubectl"
    timeout: float = KUBECTL_TIMEOUT

    def _base(self) -> list[str]:
        out = [self.binary, "--context", self.target.context]
        if self.target.kubeconfig:
            out += ["--kubeconfig", self.target.kubeconfig]
        return out

    def apply(self, manifests: Sequence[Mapping[str, Any]]) -> None:
        text = yaml.safe_dump_all([dict(m) for m in manifests], sort_keys=False)
        _exec.run(
            [*self._base(), "apply", "-f", "-"],
            input=text,
            timeout=self.timeout,
            what="kubectl apply",
        )

    def delete_labelled(self, kinds: str, namespace: str, selector: str) -> None:
        _exec.run(
            [
                *self._base(),
                "delete",
                kinds,
                "--namespace",
                namespace,
                "--selector",
                selector,
                "--ignore-not-found",
            ],
            timeout=self.timeout,
            what=f"kubectl delete {kinds}",
        )

    def delete_all_nowait(self, kind: str, namespace: str) -> None:
        """Start deleting every ``kind`` in ``namespace``; an unknown kind (no CRDs) is fine."""
        args = [*self._base(), "delete", kind, "--all", "--namespace", namespace]
        res = _exec.run(
            [*args, "--ignore-not-found", "--wait=false"], check=False, timeout=self.timeout
        )
        if not res.ok and "the server doesn't have a resource type" not in res.stderr:
            raise CommandError(
                res.args, res.returncode, res.stdout, res.stderr, what=f"kubectl delete {kind}"
            )

    def items(self, kind: str, namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
        """Objects of ``kind``; an empty list when the kind is unknown (no CRDs yet)."""
        args = [*self._base(), "get", kind, "--namespace", namespace, "--output", "json"]
        if selector:
            args += ["--selector", selector]
        res = _exec.run(args, check=False, timeout=self.timeout)
        if not res.ok:
            if "the server doesn't have a resource type" in res.stderr:
                return []
            raise CommandError(
                res.args, res.returncode, res.stdout, res.stderr, what=f"kubectl get {kind}"
            )
        data = json.loads(res.stdout or "{}")
        found = data.get("items", []) if isinstance(data, dict) else []
        return [i for i in found if isinstance(i, dict)]

    def logs(self, namespace: str, selector: str, tail: int = 200) -> str:
        res = _exec.run(
            [
                *self._base(),
                "logs",
                "--namespace",
                namespace,
                "--selector",
                selector,
                f"--tail={tail}",
                "--all-containers",
            ],
            check=False,
            timeout=self.timeout,
        )
        return res.stdout if res.ok else ""
