"""The archive writer: every entry comes back from the written image with the metadata asked for.

Read back with tarfile, the way an engine unpacks a layer: the archive's manifest names the
layers, and each layer is a tar whose headers carry type, mode, owner and link target.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from nestkube.oci.archive import ImageSpec, Layer, write_image_archive

# (type, mode, uid, gid, link target) per path, as tarfile reports them.
Meta = tuple[bytes, int, int, int, str]


def read_layers(archive: Path) -> list[dict[str, Meta]]:
    with tarfile.open(archive) as outer:
        manifest = json.loads(_member(outer, "manifest.json"))
        layers = []
        for name in manifest[0]["Layers"]:
            blob = _member(outer, name)
            if blob[:2] == b"\x1f\x8b":
                blob = gzip.decompress(blob)
            with tarfile.open(fileobj=io.BytesIO(blob)) as layer:
                layers.append(
                    {m.name: (m.type, m.mode, m.uid, m.gid, m.linkname) for m in layer.getmembers()}
                )
        return layers


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    fh = tar.extractfile(name)
    assert fh is not None, name
    return fh.read()


def sample_layer(tmp_path: Path) -> Layer:
    tool = tmp_path / "tool"
    tool.write_bytes(b"#!/bin/sh\n")
    notes = tmp_path / "notes"
    notes.write_text("hello\n")
    return (
        Layer()
        .add_dir("/tmp", 0o1777)
        .add_dir("/home/app", 0o700, uid=1000, gid=1000)
        .add_dir("/srv/shared", 0o2775, uid=0, gid=50)
        .add_file("/usr/bin/tool", tool, 0o4755)
        .add_file("/home/app/notes", notes, 0o600, uid=1000, gid=1000)
        .add_symlink("/bin/sh", "../usr/bin/tool", uid=7, gid=8)
    )


EXPECTED: dict[str, Meta] = {
    "tmp": (tarfile.DIRTYPE, 0o1777, 0, 0, ""),
    "home": (tarfile.DIRTYPE, 0o755, 0, 0, ""),
    "home/app": (tarfile.DIRTYPE, 0o700, 1000, 1000, ""),
    "home/app/notes": (tarfile.REGTYPE, 0o600, 1000, 1000, ""),
    "srv": (tarfile.DIRTYPE, 0o755, 0, 0, ""),
    "srv/shared": (tarfile.DIRTYPE, 0o2775, 0, 50, ""),
    "usr": (tarfile.DIRTYPE, 0o755, 0, 0, ""),
    "usr/bin": (tarfile.DIRTYPE, 0o755, 0, 0, ""),
    "usr/bin/tool": (tarfile.REGTYPE, 0o4755, 0, 0, ""),
    "bin": (tarfile.DIRTYPE, 0o755, 0, 0, ""),
    "bin/sh": (tarfile.SYMTYPE, 0o777, 7, 8, "../usr/bin/tool"),
}


@pytest.mark.parametrize("compress", [False, True])
def test_every_entry_reads_back_as_declared(tmp_path: Path, compress: bool) -> None:
    archive = tmp_path / "img.tar"
    spec = ImageSpec(tags=["localhost/t:1"], layers=[sample_layer(tmp_path)])
    write_image_archive(spec, archive, compress=compress)
    [layer] = read_layers(archive)
    assert layer == EXPECTED


def test_parents_come_before_what_they_contain(tmp_path: Path) -> None:
    archive = tmp_path / "img.tar"
    write_image_archive(ImageSpec(tags=["t:1"], layers=[sample_layer(tmp_path)]), archive)
    names = list(read_layers(archive)[0])
    for i, name in enumerate(names):
        parent = name.rpartition("/")[0]
        assert not parent or parent in names[:i], f"{name} before its parent"


def test_a_declared_directory_keeps_its_metadata_when_files_land_inside(tmp_path: Path) -> None:
    # Declared after the file that makes it a parent: the declaration still wins.
    payload = tmp_path / "p"
    payload.write_text("x")
    layer = Layer().add_file("/tmp/cache/x", payload, 0o644).add_dir("/tmp", 0o1777)
    write_image_archive(ImageSpec(tags=["t:1"], layers=[layer]), tmp_path / "img.tar")
    [entries] = read_layers(tmp_path / "img.tar")
    assert entries["tmp"] == (tarfile.DIRTYPE, 0o1777, 0, 0, "")
    assert entries["tmp/cache"] == (tarfile.DIRTYPE, 0o755, 0, 0, "")


def test_file_content_is_written(tmp_path: Path) -> None:
    payload = tmp_path / "p"
    payload.write_bytes(b"\x00payload\xff")
    layer = Layer().add_file("/data/p", payload, 0o640)
    write_image_archive(ImageSpec(tags=["t:1"], layers=[layer]), tmp_path / "img.tar")
    with tarfile.open(tmp_path / "img.tar") as outer:
        name = json.loads(_member(outer, "manifest.json"))[0]["Layers"][0]
        with tarfile.open(fileobj=io.BytesIO(_member(outer, name))) as inner:
            assert _member(inner, "data/p") == b"\x00payload\xff"


def test_same_inputs_same_image_id(tmp_path: Path) -> None:
    spec = ImageSpec(tags=["t:1"], layers=[sample_layer(tmp_path)])
    assert write_image_archive(spec, tmp_path / "a.tar") == write_image_archive(
        spec, tmp_path / "b.tar"
    )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda layer: layer.add_dir("/tmp", 0o10777), "not a permission mode"),
        (lambda layer: layer.add_dir("/tmp", 0o755, uid=-1), "negative"),
        (lambda layer: layer.add_dir("/tmp", 0o1777).add_dir("/tmp", 0o755), "declared twice"),
        (lambda layer: layer.add_dir("/a/../etc"), "not a plain absolute path"),
        (lambda layer: layer.add_dir("/"), "not a plain absolute path"),
    ],
)
def test_contradictory_or_impossible_entries_are_refused(
    build: Callable[[Layer], object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build(Layer())


def test_a_file_cannot_be_a_parent(tmp_path: Path) -> None:
    payload = tmp_path / "p"
    payload.write_text("x")
    layer = Layer().add_file("/etc", payload, 0o644).add_file("/etc/passwd", payload, 0o644)
    with pytest.raises(ValueError, match="/etc is not a directory"):
        write_image_archive(ImageSpec(tags=["t:1"], layers=[layer]), tmp_path / "img.tar")


def test_the_same_declaration_twice_is_fine(tmp_path: Path) -> None:
    layer = Layer().add_dir("/tmp", 0o1777).add_dir("/tmp", 0o1777)
    assert list(layer.entries) == ["tmp"]
