"""Joins that overlap `kubeadm init`: when they start, what they wait for, what init skips."""

from __future__ import annotations

import io
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fakes_engine import CA_PEM, AnsweringProvider, join_material_answer, unwrapped

from nestkube._exec import Result
from nestkube.config import default_config
from nestkube.create import bootstrap, configure, joins, plan
from nestkube.create.context import CreateContext
from nestkube.errors import ClusterError, CommandError
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

    def joins_started(self, ready: Callable[[], str | None], release_after: float | None) -> None:
        with ThreadPoolExecutor(max_workers=1) as pool:
            running = pool.submit(self)
            if release_after is not None:
                threading.Timer(release_after, self.release.set).start()
            joined, _ = joins.start_when_ready(
                running, ready, lambda found: self.events.append(f"joined with {found}")
            )
            assert joined is not None
            joined.result(timeout=10)
            if release_after is None:
                assert self.events == ["joined with material"]  # the join overlapped init
                self.release.set()


def test_joins_start_while_init_still_runs_with_what_the_waiter_read() -> None:
    init = Init()
    init.joins_started(lambda: "material", release_after=None)
    assert init.events == ["joined with material", "init done"]


def failing_waiter() -> str | None:
    raise RuntimeError("the engine went away")


@pytest.mark.parametrize("ready", [lambda: None, failing_waiter], ids=["ended", "waiter-failed"])
def test_joins_start_once_init_succeeded_when_the_waiter_cannot_tell(
    ready: Callable[[], str | None],
) -> None:
    init = Init()
    init.joins_started(ready, release_after=0.2)
    # Given nothing: the joins read what they need themselves, init being over.
    assert init.events == ["init done", "joined with None"]


def test_no_join_starts_when_init_failed() -> None:
    failed: Future[None] = Future()
    failed.set_exception(RuntimeError("kubeadm init failed"))
    started: list[str] = []
    joined, _ = joins.start_when_ready(failed, lambda: "m", lambda found: started.append("x"))
    assert joined is None and started == []


class Waiter(AnsweringProvider):
    def __init__(self, result: Result) -> None:
        super().__init__(INFO)
        self.result = result
        self.asked: list[list[str]] = []

    def answer(self, node: str, argv: list[str]) -> Result:
        self.asked.append(argv)
        return self.result


SIGN = {"c-worker": ["printf", "%s\\n", "client-certificate-data: w1"]}


def test_the_join_material_exec_waits_in_the_node_and_ends_when_init_ends_first() -> None:
    engine = Waiter(Result([], joins.INIT_ENDED_FIRST, "", ""))
    assert joins.join_material(engine, "n", ca_path="/ca.crt", sign=SIGN, limit=30) is None
    [argv] = engine.asked
    assert argv[:4] == ["timeout", "30", "sh", "-c"]
    assert joins.INIT_OUTPUT in argv[4] and "kubelet-finalize" in argv[4]


@pytest.mark.parametrize("code", [1, 124])
def test_a_failed_join_material_exec_is_an_error(code: int) -> None:
    with pytest.raises(CommandError):
        joins.join_material(Waiter(Result([], code, "", "")), "n", ca_path="/c", sign={}, limit=9)


def test_a_kubeconfig_without_a_client_certificate_is_an_error() -> None:
    out = f"CA\n{joins.SEPARATOR}\nno certificate\n{joins.SEPARATOR}\n"
    with pytest.raises(ClusterError, match="no client certificate for c-worker"):
        joins.join_material(Waiter(Result([], 0, out, "")), "n", ca_path="/c", sign=SIGN, limit=9)


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


def material(tmp_path: Path, out: Path) -> joins.JoinMaterial | None:
    ca = tmp_path / "ca.crt"
    ca.write_text(CA_PEM)
    return joins.join_material(Local(out), "n", ca_path=str(ca), sign=SIGN, limit=10)


