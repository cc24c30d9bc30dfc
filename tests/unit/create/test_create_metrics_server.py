"""Create applies the metrics-server addon only when the config asks and the image has it."""

from __future__ import annotations

from dataclasses import replace

from memory_engine import MemoryEngine

from nestkube import metrics_server
from nestkube.config import default_config
from nestkube.create import objects, plan
from nestkube.create.context import CreateContext
from nestkube.status import Status


class Warnings(Status):
    def __init__(self) -> None:
        super().__init__(quiet=True)
        self.said: list[str] = []

    def warn(self, message: str) -> None:
        self.said.append(message)


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
