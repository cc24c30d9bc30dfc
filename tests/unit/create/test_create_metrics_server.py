"""Create applies the metrics-server addon only when the config asks and the image has it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest
from memory_engine import MemoryEngine, Warnings

from nestkube import metrics_server
from nestkube.config import default_config
from nestkube.create import kubelet_certs, objects, plan
from nestkube.create.context import CreateContext
from nestkube.create.kubelet_certs import SIGNER
from nestkube.errors import ClusterError
from nestkube.status import Status


def manifest(on: bool, preloaded: tuple[str, ...]) -> tuple[str, list[str]]:
    status = Warnings()
    config = replace(default_config("m"), metrics_server=on, default_storage_class=False)
    ctx = CreateContext(config=config, provider=MemoryEngine(), status=status)
    plan.plan_nodes(ctx, "localhost/nestkube/node:v1.37.2")
    ctx.kubernetes_version = "v1.37.2"
    ctx.preloaded_images = preloaded
    return objects.cluster_manifest(ctx), status.said


def test_create_applies_the_addon_only_when_asked_and_preloaded() -> None:
    text, warnings = manifest(True, (metrics_server.IMAGE,))
    assert "v1beta1.metrics.k8s.io" in text and not warnings
    text, warnings = manifest(False, (metrics_server.IMAGE,))
    assert "metrics-server" not in text and not warnings
    text, warnings = manifest(True, ())
    assert "metrics-server" not in text
    assert "no localhost/nestkube/metrics-server" in warnings[0]


def test_the_kubelets_ask_for_serving_certificates_with_the_addon() -> None:
    config = replace(default_config("m", workers=1), metrics_server=True)
    ctx = CreateContext(config=config, provider=MemoryEngine(), status=Status(quiet=True))
    plan.plan_nodes(ctx, "localhost/nestkube/node:v1.37.2")
    ctx.kubernetes_version = "v1.37.2"
    ctx.node_ips = {s.name: f"10.89.0.{i + 2}" for i, s in enumerate(ctx.specs)}
    assert all(plan.node_params(ctx, s).kubelet_serving_certificates for s in ctx.specs)


class CsrEngine(MemoryEngine):
    """The memory engine whose control plane answers kubectl's CSR calls: the control plane's
    request is there from the start, the worker's shows up on the second listing."""

    def __init__(self) -> None:
        super().__init__()
        self.listings = 0
        self.approved: list[str] = []

    def exec(self, node: str, args: Sequence[str], **kw: Any) -> Any:
        if "csr" in args:
            self.listings += 1
            users = ["m-control-plane"] + (["m-worker"] if self.listings > 1 else [])
            items = [
                {
                    "metadata": {"name": f"csr-{user}"},
                    "spec": {"username": f"system:node:{user}", "signerName": SIGNER},
                    "status": {
                        "conditions": [{"type": "Approved"}]
                        if f"csr-{user}" in self.approved
                        else []
                    },
                }
                for user in users
            ]
            return SimpleNamespace(stdout=json.dumps({"items": items}), ok=True)
        if "approve" in args:
            self.approved += [a for a in args if a.startswith("csr-")]
            return SimpleNamespace(stdout="", ok=True)
        return super().exec(node, args, **kw)


def test_every_nodes_request_is_approved_as_it_comes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nestkube.create.kubelet_certs.time.sleep", lambda s: None)
    engine = CsrEngine()
    config = replace(default_config("m", workers=1), metrics_server=True)
    ctx = CreateContext(config=config, provider=engine, status=Status(quiet=True))
    plan.plan_nodes(ctx, "localhost/nestkube/node:v1.37.2")
    kubelet_certs.approve_serving_certificates(ctx)
    assert engine.approved == ["csr-m-control-plane", "csr-m-worker"]


def test_a_kubelet_that_never_asks_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(range(0, 10_000, 100))
    monkeypatch.setattr("nestkube.create.kubelet_certs.time.monotonic", lambda: float(next(clock)))
    monkeypatch.setattr("nestkube.create.kubelet_certs.time.sleep", lambda s: None)
    config = replace(default_config("m", workers=2), metrics_server=True)
    ctx = CreateContext(config=config, provider=CsrEngine(), status=Status(quiet=True))
    plan.plan_nodes(ctx, "localhost/nestkube/node:v1.37.2")
    with pytest.raises(ClusterError, match=r"for the kubelet of m-worker2 within \d+s \("):
        kubelet_certs.approve_serving_certificates(ctx)
