"""`export logs`: the file layout, failing node commands recorded in place, --tar."""

from __future__ import annotations

import base64
import io
import os
import tarfile
from pathlib import Path

import pytest
from fakes_engine import AnsweringProvider

from nestkube._exec import Result
from nestkube._version import __version__
from nestkube.errors import ClusterError, CommandError, NestkubeError
from nestkube.host import HostFacts
from nestkube.logs import NODE_COMMANDS, export_logs
from nestkube.providers.base import Node, ProviderInfo

NODES = ("lg-control-plane", "lg-worker")
PER_NODE = {name for name, _ in NODE_COMMANDS} | {"inspect.json"}


def pods_tar_b64() -> str:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"2024-01-01T00:00:00Z stdout F hello from the pod\n"
        info = tarfile.TarInfo("pods/default_web_uid/web/0.log")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return base64.b64encode(buf.getvalue()).decode()


class LogsProvider(AnsweringProvider):
    """Nodes whose journal and tools answer from a table; crictl is absent, as in our image."""

    def __init__(self, broken_node: str = "") -> None:
        super().__init__(ProviderInfo("podman", "podman", "4.3.1", False, HostFacts()))
        self.broken_node = broken_node

    def list_nodes(self, cluster: str) -> list[Node]:
        if cluster != "lg":
            return []
        return [Node(NODES[0], "control-plane", "lg"), Node(NODES[1], "worker", "lg")]

    def inspect_node(self, node: str) -> str:
        if node == self.broken_node:
            raise CommandError(["podman", "inspect", node], 125, "", "no such container")
        return f'[{{"Name": "{node}"}}]'

    def engine_info(self) -> str:
        return "host:\n  arch: amd64\n"

    def answer(self, node: str, argv: list[str]) -> Result:
        if node == self.broken_node:
            raise CommandError(["podman", "exec", node, *argv], 125, "", "container not running")
        if argv[:2] == ["journalctl", "--no-pager"]:
            unit = argv[3] if len(argv) > 3 else "all"
            text = f"{node} journal of {unit}\n"
            if unit == "kubelet":
                text += 'kubelet[42]: E0101 failed to load kubelet config file "broken"\n'
            return Result(argv, 0, text, "")
        if argv[0] == "crictl":
            return Result(argv, 127, "", 'exec: "crictl": executable file not found in $PATH')
        if argv[0] == "ctr":
            return Result(argv, 0, f"REF TYPE DIGEST\n{node}-{argv[3]}\n", "")
        if argv[0] == "sh":
            return Result(argv, 0, pods_tar_b64() + "\n", "")
        return Result(argv, 1, "", "unexpected")


def test_layout(tmp_path: Path) -> None:
    out = tmp_path / "logs"
    result = export_logs("lg", out, engines=[LogsProvider()])
    assert result.path == out
    assert result.nodes == NODES
    top = {p.name for p in out.iterdir()}
    assert top == {"nestkube-version.txt", "podman-info.txt", *NODES}
    assert (out / "nestkube-version.txt").read_text() == f"nestkube {__version__}\n"
    assert "arch: amd64" in (out / "podman-info.txt").read_text()
    for node in NODES:
        files = {p.name for p in (out / node).iterdir() if p.is_file()}
        assert files == PER_NODE
        assert (out / node / "journal.log").read_text() == f"{node} journal of all\n"
        assert "failed to load kubelet config" in (out / node / "kubelet.log").read_text()
        assert (out / node / "containerd.log").read_text() == f"{node} journal of containerd\n"
        assert f"{node}-images" in (out / node / "ctr-images.txt").read_text()
        assert f"{node}-containers" in (out / node / "ctr-containers.txt").read_text()
        pod_log = out / node / "pods/default_web_uid/web/0.log"
        assert "hello from the pod" in pod_log.read_text()


def test_failing_command_writes_its_error(tmp_path: Path) -> None:
    result = export_logs("lg", tmp_path / "logs", engines=[LogsProvider()])
    text = (tmp_path / "logs" / NODES[0] / "crictl-ps.txt").read_text()
    assert "# crictl ps -a" in text
    assert "exit code 127" in text
    assert "executable file not found" in text
    assert f"{NODES[0]}/crictl-ps.txt: exit 127: " in "\n".join(result.failures)