@pytest.mark.parametrize(
    ("text", "made"),
    [
        ("[kubeconfig] x\n[bootstrap-token] Creating the cluster-info ConfigMap\n"
         "[kubelet-finalize] x\n", True),
        ("[kubeconfig] x\n[bootstrap-token] Creating the cluster-info ConfigMap\n"
         "[addons] Applied\n", True),
        (f"[kubeconfig] x\n[etcd] x\nerror execution phase etcd\n{joins.ENDED} 1\n", False),
        (f"[certs] x\nerror execution phase certs\n{joins.ENDED} 1\n", False),
    ],
)  # fmt: skip
def test_the_material_is_read_past_the_phases_or_not_when_init_ended(
    tmp_path: Path, text: str, made: bool
) -> None:
    out = tmp_path / "init.out"
    out.write_text(text)
    found = material(tmp_path, out)
    if made:
        assert found == joins.JoinMaterial(CA_PEM, {"c-worker": "client-certificate-data: w1\n"})
    else:
        assert found is None


def test_the_ca_is_read_once_the_certs_are_made_and_returned_after_bootstrap_token(
    tmp_path: Path,
) -> None:
    out = tmp_path / "init.out"
    out.write_text("[certs] Generating ...\n")
    ca = tmp_path / "ca.crt"  # made by the certs phase: reading it before would fail

    def phases() -> None:
        time.sleep(0.3)
        ca.write_text(CA_PEM)
        out.write_text(out.read_text() + "[kubeconfig] x\n")
        time.sleep(0.3)
        out.write_text(out.read_text() + "[bootstrap-token] x\n[addons] x\n")

    timer = threading.Thread(target=phases)
    timer.start()
    started = time.monotonic()
    found = joins.join_material(Local(out), "n", ca_path=str(ca), sign=SIGN, limit=10)
    assert found is not None and found.ca == CA_PEM
    assert time.monotonic() - started >= 0.6
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
        # init is past bootstrap-token: the CA and the kubelet kubeconfigs.
        return join_material_answer(argv) or Result(argv, 0, "", "")


TOKEN_ID = "abcdef"


def test_kubeadm_init_overlaps_the_joins(tmp_path: Path) -> None:
    engine = Kubeadm()
    ctx = CreateContext(
        config=default_config("j", workers=2),
        provider=engine,
        status=SILENT,
        token=f"{TOKEN_ID}.0123456789abcdef",
    )
    plan.plan_nodes(ctx, "img")
    ctx.kubernetes_version = "v1.37.2"
    ctx.node_ips = {s.name: f"10.0.0.{i + 2}" for i, s in enumerate(ctx.specs)}
    bootstrap.kubeadm_init(ctx)
    bootstrap.join_nodes(ctx)
    kubeadm = [(node, argv) for node, argv in engine.commands if argv[0] == "kubeadm"]
    init = next(argv for _, argv in kubeadm if argv[:2] == ["kubeadm", "init"])
    # init installs the addons itself (its config skips preflight only): the joins already
    # run beside its last phases, and a phase run apart would cost a kubeadm start each.
    assert not [a for a in init if a.startswith("--skip-phases")]
    assert not [argv for _, argv in kubeadm if argv[:3] == ["kubeadm", "init", "phase"]]
    joined = sorted(node for node, argv in kubeadm if argv[:2] == ["kubeadm", "join"])
    assert joined == ["j-worker", "j-worker2"]
    # The CA and each worker's kubelet certificate (signed on the first control plane: no TLS
    # bootstrap) come from one exec there, beside init, waiting on its output.
    [(node, script)] = [(node, argv[-1]) for node, argv in engine.commands if argv[0] == "timeout"]
    assert node == "j-control-plane" and "cat /etc/kubernetes/pki/ca.crt" in script
    assert script.index(joins.AFTER_CERTS) < script.index("cat /etc/kubernetes/pki/ca.crt")
    assert script.index("kubeadm kubeconfig user") < script.index("kubelet-finalize")
    for worker in ("j-worker", "j-worker2"):
        assert f"kubeadm kubeconfig user --client-name=system:node:{worker}" in script
    assert not [a for _, a in kubeadm if a[:3] == ["kubeadm", "kubeconfig", "user"]]


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
    configure.write_files(ctx, "n", files, private=["/etc/kubernetes/kubelet.conf"])
    with tarfile.open(fileobj=io.BytesIO(engine.archives[0])) as tar:
        modes = {m.name: m.mode for m in tar.getmembers()}
    assert modes == {"etc/nestkube/kubeadm.yaml": 0o644, "etc/kubernetes/kubelet.conf": 0o600}
