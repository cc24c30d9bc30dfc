"""Config keys that become node container flags reach the engine's `run` command."""

from __future__ import annotations

from pathlib import Path

from memory_engine import MemoryEngine

from nestkube.config import ClusterConfig, Networking, Ulimits
from nestkube.create import plan
from nestkube.create.context import CreateContext
from nestkube.host import HostFacts
from nestkube.providers.base import ProviderInfo
from nestkube.providers.podman import PodmanProvider
from nestkube.status import SILENT


def run_args(cfg: ClusterConfig, tmp_path: Path) -> str:
    ctx = CreateContext(
        config=cfg,
        provider=MemoryEngine(),
        status=SILENT,
        kubeconfig=str(tmp_path / "config"),
    )
    plan.plan_nodes(ctx, "node:1")
    host = HostFacts(nofile_hard=20000, nproc_hard=96365)
    podman = PodmanProvider(ProviderInfo("podman", "podman", "4.3.1", False, host))
    return " ".join(podman.node_run_args(ctx.specs[0]))


def test_ulimits_become_ulimit_flags(tmp_path: Path) -> None:
    args = run_args(ClusterConfig(ulimits=Ulimits(nofile=4096, nproc=2048)), tmp_path)
    assert "--ulimit nofile=4096:4096 --ulimit nproc=2048:2048" in args


def test_unset_ulimits_stay_below_the_host_limits(tmp_path: Path) -> None:
    args = run_args(ClusterConfig(ulimits=Ulimits(nofile=4096)), tmp_path)
    # nproc: the largest power of two under half the host's hard limit.
    assert "--ulimit nofile=4096:4096 --ulimit nproc=32768:32768" in args
    assert "--ulimit nofile=16384:16384" in run_args(ClusterConfig(), tmp_path)


def test_dns_search_domains_become_dns_search_flags(tmp_path: Path) -> None:
    cfg = ClusterConfig(networking=Networking(dns_search=["a.example", "b.example"]))
    assert "--dns-search a.example --dns-search b.example" in run_args(cfg, tmp_path)


def test_empty_dns_search_means_none_and_unset_means_the_default(tmp_path: Path) -> None:
    no_search = ClusterConfig(networking=Networking(dns_search=[]))
    assert "--dns-search ." in run_args(no_search, tmp_path)
    assert "--dns-search" not in run_args(ClusterConfig(), tmp_path)
