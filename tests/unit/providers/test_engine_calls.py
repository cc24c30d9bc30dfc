"""Every engine call has a time limit and filters on a cluster label match exactly.

The timeout tests run a real (tiny) program named like the engine, which sleeps, so the
limit, the kill and the one-line message are the real ones.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from nestkube import _exec
from nestkube.errors import CommandError, CommandTimeout, ProviderError
from nestkube.host import HostFacts
from nestkube.providers.base import LABEL_CLUSTER, ProviderInfo
from nestkube.providers.engine import CHANGE, LONG, engine_timeout
from nestkube.providers.podman import PodmanProvider

from .fakes import FakeEngine


def provider(binary: str = "podman") -> PodmanProvider:
    return PodmanProvider(ProviderInfo("podman", binary, "4.3.1", False, HostFacts()))


def hanging_engine(tmp_path: Path) -> str:
    script = tmp_path / "podman"
    script.write_text("#!/bin/sh\nexec sleep 30\n")
    script.chmod(0o755)
    return str(script)


def test_a_hung_engine_is_a_one_line_error_naming_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NESTKUBE_ENGINE_TIMEOUT", "0.5")
    started = time.monotonic()
    with pytest.raises(CommandTimeout) as err:
        provider(hanging_engine(tmp_path)).list_clusters()
    assert time.monotonic() - started < 5
    assert str(err.value) == (
        "listing containers (podman ps --all --no-trunc ...) timed out after 0.5s; "
        "is the engine hung? check `podman info`"
    )


def test_a_hung_node_command_names_the_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(CommandTimeout) as err:
        provider(hanging_engine(tmp_path)).exec("n1", ["kubeadm", "init"], timeout=0.3)
    message = str(err.value)
    assert message.startswith("podman exec n1 kubeadm ... timed out after 0.3s")
    assert "is node n1 or the engine hung? check `podman ps --all` and `podman info`" in message


def test_timeout_kinds_scale_with_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NESTKUBE_ENGINE_TIMEOUT", raising=False)
    assert (engine_timeout(), engine_timeout(CHANGE), engine_timeout(LONG)) == (60, 300, 1800)
    monkeypatch.setenv("NESTKUBE_ENGINE_TIMEOUT", "2")
    assert (engine_timeout(), engine_timeout(CHANGE)) == (2, 10)
    monkeypatch.setenv("NESTKUBE_ENGINE_TIMEOUT", "soon")
    with pytest.raises(ProviderError, match="not a number of seconds"):
        engine_timeout()


def test_every_engine_call_gets_a_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[float | None] = []

    def record(args: list[str], **kwargs: object) -> _exec.Result:
        timeout = kwargs.get("timeout")
        seen.append(timeout if isinstance(timeout, float | int) else None)
        return _exec.Result(list(args), 0, "", "")

    monkeypatch.setattr(_exec, "run", record)
    prov = provider()
    prov.list_clusters()
    prov.network_exists("x")
    prov.exec("n", ["true"])
    prov.remove_volume("v")
    prov.delete_network_if_unused("x")
    assert seen and all(t is not None and t > 0 for t in seen)


def test_the_runner_kills_a_command_past_its_limit() -> None:
    started = time.monotonic()
    with pytest.raises(CommandTimeout, match=r"^sleep 30 timed out after 0.2s; check it$"):
        _exec.run(["sleep", "30"], timeout=0.2, hint="check it")
    assert time.monotonic() - started < 5


# --- exact label filters ------------------------------------------------------------------
def ps_line(name: str, cluster: str, state: str = "running") -> str:
    return json.dumps({"Names": [name], "Labels": {LABEL_CLUSTER: cluster}, "State": state})


def test_nodes_of_a_cluster_match_the_label_exactly(fake_engine: FakeEngine) -> None:
    """Engines treat an empty filter value as "any value"; the answer is checked again."""
    fake_engine.on(
        ["ps"], out="\n".join([ps_line("a-control-plane", "a"), ps_line("b-control-plane", "b")])
    )
    assert [n.name for n in provider().list_nodes("a")] == ["a-control-plane"]
    assert provider().list_nodes("") == []


def test_volumes_of_a_cluster_match_the_label_exactly(fake_engine: FakeEngine) -> None:
    fake_engine.on(["volume", "ls"], out="a-control-plane-var\nb-control-plane-var\n")
    fake_engine.on(
        ["volume", "inspect"],
        out=json.dumps(
            [
                {"Name": "a-control-plane-var", "Labels": {LABEL_CLUSTER: "a"}},
                {"Name": "b-control-plane-var", "Labels": {LABEL_CLUSTER: "b"}},
            ]
        ),
    )
    assert provider().cluster_volumes("a") == ["a-control-plane-var"]
    assert provider().cluster_volumes("") == []


def test_streaming_into_a_node_goes_through_the_runner(
    fake_engine: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NESTKUBE_ENGINE_TIMEOUT", "2")
    seen: list[dict[str, object]] = []
    record = fake_engine.run

    def run(args: list[str], **kwargs: object) -> _exec.Result:
        seen.append(kwargs)
        return record(args, **kwargs)

    monkeypatch.setattr(_exec, "run", run)
    archive = tmp_path / "images.tar"
    archive.write_bytes(b"tar")
    with archive.open("rb") as fh:
        provider().exec_stream_in("n1", ["ctr", "images", "import", "-"], fh)
        assert seen[0]["stdin"] is fh
    assert fake_engine.calls == [["podman", "exec", "-i", "n1", "ctr", "images", "import", "-"]]
    assert seen[0]["timeout"] == engine_timeout(LONG)
    assert seen[0]["what"] == "streaming into ctr in n1"
    assert "is node n1 or the engine hung?" in str(seen[0]["hint"])


def test_a_failed_stream_is_one_command_error(fake_engine: FakeEngine, tmp_path: Path) -> None:
    fake_engine.on(["exec"], code=1, err="ctr: content digest not found\n")
    archive = tmp_path / "images.tar"
    archive.write_bytes(b"tar")
    with archive.open("rb") as fh, pytest.raises(CommandError) as err:
        provider().exec_stream_in("n1", ["ctr", "images", "import", "-"], fh)
    assert str(err.value) == "streaming into ctr in n1 (exit 1): ctr: content digest not found"
