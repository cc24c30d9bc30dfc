"""Pod CIDRs planned before any node exists, the kubeadm config that keeps the controller
manager from allocating others, and a create whose steps hold no wait for them."""

from __future__ import annotations

import io
import tarfile
import threading
from concurrent.futures import Future
from dataclasses import replace

import pytest
import yaml
from fakes_engine import join_material_answer

from nestkube._exec import Result
from nestkube.config import default_config
from nestkube.create import (
    bootstrap,
    checks,
    configure,
    finish,
    objects,
    pipeline,
    plan,
    provision,
    workers,
)
from nestkube.create.context import CreateContext
from nestkube.errors import ConfigError
from nestkube.host import HostFacts
from nestkube.kubeadm import agent_access
from nestkube.kubeadm.config import KubeadmParams, render_init_config
from nestkube.kubeadm.pod_cidrs import (
    CONTAINER_LABEL,
    NODE_LABEL,
    from_label_value,
    label_value,
    node_prefix,
    plan_pod_cidrs,
)
from nestkube.nodeops import files as node_files
from nestkube.providers.base import ProviderInfo
from nestkube.providers.podman import PodmanProvider
from nestkube.status import SILENT


def test_node_i_gets_block_i_of_the_pod_subnet() -> None:
    assert plan_pod_cidrs("10.244.0.0/16", 3) == ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"]
    # The same inputs, the same plan: nothing random, nothing learned from the API.
    assert plan_pod_cidrs("10.244.0.0/16", 3) == plan_pod_cidrs("10.244.0.0/16", 3)


def test_a_later_node_gets_the_first_free_block() -> None:
    taken = ["10.244.0.0/24", "10.244.2.0/24"]
    assert plan_pod_cidrs("10.244.0.0/16", 2, taken) == ["10.244.1.0/24", "10.244.3.0/24"]


@pytest.mark.parametrize(
    ("subnet", "prefix"),
    [("10.244.0.0/16", 24), ("10.0.0.0/8", 24), ("10.244.0.0/22", 26), ("10.1.0.0/24", 28)],
)
def test_small_subnets_get_smaller_blocks_for_16_nodes(subnet: str, prefix: int) -> None:
    assert node_prefix(subnet) == prefix


@pytest.mark.parametrize(
    ("subnet", "count", "message"),
    [
        ("10.1.0.0/25", 1, r"^networking.podSubnet 10.1.0.0/25 is too small"),
        ("10.1.0.0/24", 17, r"^networking.podSubnet 10.1.0.0/24 has no room for 17 more nodes"),
        ("fd00:10:244::/56", 1, r"only IPv4 pod networks work yet$"),
        ("nonsense", 1, r"is not a CIDR$"),
    ],
)
def test_plans_that_cannot_be_are_one_line(subnet: str, count: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        plan_pod_cidrs(subnet, count)


def test_label_values_round_trip() -> None:
    assert label_value("10.244.1.0/24") == "10.244.1.0-24"
    assert from_label_value("10.244.1.0-24") == "10.244.1.0/24"


def controller_manager_args(**overrides: object) -> dict[str, str]:
    params = KubeadmParams(
        kubernetes_version="v1.37.2",
        cluster_name="c",
        node_name="c-control-plane",
        node_ip="10.89.0.254",
        control_plane_endpoint="10.89.0.254:6443",
        api_server_cert_sans=(),
        **overrides,  # type: ignore[arg-type]
    )
    docs = list(yaml.safe_load_all(render_init_config(params)))
    cluster = next(d for d in docs if d["kind"] == "ClusterConfiguration")
    proxy = next(d for d in docs if d["kind"] == "KubeProxyConfiguration")
    assert proxy["clusterCIDR"] == "10.244.0.0/16"
    return {a["name"]: a["value"] for a in cluster["controllerManager"]["extraArgs"]}


def test_the_controller_manager_allocates_no_cidrs_when_nestkube_plans_them() -> None:
    assert controller_manager_args(allocate_node_cidrs=False)["allocate-node-cidrs"] == "false"
    assert "allocate-node-cidrs" not in controller_manager_args()


def test_one_control_plane_runs_its_controller_manager_and_scheduler_without_election() -> None:
    assert controller_manager_args(leader_election=False)["leader-elect"] == "false"
    assert "leader-elect" not in controller_manager_args()
    ctx = planned()
    params = plan.node_params(ctx, ctx.specs[0])
    assert not params.leader_election
    docs = list(yaml.safe_load_all(render_init_config(params)))
    cluster = next(d for d in docs if d["kind"] == "ClusterConfiguration")
    assert {"name": "leader-elect", "value": "false"} in cluster["scheduler"]["extraArgs"]


def planned(disable_default_cni: bool = False) -> CreateContext:
    config = default_config("c", workers=2)
    networking = replace(config.networking, disable_default_cni=disable_default_cni)
    config = replace(config, networking=networking)
    info = ProviderInfo("podman", "podman", "4.3.1", False, HostFacts())
    ctx = CreateContext(config=config, provider=PodmanProvider(info), status=SILENT)
    plan.plan_nodes(ctx, "node:1")
    ctx.node_ips = {s.name: f"10.89.0.{254 - i}" for i, s in enumerate(ctx.specs)}
    ctx.kubernetes_version = "v1.37.2"
    return ctx


def test_create_records_the_plan_on_containers_and_kubelets() -> None:
    ctx = planned()
    assert ctx.pod_cidrs == {
        "c-control-plane": "10.244.0.0/24",
        "c-worker": "10.244.1.0/24",
        "c-worker2": "10.244.2.0/24",
    }
    assert [s.labels[CONTAINER_LABEL] for s in ctx.specs] == list(ctx.pod_cidrs.values())
    params = plan.node_params(ctx, ctx.specs[2])
    assert params.node_labels[NODE_LABEL] == "10.244.2.0-24"
    assert not plan.node_params(ctx, ctx.specs[0]).allocate_node_cidrs


def test_a_cni_of_the_users_own_keeps_the_controller_managers_cidrs() -> None:
    ctx = planned(disable_default_cni=True)
    assert ctx.pod_cidrs == {}
    assert CONTAINER_LABEL not in ctx.specs[0].labels
    assert plan.node_params(ctx, ctx.specs[0]).allocate_node_cidrs
    setup, _ = configure.node_setup(ctx, ctx.specs[0])
    assert list(setup.files) == [node_files.CONTAINERD_CONF]
    assert not setup.routes and not setup.rules and setup.last_file is None
    assert not objects.agent_authorized(ctx)


def names(ctx: CreateContext) -> list[str]:
    return [s.name for s in pipeline.steps(ctx) if s.needed(ctx)]


def test_pod_networking_is_in_place_before_kubeadm_and_nothing_waits_for_cidrs() -> None:
    ctx = planned()
    steps = names(ctx)
    assert steps.index("Booting and configuring nodes") < steps.index(
        "Starting the control plane (kubeadm init)"
    )
    assert not [s for s in steps if "pod" in s.lower()]
    # The CNI config, routes and masquerade rule are part of each node's setup.
    setup, _ = configure.node_setup(ctx, ctx.specs[0])
    assert node_files.CNI_CONF in setup.files and setup.routes and setup.rules
    assert "Installing the cluster's objects" in steps and objects.agent_authorized(ctx)
    steps_modules = (bootstrap, checks, configure, finish, objects, provision, workers)
    assert not any(hasattr(module, "read_pod_cidrs") for module in steps_modules)


def test_the_agents_kubeconfig_is_admin_confs_server_and_ca_with_its_token() -> None:
    admin = yaml.safe_dump(
        {
            "clusters": [
                {
                    "name": "k",
                    "cluster": {
                        "server": "https://10.89.0.2:6443",
                        "certificate-authority-data": "Q0E=",
                    },
                }
            ],
            "users": [{"name": "admin", "user": {"client-key-data": "S0VZ"}}],
        }
    )
    config = yaml.safe_load(agent_access.agent_kubeconfig(admin, "tok"))
    assert config["clusters"][0]["cluster"] == {
        "server": "https://10.89.0.2:6443",
        "certificate-authority-data": "Q0E=",
    }
    assert config["users"] == [{"name": "nestkube-netd", "user": {"token": "tok"}}]
    assert "S0VZ" not in agent_access.agent_kubeconfig(admin, "tok")
    # It may read Nodes and nothing else.
    role = next(d for d in yaml.safe_load_all(agent_access.RBAC) if d["kind"] == "ClusterRole")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]}
    ]


