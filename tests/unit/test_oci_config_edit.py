"""Dockerfile-style changes applied to a saved image (nerdctl's commit takes CMD/ENTRYPOINT
only): labels, env, stop signal, and an archive holding the same layers."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from nestkube.errors import ImageBuildError
from nestkube.oci.config_edit import apply_changes, rewrite_archive


def test_changes_land_in_the_config() -> None:
    base = {"config": {"Env": ["PATH=/bin", "container=podman"], "Labels": {"a": "1"}}}
    out = apply_changes(
        base,
        [
            'LABEL io.nestkube.components="kubernetes=v1.37.2,etcd=v3.7.0"',
            'LABEL io.nestkube.missing-images=""',
            "ENV container=docker",
            "STOPSIGNAL SIGRTMIN+3",
            'ENTRYPOINT ["/usr/local/bin/nestkube-entrypoint"]',
        ],
    )
    cfg = out["config"]
    assert cfg["Labels"] == {
        "a": "1",
        "io.nestkube.components": "kubernetes=v1.37.2,etcd=v3.7.0",
        "io.nestkube.missing-images": "",
    }
    assert cfg["Env"] == ["PATH=/bin", "container=docker"]
    assert cfg["StopSignal"] == "SIGRTMIN+3"
    assert cfg["Entrypoint"] == ["/usr/local/bin/nestkube-entrypoint"]
    assert base["config"]["Labels"] == {"a": "1"}  # the input is left alone


def test_unknown_change_is_refused() -> None:
    with pytest.raises(ImageBuildError, match="HEALTHCHECK"):
        apply_changes({}, ["HEALTHCHECK NONE"])


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def test_rewritten_archive_keeps_the_layers(tmp_path: Path) -> None:
    src, dest = tmp_path / "saved.tar", tmp_path / "edited.tar"
    with tarfile.open(src, "w") as tar:
        _add(tar, "blobs/sha256/cfg", json.dumps({"config": {}, "rootfs": {}}).encode())
        _add(tar, "blobs/sha256/l1", b"layer-one")
        manifest = [
            {"Config": "blobs/sha256/cfg", "RepoTags": ["x:1"], "Layers": ["blobs/sha256/l1"]}
        ]
        _add(tar, "manifest.json", json.dumps(manifest).encode())
    rewrite_archive(src, dest, "localhost/y:2", ["LABEL k=v"])
    with tarfile.open(dest) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        entry = json.loads(member.read())[0]
        assert entry["RepoTags"] == ["localhost/y:2"]
        assert entry["Layers"] == ["blobs/sha256/l1"]
        layer = tar.extractfile("blobs/sha256/l1")
        assert layer is not None and layer.read() == b"layer-one"
        config = tar.extractfile(entry["Config"])
        assert config is not None
        assert json.loads(config.read())["config"]["Labels"] == {"k": "v"}
