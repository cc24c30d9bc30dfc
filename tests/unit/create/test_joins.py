"""Joins that overlap `kubeadm init`: when they start, what they wait for, what init skips."""

from __future__ import annotations

import io
import tarfile
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fakes_engine import AnsweringProvider

from nestkube._exec import Result
from nestkube.config import default_config
from nestkube.create import actions, joins
from nestkube.create.context import CreateContext
from nestkube.host import HostFacts
from nestkube.providers.base import ProviderInfo
from nestkube.status import SILENT

INFO = ProviderInfo("podman", "podman", "4.3.1", False, HostFacts())


def test_joins_start_while_init_still_runs() -> None:
    release = threading.Event()
    events: list[str] = []
    polls = iter([False, False, True])

    def init() -> None:
        release.wait(10)
        events.append("init done")

    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(init)
        joined, _ = joins.start_when_ready(
            running, lambda: next(polls), lambda: events.append("joined")
        )
        assert joined is not None
        joined.result(timeout=10)
        assert events == ["joined"]  # init has not finished: the join overlapped it
        release.set()
    assert events == ["joined", "init done"]


def test_joins_start_once_init_succeeded_even_if_no_poll_saw_the_token() -> None:
    done: Future[None] = Future()
    done.set_result(None)
    joined, _ = joins.start_when_ready(done, lambda: False, lambda: None)
    assert joined is not None
    joined.result(timeout=10)


def test_no_join_starts_when_init_failed() -> None:
    failed: Future[None] = Future()
    failed.set_exception(RuntimeError("kubeadm init failed"))
    started: list[str] = []
    joined, _ = joins.start_when_ready(failed, lambda: False, lambda: started.append("x"))
    assert joined is None and started == []


class ClusterInfo(AnsweringProvider):
    def __init__(self, result: Result) -> None:
        super().__init__(INFO)
        self.result = result
        self.asked: list[list[str]] = []

    def answer(self, node: str, argv: list[str]) -> Result:
        self.asked.append(argv)
        return self.result


@pytest.mark.parametrize(
    ("result", "made"),
    [
        # Made, signed or not: the joins discover the cluster from a file, not a signature.
        (Result([], 0, "configmap/cluster-info\n", ""), True),
        (Result([], 1, "", 'configmaps "cluster-info" not found'), False),
        (Result([], 1, "", "connection refused"), False),
        (Result([], 0, "", ""), False),
    ],
)
def test_joins_may_start_once_cluster_info_is_made(result: Result, made: bool) -> None:
    engine = ClusterInfo(result)
    kubectl: Sequence[str] = ["kubectl", "--kubeconfig=/etc/kubernetes/admin.conf"]
    assert joins.cluster_info_made(engine, "n", kubectl) is made
    assert engine.asked[0][2:] == [
        "get",
        "configmap",
        "cluster-info",
        "-n",
        "kube-public",
        "-o",
        "name",
    ]


def test_addons_are_deferred_except_those_skipped_or_on_v1beta2() -> None:
    assert joins.deferred_addons("v1.37.2", ["preflight"]) == joins.ADDON_PHASES
    assert joins.deferred_addons("v1.37.2", ["preflight", "addon/coredns"]) == ("addon/kube-proxy",)
    assert joins.deferred_addons("v1.20.2", ["preflight"]) == ()


class Kubeadm(AnsweringProvider):
    """Records every command; `kubeadm init` ends only when the test says so."""

    def __init__(self) -> None:
        super().__init__(INFO)
        self.commands: list[tuple[str, list[str]]] = []
        self.finish_init = threading.Event()
        self.lock = threading.Lock()

    def answer(self, node: str, argv: list[str]) -> Result:
        with self.lock:
            self.commands.append((node, argv))
        if argv[:2] == ["kubeadm", "init"] and "phase" not in argv:
            assert self.finish_init.wait(10)
        if argv[:2] == ["kubeadm", "join"]:
            self.finish_init.set()  # a join ran while init was still running
        if "cluster-info" in argv:
            return Result(argv, 0, "configmap/cluster-info\n", "")
        if argv[:3] == ["kubeadm", "kubeconfig", "user"]:
            return Result(argv, 0, "users:\n- user:\n    client-certificate-data: x\n", "")
        if argv == ["cat", "/etc/kubernetes/pki/ca.crt"]:
            return Result(
                argv, 0, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", ""
            )
        return Result(argv, 0, "", "")


TOKEN_ID = "abcdef"


def test_kubeadm_init_overlaps_the_joins_and_installs_the_addons_after(tmp_path: Path) -> None:
    engine = Kubeadm()
    ctx = CreateContext(
        config=default_config("j", workers=2),
        provider=engine,
        status=SILENT,
        token=f"{TOKEN_ID}.0123456789abcdef",
    )
    actions.plan_nodes(ctx, "img")
    ctx.kubernetes_version = "v1.37.2"
    ctx.node_ips = {s.name: f"10.0.0.{i + 2}" for i, s in enumerate(ctx.specs)}
    actions.kubeadm_init(ctx)
    actions.join_nodes(ctx)
    kubeadm = [(node, argv) for node, argv in engine.commands if argv[0] == "kubeadm"]
    init = next(argv for _, argv in kubeadm if argv[:2] == ["kubeadm", "init"])
    # init leaves the addons out (on its command line) and runs them afterwards.
    assert "--skip-phases=preflight,addon/coredns,addon/kube-proxy" in init
    phases = [argv[3:5] for _, argv in kubeadm if argv[:3] == ["kubeadm", "init", "phase"]]
    assert phases == [["addon", "coredns"], ["addon", "kube-proxy"]]
    joined = sorted(node for node, argv in kubeadm if argv[:2] == ["kubeadm", "join"])
    assert joined == ["j-worker", "j-worker2"]
    # The CA for the joins' discovery file is read once, from the first control plane.
    read_ca = [
        node for node, argv in engine.commands if argv[:2] == ["cat", "/etc/kubernetes/pki/ca.crt"]
    ]
    assert read_ca == ["j-control-plane"]
    # Each worker's kubelet certificate is signed on the first control plane: no TLS bootstrap.
    issued = sorted(
        argv[3] for node, argv in kubeadm if argv[:3] == ["kubeadm", "kubeconfig", "user"]
    )
    assert issued == ["--client-name=system:node:j-worker", "--client-name=system:node:j-worker2"]
    assert {node for node, argv in kubeadm if argv[1] == "kubeconfig"} == {"j-control-plane"}


class Tar(AnsweringProvider):
    """Keeps the tar archives written into nodes."""

    def __init__(self) -> None:
        super().__init__(INFO)
        self.archives: list[bytes] = []

    def exec(self, node: str, args: Sequence[str], **kwargs: Any) -> Result:
        data = kwargs.get("input")
        assert isinstance(data, bytes)
        self.archives.append(data)
        return Result(list(args), 0, "", "")


def test_credentials_are_written_for_root_only() -> None:
    engine = Tar()
    ctx = CreateContext(config=default_config("j"), provider=engine, status=SILENT)
    files = {"/etc/nestkube/kubeadm.yaml": "a", "/etc/kubernetes/kubelet.conf": "key"}
    actions.write_files(ctx, "n", files, private=["/etc/kubernetes/kubelet.conf"])
    with tarfile.open(fileobj=io.BytesIO(engine.archives[0])) as tar:
        modes = {m.name: m.mode for m in tar.getmembers()}
    assert modes == {"etc/nestkube/kubeadm.yaml": 0o644, "etc/kubernetes/kubelet.conf": 0o600}