def test_unreachable_node_does_not_abort(tmp_path: Path) -> None:
    result = export_logs("lg", tmp_path / "logs", engines=[LogsProvider(broken_node=NODES[1])])
    broken = tmp_path / "logs" / NODES[1]
    assert "container not running" in (broken / "kubelet.log").read_text()
    assert "no such container" in (broken / "inspect.json").read_text()
    # The healthy node is complete.
    assert (
        "failed to load kubelet config"
        in (tmp_path / "logs" / NODES[0] / "kubelet.log").read_text()
    )
    assert any(f.startswith(f"{NODES[1]}/inspect.json") for f in result.failures)


def test_default_dir_is_new_temp_dir() -> None:
    result = export_logs("lg", engines=[LogsProvider()])
    try:
        assert result.path.is_dir()
        assert result.path.name.startswith("nestkube-logs-lg-")
        assert (result.path / NODES[0] / "journal.log").is_file()
    finally:
        import shutil

        shutil.rmtree(result.path)


def test_tar(tmp_path: Path) -> None:
    result = export_logs("lg", tmp_path / "logs", tar=True, engines=[LogsProvider()])
    assert result.path == tmp_path / "logs.tar.gz"
    assert not (tmp_path / "logs").exists()
    with tarfile.open(result.path) as tar:
        names = set(tar.getnames())
    assert "logs/nestkube-version.txt" in names
    assert f"logs/{NODES[1]}/kubelet.log" in names


def test_tar_default_location_leaves_no_directory() -> None:
    result = export_logs("lg", tar=True, engines=[LogsProvider()])
    try:
        assert result.path.name.endswith(".tar.gz")
        assert not result.path.with_name(result.path.name.removesuffix(".tar.gz")).exists()
    finally:
        result.path.unlink()


def test_unknown_cluster(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="no cluster named 'nope'"):
        export_logs("nope", tmp_path / "x", engines=[LogsProvider()])
    assert not (tmp_path / "x").exists()


# --- where the logs go: checked first, never overwritten without --force --------------------
def test_an_existing_archive_is_not_overwritten_without_force(tmp_path: Path) -> None:
    archive = tmp_path / "logs.tar.gz"
    archive.write_bytes(b"precious")
    with pytest.raises(NestkubeError, match=r"logs.tar.gz exists \(archive\); pass --force"):
        export_logs("lg", tmp_path / "logs", tar=True, engines=[LogsProvider()])
    assert archive.read_bytes() == b"precious"
    result = export_logs("lg", tmp_path / "logs", tar=True, force=True, engines=[LogsProvider()])
    assert tarfile.is_tarfile(result.path)


def test_a_non_empty_directory_is_not_written_into_without_force(tmp_path: Path) -> None:
    out = tmp_path / "logs"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    with pytest.raises(NestkubeError, match="directory is not empty"):
        export_logs("lg", out, engines=[LogsProvider()])
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    export_logs("lg", out, force=True, engines=[LogsProvider()])
    assert (out / "mine.txt").read_text() == "keep"
    assert (out / NODES[0] / "journal.log").is_file()


def test_an_empty_directory_is_fine(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    assert export_logs("lg", tmp_path / "logs", engines=[LogsProvider()]).path.is_dir()


def test_a_missing_parent_is_made(tmp_path: Path) -> None:
    result = export_logs("lg", tmp_path / "a" / "b", tar=True, engines=[LogsProvider()])
    assert result.path == tmp_path / "a" / "b.tar.gz"


@pytest.mark.parametrize("tar", [False, True])
def test_a_path_under_a_file_is_one_line_and_asks_no_engine(tmp_path: Path, tar: bool) -> None:
    (tmp_path / "file").write_text("")

    class NoEngine(LogsProvider):
        def list_nodes(self, cluster: str) -> list[Node]:
            raise AssertionError("the engine was asked before the path was checked")

    with pytest.raises(NestkubeError, match="is not a directory") as err:
        export_logs("lg", tmp_path / "file" / "logs", tar=tar, engines=[NoEngine()])
    assert "\n" not in str(err.value)


def test_an_unwritable_directory_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root passes any permission bits (tests run as root), so the access check is faked."""
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(NestkubeError, match=r"cannot write logs to .*logs: .* is not writable"):
        export_logs("lg", tmp_path / "logs", engines=[LogsProvider()])
    assert not (tmp_path / "logs").exists()
