"""Clusters without the DNS addon: kubeadm skips CoreDNS and pods get a nameserver that never
answers (127.0.0.1), whether the config turns the addon off or the node image lacks CoreDNS.

The kubeadm config written to the node and the `kubeadm init` command line are what an engine
that records node commands sees; nothing runs.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
import yaml
from fakes_engine import AnsweringProvider, unwrapped

from nestkube._exec import Result
from nestkube.config import ClusterConfig, default_config, load_config
from nestkube.create import bootstrap, plan
from nestkube.create.context import CreateContext
from nestkube.host import HostFacts
from nestkube.kubeadm.config import render_init_config, render_join_config
from nestkube.providers.base import ProviderInfo
from nestkube.status import SILENT, Status

COREDNS = "registry.k8s.io/coredns/coredns:v1.12.1"
NO_DNS = """\
kind: Cluster
apiVersion: nestkube.io/v1alpha1
name: dns
dnsAddon: false
nodes: [{role: control-plane}, {role: worker}]
"""


class RecordingProvider(AnsweringProvider):
    """Records the commands run in nodes; each succeeds with no output."""

    def __init__(self) -> None:
        super().__init__(ProviderInfo("podman", "podman", "4.3.1", False, HostFacts()))
        self.commands: list[list[str]] = []

    def answer(self, node: str, argv: list[str]) -> Result:
        self.commands.append(unwrapped(argv))
        return Result(argv, 0, "", "")


def context(config: ClusterConfig, version: str, missing: tuple[str, ...] = ()) -> CreateContext:
    ctx = CreateContext(config=config, provider=RecordingProvider(), status=SILENT)
    plan.plan_nodes(ctx, "localhost/nestkube/node:test")
    ctx.kubernetes_version = version
    ctx.missing_images = missing
    for i, spec in enumerate(ctx.specs):
        ctx.node_ips[spec.name] = f"10.89.0.{i + 2}"
    return ctx


def init_docs(ctx: CreateContext) -> dict[str, dict[str, Any]]:
    text = render_init_config(plan.node_params(ctx, ctx.control_planes[0]))
    return {d["kind"]: d for d in yaml.safe_load_all(text)}


def init_command(ctx: CreateContext) -> list[str]:
    bootstrap.kubeadm_init(ctx)
    assert isinstance(ctx.provider, RecordingProvider)
    [command] = [
        c for c in ctx.provider.commands if c[:2] == ["kubeadm", "init"] and "phase" not in c
    ]
    return command


def addon_phases(ctx: CreateContext) -> list[list[str]]:
    """Addon phases run apart from init, as [addon, name] (none: init runs its addons)."""
    assert isinstance(ctx.provider, RecordingProvider)
    return [c[3:5] for c in ctx.provider.commands if c[:4] == ["kubeadm", "init", "phase", "addon"]]


CASES = [
    pytest.param(load_config("c.yaml", text=NO_DNS), (), id="config-off"),
    pytest.param(default_config("dns", workers=1), (COREDNS,), id="image-without-coredns"),
]


@pytest.mark.parametrize(("config", "missing"), CASES)
def test_no_dns_addon_points_pods_at_loopback_v1beta4(
    config: ClusterConfig, missing: tuple[str, ...]
) -> None:
    ctx = context(config, "v1.37.2", missing)
    docs = init_docs(ctx)
    assert docs["KubeletConfiguration"]["clusterDNS"] == ["127.0.0.1"]
    assert docs["InitConfiguration"]["skipPhases"] == ["preflight", "addon/coredns"]
    # v1beta3 and later carry the phases in the config; init runs the addons it keeps.
    assert not [a for a in init_command(ctx) if a.startswith("--skip-phases")]
    assert addon_phases(ctx) == []


@pytest.mark.parametrize(("config", "missing"), CASES)
def test_no_dns_addon_v1beta2_skips_on_the_command_line(
    config: ClusterConfig, missing: tuple[str, ...]
) -> None:
    ctx = context(config, "v1.20.2", missing)
    assert init_docs(ctx)["KubeletConfiguration"]["clusterDNS"] == ["127.0.0.1"]
    assert "--skip-phases=preflight,addon/coredns" in init_command(ctx)


def test_with_the_dns_addon_kubeadm_keeps_its_service_address() -> None:
    ctx = context(default_config("dns", workers=1), "v1.37.2")
    docs = init_docs(ctx)
    assert "clusterDNS" not in docs["KubeletConfiguration"]
    assert docs["InitConfiguration"]["skipPhases"] == ["preflight"]
    assert plan.dns_addon(ctx)


def test_only_the_init_config_carries_skip_phases() -> None:
    ctx = context(load_config("c.yaml", text=NO_DNS), "v1.37.2")
    worker = plan.node_params(ctx, ctx.workers[0])
    assert worker.skip_phases == ()
    assert "skipPhases" not in yaml.safe_load(render_join_config(worker))


def test_kube_proxy_none_and_no_dns_skip_both() -> None:
    config = load_config("c.yaml", text=NO_DNS + "networking: {kubeProxyMode: none}\n")
    ctx = context(config, "v1.37.2")
    assert plan.init_skip_phases(ctx) == ("preflight", "addon/coredns", "addon/kube-proxy")


def test_a_missing_coredns_image_is_warned_about_a_config_choice_is_not() -> None:
    out = io.StringIO()
    ctx = context(default_config("dns", workers=1), "v1.37.2", (COREDNS,))
    ctx.status = Status(stream=out)
    bootstrap.kubeadm_init(ctx)
    assert "CoreDNS is not in the node image" in out.getvalue()
    out = io.StringIO()
    ctx = context(load_config("c.yaml", text=NO_DNS), "v1.37.2")
    ctx.status = Status(stream=out)
    bootstrap.kubeadm_init(ctx)
    assert "CoreDNS" not in out.getvalue()