class AgentNodes:
    """Answers the bootstrap node's apply with a token and admin.conf, and what joins ask;
    records every command with its input."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str], object]] = []
        self.lock = threading.Lock()
        self.info: object = None

    def exec(self, node: str, args: list[str], **kwargs: object) -> Result:
        with self.lock:
            self.calls.append((node, list(args), kwargs.get("input")))
        admin = (
            "clusters:\n- cluster: {server: 'https://10.89.0.254:6443', "
            "certificate-authority-data: Q0E=}\n"
        )
        material = join_material_answer(list(args))
        if material is not None:
            return material
        out = ""
        if args[0] == "sh" and "create token" in args[-1]:
            # As kubectl prints it: the token with no newline, then the echo, then admin.conf.
            out = "tok-123\n" + admin
        return Result(list(args), 0, out, "")


def written(data: object) -> dict[str, tuple[int, str]]:
    """A tar written into a node: path -> (mode, content)."""
    assert isinstance(data, bytes)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {
            "/" + m.name: (m.mode, tar.extractfile(m).read().decode())  # type: ignore[union-attr]
            for m in tar.getmembers()
        }


def test_every_node_gets_the_agents_kubeconfig_from_one_exec_on_the_bootstrap_node() -> None:
    ctx = planned()
    nodes = AgentNodes()
    nodes.info = ctx.provider.info
    ctx.provider = nodes  # type: ignore[assignment]
    ctx.workers_prepared = Future()  # the workers are made and set up (beside init)
    ctx.workers_prepared.set_result({})
    bootstrap.join_all(ctx)
    objects.install_cluster_objects(ctx)
    applies = [c for c in nodes.calls if c[1][0] == "sh" and "create token" in c[1][-1]]
    [(node, argv, manifest)] = applies
    assert node == "c-control-plane" and agent_access.RBAC in str(manifest)
    assert "create token nestkube-netd --duration=87600h && echo && cat" in argv[-1]
    # Every node gets its copy after init (the joins do not wait for the apply).
    given = {
        node: written(data)[agent_access.KUBECONFIG]
        for node, _, data in nodes.calls
        if isinstance(data, bytes) and agent_access.KUBECONFIG in written(data)
    }
    assert sorted(given) == ["c-control-plane", "c-worker", "c-worker2"]
    for mode, text in given.values():
        assert mode == 0o600
        config = yaml.safe_load(text)
        assert config["users"][0]["user"] == {"token": "tok-123"}
        assert config["clusters"][0]["cluster"]["server"] == "https://10.89.0.254:6443"
