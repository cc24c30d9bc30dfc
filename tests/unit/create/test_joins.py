"""Joins that overlap `kubeadm init`: when they start, what they wait for, what init skips."""

from __future__ import annotations

import io
import subprocess
import tarfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fakes_engine import AnsweringProvider, unwrapped

from nestkube._exec import Result
from nestkube.config import default_config
from nestkube.create import actions, joins
from nestkube.create.context import CreateContext
from nestkube.host import HostFacts
from nestkube.providers.base import ProviderInfo
from nestkube.status import SILENT

INFO = ProviderInfo("podman", "podman", "4.3.1", False, HostFacts())


class Init:
    """A stand-in for `kubeadm init` that runs until released; records what happened."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.events: list[str] = []

    def __call__(self) -> None:
        self.release.wait(10)
        self.events.append("init done")

    def joins_started(self, ready: Callable[[], bool], release_after: float | None) -> None:
        with ThreadPoolExecutor(max_workers=1) as pool:
            running = pool.submit(self)
            if release_after is not None:
                threading.Timer(release_after, self.release.set).start()
            joined, _ = joins.start_when_ready(running, ready, lambda: self.events.append("joined"))
            assert joined is not None
            joined.result(timeout=10)
            if release_after is None:
                assert self.events == ["joined"]  # init has not finished: the join overlapped it
                self.release.set()


def test_joins_start_while_init_still_runs() -> None:
    init = Init()
    init.joins_started(lambda: True, release_after=None)
    assert init.events == ["joined", "init done"]


@pytest.mark.parametrize("ready", [lambda: False, lambda: 1 / 0], ids=["ended", "waiter-failed"])
def test_joins_start_once_init_succeeded_when_the_waiter_cannot_tell(
    ready: Callable[[], bool],
) -> None:
    init = Init()
    init.joins_started(ready, release_after=0.2)
    assert init.events == ["init done", "joined"]


def test_no_join_starts_when_init_failed() -> None:
    failed: Future[None] = Future()
    failed.set_exception(RuntimeError("kubeadm init failed"))
    started: list[str] = []
    joined, _ = joins.start_when_ready(failed, lambda: True, lambda: started.append("x"))
    assert joined is None and started == []


class Waiter(AnsweringProvider):
    def __init__(self, result: Result) -> None:
        super().__init__(INFO)
        self.result = result
        self.asked: list[list[str]] = []

    def answer(self, node: str, argv: list[str]) -> Result:
        self.asked.append(argv)
        return self.result


@pytest.mark.parametrize(("code", "made"), [(0, True), (1, False), (124, False)])
def test_joins_may_start_once_init_is_past_its_bootstrap_token_phase(code: int, made: bool) -> None:
    engine = Waiter(Result([], code, "", ""))
    assert joins.cluster_info_made(engine, "n", 30) is made
    [argv] = engine.asked
    assert argv[:4] == ["timeout", "30", "sh", "-c"]
    assert joins.INIT_OUTPUT in argv[4] and "kubelet-finalize" in argv[4]


def test_init_output_is_copied_where_the_waiter_reads_it(tmp_path: Path) -> None:
    """The wrapper, run for real: output copied, the end marked, kubeadm's status kept."""
    out = tmp_path / "run" / "init.out"
    for status, lines in ((0, "[bootstrap-token] x\n[kubelet-finalize] y\n"), (3, "boom\n")):
        argv = joins.recorded(["sh", "-c", f"printf '{lines}'; exit {status}"])
        argv[2] = argv[2].replace(joins.INIT_OUTPUT, str(out))
        res = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        assert res.returncode == status and res.stdout == lines
        assert out.read_text() == res.stdout + f"{joins.ENDED} {status}\n"


class Local(AnsweringProvider):
    """Runs a node command here, with the init output's path moved under ``out``."""

    def __init__(self, out: Path) -> None:
        super().__init__(INFO)
        self.out = out

    def answer(self, node: str, argv: list[str]) -> Result:
        argv = [a.replace(joins.INIT_OUTPUT, str(self.out)) for a in argv]
        res = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return Result(argv, res.returncode, res.stdout, res.stderr)


@pytest.mark.parametrize(
    ("text", "made"),
    [
        ("[bootstrap-token] Creating the cluster-info ConfigMap\n[kubelet-finalize] x\n", True),
        ("[bootstrap-token] Creating the cluster-info ConfigMap\n[addons] Applied\n", True),
        (f"[etcd] x\nerror execution phase etcd\n{joins.ENDED} 1\n", False),
    ],
)
def test_the_waiter_reads_the_phase_or_the_end(tmp_path: Path, text: str, made: bool) -> None:
    out = tmp_path / "init.out"
    out.write_text(text)
    assert joins.cluster_info_made(Local(out), "n", 10) is made


def test_the_waiter_waits_for_the_phase(tmp_path: Path) -> None:
    out = tmp_path / "init.out"
    out.write_text("[bootstrap-token] Creating the cluster-info ConfigMap\n")
    timer = threading.Timer(0.5, lambda: out.write_text(out.read_text() + "[addons] x\n"))
    timer.start()
    assert joins.cluster_info_made(Local(out), "n", 10)
    timer.join()


class Kubeadm(AnsweringProvider):
    """Records every command; `kubeadm init` ends only when the test says so."""

    def __init__(self) -> None:
        super().__init__(INFO)
        self.commands: list[tuple[str, list[str]]] = []
        self.finish_init = threading.Event()
        self.lock = threading.Lock()

    def answer(self, node: str, argv: list[str]) -> Result:
        argv = unwrapped(argv)
        with self.lock:
            self.commands.append((node, argv))
        if argv[:2] == ["kubeadm", "init"] and "phase" not in argv:
            assert self.finish_init.wait(10)
        if argv[:2] == ["kubeadm", "join"]:
            self.finish_init.set()  # a join ran while init was still running
        if argv[0] == "timeout" and joins.INIT_OUTPUT in argv[-1]:
            return Result(argv, 0, "", "")  # init is past bootstrap-token
        if argv[:3] == ["kubeadm", "kubeconfig", "user"]:
            return Result(argv, 0, "users:\n- user:\n    client-certificate-data: x\n", "")
        if argv == ["cat", "/etc/kubernetes/pki/ca.crt"]:
            return Result(
                argv, 0, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", ""
            )
        return Result(argv, 0, "", "")


TOKEN_ID = "abcdef"


def test_kubeadm_init_overlaps_the_joins(tmp_path: Path) -> None:
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
    # init installs the addons itself (its config skips preflight only): the joins already
    # run beside its last phases, and a phase run apart would cost a kubeadm start each.
    assert not [a for a in init if a.startswith("--skip-phases")]
    assert not [argv for _, argv in kubeadm if argv[:3] == ["kubeadm", "init", "phase"]]
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
