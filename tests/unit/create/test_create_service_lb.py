"""Create applies MetalLB and its pool beside the last steps, when the config and image allow."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
from memory_engine import MemoryEngine, Warnings

from nestkube import metallb
from nestkube._exec import Result
from nestkube.config import default_config
from nestkube.create import plan, service_lb
from nestkube.create.context import CreateContext
from nestkube.errors import CommandError


class SubnetEngine(MemoryEngine):
    """The memory engine with a network subnet, recording the node execs."""

    def __init__(self, subnets: list[str], fail: bool = False) -> None:
        super().__init__()
        self.subnets = subnets
        self.fail = fail
        self.execs: list[tuple[str, str, str]] = []

    def network_subnets(self, name: str) -> list[str]:
        return self.subnets

    def exec(self, node: str, args: Sequence[str], **kw: Any) -> Any:
        self.execs.append((node, " ".join(args), str(kw.get("input") or "")))
        if self.fail:
            raise CommandError(list(args), 1, "", "error: no matches for kind")
        return Result(list(args), 0, "", "")


def context(
    engine: SubnetEngine, on: bool = True, preloaded: tuple[str, ...] = (metallb.CONTROLLER_IMAGE,)
) -> tuple[CreateContext, Warnings]:
    status = Warnings()
    config = replace(default_config("lb"), load_balancer_services=on)
    ctx = CreateContext(config=config, provider=engine, status=status)
    plan.plan_nodes(ctx, "localhost/nestkube/node:v1.37.2")
    ctx.preloaded_images = preloaded
    return ctx, status


def run(ctx: CreateContext) -> None:
    service_lb.start_applying(ctx)
    service_lb.applied(ctx)


def test_metallb_then_its_pool_are_applied_on_the_first_control_plane() -> None:
    engine = SubnetEngine(["10.89.4.0/24"])
    ctx, warnings = context(engine)
    ctx.node_ips = {ctx.bootstrap_node: "10.89.4.254"}
    run(ctx)
    assert not warnings.said
    [(node, script, stdin)] = engine.execs
    assert node == ctx.bootstrap_node
    apply_manifest = script.index(f"{metallb.API_HOST}/{ctx.node_ips[ctx.bootstrap_node]}/g")
    wait_crds = script.index("wait --for=condition=Established")
    apply_pool = script.rindex("apply -f -")
    assert apply_manifest < wait_crds < apply_pool
    pool = json.loads(stdin.split("---\n")[0])
    assert pool["spec"]["addresses"] == ["10.89.4.64-10.89.4.127"]


def test_switched_off_nothing_is_applied() -> None:
    engine = SubnetEngine(["10.89.4.0/24"])
    ctx, warnings = context(engine, on=False)
    run(ctx)
    assert engine.execs == [] and ctx.service_lb is None and not warnings.said


@pytest.mark.parametrize(
    ("subnets", "preloaded", "warning"),
    [
        (["10.89.4.0/24"], (), "has no localhost/nestkube/metallb-controller"),
        (["fd00:1::/64"], (metallb.CONTROLLER_IMAGE,), "no IPv4 subnet"),
    ],
)
def test_without_the_image_or_an_ipv4_subnet_create_warns_and_applies_nothing(
    subnets: list[str], preloaded: tuple[str, ...], warning: str
) -> None:
    engine = SubnetEngine(subnets)
    ctx, warnings = context(engine, preloaded=preloaded)
    run(ctx)
    assert engine.execs == []
    assert len(warnings.said) == 1 and warning in warnings.said[0]


def test_a_failed_apply_fails_the_create_at_the_next_check() -> None:
    engine = SubnetEngine(["10.89.4.0/24"], fail=True)
    ctx, _ = context(engine)
    ctx.node_ips = {ctx.bootstrap_node: "10.89.4.254"}
    service_lb.start_applying(ctx)
    service_lb.stop(ctx)  # waits for it
    with pytest.raises(CommandError):
        service_lb.raise_if_failed(ctx)
