"""`load archive` into CRI-O nodes: images listed through crictl, copied in by skopeo."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import pytest
from fakes_engine import AnsweringProvider

from nestkube._exec import Result
from nestkube.host import HostFacts
from nestkube.images.node_image import LABEL_RUNTIME
from nestkube.load import CRIO_IMPORT, CrioImages, LoadError, load_archive
from nestkube.logs import CRIO_NODE_COMMANDS
from nestkube.oci.archive import ImageSpec, Layer, write_image_archive
from nestkube.providers.base import Node, ProviderInfo

TAG = "localhost/app:1"


class CrioProvider(AnsweringProvider):
    """Podman running one CRI-O node whose store holds ``stored`` (ref -> crictl's id)."""

    def __init__(self, stored: dict[str, str]) -> None:
        super().__init__(ProviderInfo("podman", "podman", "4.3.1", False, HostFacts()))
        self.stored = stored
        self.imports: list[list[str]] = []

    def list_nodes(self, cluster: str) -> list[Node]:
        labels = {LABEL_RUNTIME: "cri-o"}
        return [Node("c-control-plane", "control-plane", cluster, "running", labels)]

    def answer(self, node: str, argv: list[str]) -> Result:
        if argv == ["crictl", "images", "-o", "json"]:
            images = [{"id": i, "repoTags": [ref]} for ref, i in self.stored.items()]
            return Result(argv, 0, json.dumps({"images": images}), "")
        return Result(argv, 1, "", "not here")

    def exec_stream_in(self, node: str, args: Sequence[str], source: IO[bytes]) -> Result:
        self.imports.append(list(args))
        return Result(list(args), 0, "", "")


def archive(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "app.tar"
    image_id = write_image_archive(ImageSpec(tags=[TAG], layers=[Layer()]), path)
    return path, image_id


def test_archive_is_copied_in_by_tag(tmp_path: Path) -> None:
    path, _ = archive(tmp_path)
    engine = CrioProvider({})
    outcomes = load_archive(path, cluster="c", engines=[engine])
    assert [(o.node, o.loaded) for o in outcomes] == [("c-control-plane", True)]
    assert engine.imports == [["sh", "-c", CRIO_IMPORT, "sh", TAG]]


def test_node_holding_the_same_id_is_skipped(tmp_path: Path) -> None:
    path, image_id = archive(tmp_path)
    # crictl lists ids without the sha256: prefix.
    engine = CrioProvider({TAG: image_id.removeprefix("sha256:")})
    outcomes = load_archive(path, cluster="c", engines=[engine])
    assert [(o.node, o.loaded) for o in outcomes] == [("c-control-plane", False)]
    assert engine.imports == []
    assert CrioImages(engine, "c-control-plane").has([TAG], image_id)


def test_oci_only_archive_is_refused_for_cri_o(tmp_path: Path) -> None:
    path = tmp_path / "oci.tar"
    with tarfile.open(path, "w") as tar:
        index = json.dumps({"manifests": []}).encode()
        info = tarfile.TarInfo("index.json")
        info.size = len(index)
        tar.addfile(info, io.BytesIO(index))
    with pytest.raises(LoadError):
        load_archive(path, cluster="c", engines=[CrioProvider({})])


def test_logs_of_cri_o_nodes_ask_crio_and_crictl() -> None:
    names = [name for name, _ in CRIO_NODE_COMMANDS]
    assert "crio.log" in names and "crictl-images.txt" in names
    assert not any(args[0] == "ctr" for _, args in CRIO_NODE_COMMANDS)
