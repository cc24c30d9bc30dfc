"""Several control planes: the load balancer's plan, container, configuration and cleanup."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml
from memory_engine import ADMIN, MemoryEngine

from nestkube._exec import Result
from nestkube.config import default_config
from nestkube.create import checks, pipeline, plan, provision
from nestkube.create.context import CreateContext
from nestkube.errors import ClusterError, ConfigError
from nestkube.host import HostFacts
from nestkube.kubeadm.config import render_init_config, render_join_config
from nestkube.nodeops import files as node_files
from nestkube.nodeops import loadbalancer
from nestkube.providers.base import LABEL_API_PORT, Node, ProviderInfo
from nestkube.providers.podman import PodmanProvider
from nestkube.status import SILENT

IMAGE = "localhost/nestkube/node:v1.37.2"


def ha_context(
    engine: MemoryEngine, tmp_path: Path, name: str = "ha", cps: int = 3
) -> CreateContext:
    ctx = CreateContext(
        config=default_config(name, control_planes=cps, workers=1),
        provider=engine,
        status=SILENT,
        kubeconfig=str(tmp_path / "config"),
    )
    plan.plan_nodes(ctx, IMAGE)
    return ctx


def podman() -> PodmanProvider:
    host = HostFacts(nofile_hard=20000, nproc_hard=96365)
    return PodmanProvider(ProviderInfo("podman", "podman", "4.3.1", False, host))


def test_render_config_lists_each_control_plane_behind_a_readiness_check() -> None:
    text = loadbalancer.render_config(
        {"c-control-plane2": "10.0.0.3", "c-control-plane": "10.0.0.2"}
    )
    lines = [line.strip() for line in text.splitlines()]
    assert "bind *:6443" in lines
    assert "mode tcp" in lines
    servers = [line for line in lines if line.startswith("server ")]
    assert servers == [
        "server c-control-plane 10.0.0.2:6443",
        "server c-control-plane2 10.0.0.3:6443",
    ]
    assert "http-check send meth GET uri /readyz" in lines
    assert any(line.startswith("default-server check check-ssl verify none") for line in lines)


def test_render_config_brackets_ipv6_and_allows_no_servers() -> None:
    assert "server a [fd00::2]:6443" in loadbalancer.render_config({"a": "fd00::2"})
    assert "\n  server " not in loadbalancer.render_config({})


def test_one_control_plane_has_no_load_balancer(tmp_path: Path) -> None:
    ctx = ha_context(MemoryEngine(), tmp_path, cps=1)
    assert ctx.load_balancer is None
    assert ctx.specs[0].api_server_port != 0
    assert [s.name for s in ctx.containers] == ["ha-control-plane", "ha-worker"]


def test_several_control_planes_plan_a_load_balancer_that_publishes_the_api(
    tmp_path: Path,
) -> None:
    ctx = ha_context(MemoryEngine(), tmp_path)
    lb = ctx.load_balancer
    assert lb is not None and lb.name == "ha-external-load-balancer"
    assert lb.role == "external-load-balancer" and lb.api_server_port != 0
    # The control planes publish nothing: before, each asked for host port 0 and the second
    # failed in `podman run` ("port numbers must be between 1 and 65535, got 0").
    assert [s.api_server_port for s in ctx.specs] == [0, 0, 0, 0]
    assert [s.name for s in ctx.containers][-1] == lb.name


def test_the_load_balancer_container_is_plain_and_labelled(tmp_path: Path) -> None:
    ctx = ha_context(MemoryEngine(), tmp_path)
    assert ctx.load_balancer is not None
    lb = ctx.load_balancer
    args = podman().node_run_args(lb)
    joined = " ".join(args)
    assert "--privileged" not in args and "/var" not in joined
    assert f"--publish 127.0.0.1:{lb.api_server_port}:6443/tcp" in joined
    assert "--label io.nestkube.role=external-load-balancer" in joined
    assert f"--label {LABEL_API_PORT}={lb.api_server_port}" in joined
    assert "--ulimit nofile=16384:16384" in joined  # the host's hard limits apply here too
    assert "--restart always" in joined  # back after a host reboot, like the nodes
    for spec in ctx.control_planes:
        assert "--publish" not in podman().node_run_args(spec)


def test_kubeadm_configs_point_at_the_load_balancer_and_share_the_certificate_key(
    tmp_path: Path,
) -> None:
    ctx = ha_context(MemoryEngine(), tmp_path)
    ctx.kubernetes_version = "v1.37.2"
    for i, spec in enumerate(ctx.containers):
        ctx.node_ips[spec.name] = f"10.89.0.{i + 2}"
    lb_ip = ctx.node_ips["ha-external-load-balancer"]
    init = list(yaml.safe_load_all(render_init_config(plan.node_params(ctx, ctx.specs[0]))))
    init_cfg = next(d for d in init if d["kind"] == "InitConfiguration")
    cluster_cfg = next(d for d in init if d["kind"] == "ClusterConfiguration")
    assert cluster_cfg["controlPlaneEndpoint"] == f"{lb_ip}:6443"
    assert {"ha-external-load-balancer", lb_ip} <= set(cluster_cfg["apiServer"]["certSANs"])
    assert init_cfg["certificateKey"] == ctx.certificate_key
    assert len(ctx.certificate_key) == 64  # kubeadm wants 32 bytes, hex-encoded
    second = yaml.safe_load(render_join_config(plan.node_params(ctx, ctx.specs[1])))
    assert second["controlPlane"]["certificateKey"] == ctx.certificate_key
    worker = yaml.safe_load(render_join_config(plan.node_params(ctx, ctx.workers[0])))
    assert "controlPlane" not in worker
    # Every join discovers the cluster through the load balancer.
    for spec in [*ctx.control_planes[1:], *ctx.workers]:
        assert plan.node_params(ctx, spec).control_plane_endpoint == f"{lb_ip}:6443"
    # Several control planes elect their controller manager and scheduler, as kubeadm does.
    assert "leader-elect" not in str(cluster_cfg)
    assert plan.node_params(ctx, ctx.specs[0]).leader_election


def test_a_single_control_plane_keeps_its_own_endpoint_and_no_key(tmp_path: Path) -> None:
    ctx = ha_context(MemoryEngine(), tmp_path, cps=1)
    ctx.kubernetes_version = "v1.37.2"
    ctx.node_ips = {"ha-control-plane": "10.89.0.2", "ha-worker": "10.89.0.3"}
    init = list(yaml.safe_load_all(render_init_config(plan.node_params(ctx, ctx.specs[0]))))
    assert init[1]["controlPlaneEndpoint"] == "10.89.0.2:6443"
    assert "certificateKey" not in init[0]


class PinningEngine(MemoryEngine):
    """An engine that pins containers to addresses from the top of its network."""

    def fixed_addresses(self, network: str, count: int) -> list[str]:
        return [f"10.1.0.{250 - i}" for i in range(count)]


def test_pinned_addresses_cover_the_load_balancer(tmp_path: Path) -> None:
    ctx = ha_context(PinningEngine(), tmp_path)
    provision.create_network(ctx)
    ips = [s.ip for s in ctx.containers]
    assert None not in ips and len(set(ips)) == 5


def test_a_failed_create_removes_the_load_balancer_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine = MemoryEngine()

    def boom(ctx: CreateContext) -> None:
        raise ClusterError("kubeadm: the reason")

    monkeypatch.setattr(
        pipeline,
        "steps",
        lambda ctx: [
            pipeline.Step("Preparing nodes", provision.provision_nodes),
            pipeline.Step("Starting the control plane (kubeadm init)", boom),
        ],
    )
    monkeypatch.setattr(checks, "preflight", lambda ctx: None)
    ctx = ha_context(engine, tmp_path)
    # Someone else's container with a cluster label stays.
    other = MemoryEngine().create_node(
        ha_context(MemoryEngine(), tmp_path, name="other").containers[-1]
    )
    engine.nodes[other.name] = other
    with pytest.raises(ClusterError):
        pipeline.run(ctx)
    assert sorted(engine.nodes) == ["other-external-load-balancer"]
    assert engine.volumes == {}


def test_kubernetes_nodes_leave_out_the_load_balancer(tmp_path: Path) -> None:
    ctx = ha_context(MemoryEngine(), tmp_path)
    assert loadbalancer.kubernetes_nodes(ctx.containers) == list(ctx.specs)
    assert loadbalancer.find(ctx.containers) is ctx.load_balancer
    assert loadbalancer.find(ctx.specs) is None


def test_a_name_too_long_for_the_load_balancer_is_refused() -> None:
    name = "a" * 45  # fits "-control-plane3" (63 characters) but not the load balancer's name
    default_config(name, control_planes=1)
    with pytest.raises(ConfigError, match="external-load-balancer"):
        default_config(name, control_planes=3)


def test_the_dry_run_plan_shows_the_load_balancer(monkeypatch: pytest.MonkeyPatch) -> None:
    from nestkube import cluster

    engine = podman()
    monkeypatch.setattr(engine, "image_exists", lambda image: False)
    monkeypatch.setattr(cluster, "resolve_engine", lambda choice, configured=None: engine)
    plan = cluster.dry_run_plan(default_config("dry", control_planes=2))
    nodes = plan["nodes"]
    assert isinstance(nodes, list)
    lb = nodes[-1]
    assert lb["name"] == "dry-external-load-balancer" and "kubeadmConfig" not in lb
    assert "--privileged" not in lb["run"]
    init = yaml.safe_load_all(nodes[0]["kubeadmConfig"])
    endpoint = next(d for d in init if d["kind"] == "ClusterConfiguration")["controlPlaneEndpoint"]
    assert endpoint == "<dry-external-load-balancer-address>:6443"


def test_load_logs_and_runners_find_the_nodes_without_the_load_balancer(tmp_path: Path) -> None:
    from nestkube.load import find_cluster

    engine = MemoryEngine()
    for spec in ha_context(engine, tmp_path).containers:
        engine.create_node(spec)
    found, nodes = find_cluster("ha", engines=[engine])
    assert found is engine
    assert "ha-external-load-balancer" in engine.nodes
    assert [n.name for n in nodes] == [
        "ha-control-plane",
        "ha-control-plane2",
        "ha-control-plane3",
        "ha-worker",
    ]


class WithAdmin(MemoryEngine):
    """A memory engine whose control planes hold an admin.conf and publish the API."""

    def exec(self, node: str, args: Sequence[str], **kw: object) -> Result:
        assert list(args) == ["cat", node_files.ADMIN_CONF] and node == "ha-control-plane"
        return Result(list(args), 0, ADMIN, "")

    def api_server_endpoint(self, node: Node) -> tuple[str, int]:
        assert node.role == "external-load-balancer"
        return "127.0.0.1", 40443


def test_kubeconfigs_go_through_the_load_balancer(tmp_path: Path) -> None:
    from nestkube import cluster

    engine = WithAdmin()
    for spec in ha_context(engine, tmp_path).containers:
        engine.create_node(spec)
    lb_ip = engine.node_ip("ha-external-load-balancer", "nestkube-ha")
    external = yaml.safe_load(cluster.get_kubeconfig("ha", provider=engine))
    internal = yaml.safe_load(cluster.get_kubeconfig("ha", internal=True, provider=engine))
    assert external["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:40443"
    assert internal["clusters"][0]["cluster"]["server"] == f"https://{lb_ip}:6443"


def test_the_load_balancer_image_is_ready_before_any_container_is_made(tmp_path: Path) -> None:
    names = [s.name for s in pipeline.steps(ha_context(MemoryEngine(), tmp_path))]
    image, nodes = names.index("Preparing the load balancer image"), names.index("Preparing nodes")
    configured = names.index("Configuring the load balancer")
    assert image < nodes < configured < names.index("Starting the control plane (kubeadm init)")
