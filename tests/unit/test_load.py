"""`load image` / `load archive`: engine choice, skip-if-present, node selection, bad input.

Engines are fakes built on fakes_engine.AnsweringProvider: images by name, nodes whose
`ctr images ls` output is generated from a table, and imports recorded instead of run.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import pytest
from fakes_engine import AnsweringProvider

from nestkube._exec import Result
from nestkube.errors import ClusterError, NestkubeError
from nestkube.host import HostFacts
from nestkube.load import (
    IMPORT_ARGS,
    LoadError,
    NodeImages,
    load_archive,
    load_images,
    normalise_id,
    normalise_ref,
    parse_ctr_images,
    read_archive_images,
    ref_candidates,
)
from nestkube.oci.archive import ImageSpec, Layer, write_image_archive
from nestkube.providers.base import Node, ProviderInfo, ProviderName
from nestkube.status import Status

ID_A = "sha256:" + "a" * 64
ID_B = "sha256:" + "b" * 64
MANIFEST_A = "sha256:" + "1" * 64
MANIFEST_B = "sha256:" + "2" * 64
HEADER = "REF TYPE DIGEST SIZE PLATFORMS LABELS"
MAIN = "from nestkube.cli.main import main; main()"
MEDIA = "application/vnd.docker.distribution.manifest.v2+json"


class FakeProvider(AnsweringProvider):
    """An engine holding ``images`` (name -> ID) and running cluster ``cluster``."""

    def __init__(
        self,
        name: ProviderName,
        images: dict[str, str] | None = None,
        cluster: str = "",
        nodes: dict[str, list[tuple[str, str]]] | None = None,
        blobs: dict[str, dict[str, object]] | None = None,
    ) -> None:
        super().__init__(ProviderInfo(name, name, "1.0", False, HostFacts()))
        self.images = images or {}
        self.cluster = cluster
        self.node_rows = nodes or {}
        self.blobs = blobs or {}
        self.saved: list[list[str]] = []
        self.imports: list[tuple[str, list[str], bytes]] = []
        self.execs: list[tuple[str, list[str]]] = []

    def list_nodes(self, cluster: str) -> list[Node]:
        if cluster != self.cluster:
            return []
        return [
            Node(n, "control-plane" if "control" in n else "worker", cluster, "running", {})
            for n in self.node_rows
        ]

    def image_id(self, image: str) -> str | None:
        return self.images.get(image)

    def save_image(self, images: Sequence[str], dest: IO[bytes]) -> None:
        self.saved.append(list(images))
        dest.write(f"archive of {','.join(images)}".encode())

    def answer(self, node: str, argv: list[str]) -> Result:
        self.execs.append((node, argv))
        if argv == ["ctr", "-n", "k8s.io", "images", "ls"]:
            lines = [HEADER] + [
                f"{ref} {MEDIA} {digest} 1.0MiB linux/amd64 io.cri-containerd.image=managed"
                for ref, digest in self.node_rows[node]
            ]
            return Result(argv, 0, "\n".join(lines) + "\n", "")
        if argv[:5] == ["ctr", "-n", "k8s.io", "content", "get"] and argv[5] in self.blobs:
            return Result(argv, 0, json.dumps(self.blobs[argv[5]]), "")
        return Result(argv, 1, "", "ctr: not found")

    def exec_stream_in(self, node: str, args: Sequence[str], source: IO[bytes]) -> Result:
        self.imports.append((node, list(args), source.read()))
        return Result(list(args), 0, "", "")


def quiet_status() -> tuple[Status, io.StringIO]:
    buf = io.StringIO()
    return Status(stream=buf), buf


# --- names ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ref", "want"),
    [
        ("nginx", "docker.io/library/nginx:latest"),
        ("nk-app:1", "docker.io/library/nk-app:1"),
        ("me/app:2", "docker.io/me/app:2"),
        ("localhost/nestkube/node:v1.20.2", "localhost/nestkube/node:v1.20.2"),
        ("registry.local:5000/x", "registry.local:5000/x:latest"),
        ("k8s.gcr.io/pause:3.2", "k8s.gcr.io/pause:3.2"),
        ("app@sha256:" + "c" * 64, "docker.io/library/app@sha256:" + "c" * 64),
    ],
)
def test_normalise_ref(ref: str, want: str) -> None:
    assert normalise_ref(ref) == want


def test_ref_candidates_cover_podman_short_names() -> None:
    assert ref_candidates("app:1") == ["docker.io/library/app:1", "localhost/app:1"]
    assert ref_candidates("localhost/app:1") == ["localhost/app:1"]
    assert ref_candidates("quay.io/x/app:1") == ["quay.io/x/app:1"]


def test_normalise_id_adds_podman_missing_prefix() -> None:
    assert normalise_id("a" * 64) == ID_A
    assert normalise_id(ID_A + "\n") == ID_A


def test_parse_ctr_images_skips_header() -> None:
    text = f"{HEADER}\nx:1 {MEDIA} {MANIFEST_A} 1 MiB linux/amd64 -\n\n"
    rows = parse_ctr_images(text)
    assert [(r.ref, r.digest) for r in rows] == [("x:1", MANIFEST_A)]


# --- what a node holds ----------------------------------------------------------------------
def test_node_image_id_from_cri_id_ref() -> None:
    engine = FakeProvider(
        "podman",
        cluster="dev",
        nodes={"dev-control-plane": [("docker.io/library/app:1", MANIFEST_A), (ID_A, MANIFEST_A)]},
    )
    inv = NodeImages(engine, "dev-control-plane")
    assert inv.image_id("docker.io/library/app:1") == ID_A
    assert inv.image_id("docker.io/library/other:1") is None
    # The ID ref answered it: no manifest had to be read.
    assert not [a for _, a in engine.execs if "content" in a]


def test_node_image_id_from_manifest_when_cri_has_no_id_ref() -> None:
    engine = FakeProvider(
        "podman",
        cluster="dev",
        nodes={"n1": [("localhost/app:1", MANIFEST_A)]},
        blobs={MANIFEST_A: {"mediaType": MEDIA, "config": {"digest": ID_A}}},
    )
    assert NodeImages(engine, "n1").image_id("localhost/app:1") == ID_A


def test_node_image_id_through_an_index() -> None:
    index: dict[str, object] = {
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"digest": MANIFEST_B, "platform": {"os": "linux", "architecture": "s390x-nope"}},
            {"digest": MANIFEST_A, "platform": {"os": "linux"}},
        ],
    }
    index_digest = "sha256:" + "9" * 64
    engine = FakeProvider(
        "podman",
        cluster="dev",
        nodes={"n1": [("localhost/app:1", index_digest)]},
        blobs={index_digest: index, MANIFEST_A: {"config": {"digest": ID_A}}},
    )
    assert NodeImages(engine, "n1").image_id("localhost/app:1") == ID_A


# --- load image -----------------------------------------------------------------------------
def two_node_cluster(**rows: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    return {"dev-control-plane": rows.get("cp", []), "dev-worker": rows.get("worker", [])}


def test_loads_from_cluster_engine_into_every_node() -> None:
    engine = FakeProvider("docker", {"app:1": ID_A}, "dev", two_node_cluster())
    out = load_images(["app:1"], cluster="dev", engines=[engine])
    assert [(o.node, o.loaded, o.source) for o in out] == [
        ("dev-control-plane", True, "docker"),
        ("dev-worker", True, "docker"),
    ]
    # Saved once, streamed into each node's containerd.
    assert engine.saved == [["app:1"]]
    assert [(n, a) for n, a, _ in engine.imports] == [
        ("dev-control-plane", list(IMPORT_ARGS)),
        ("dev-worker", list(IMPORT_ARGS)),
    ]
    assert engine.imports[0][2] == b"archive of app:1"


def test_skips_nodes_with_same_id_and_says_so() -> None:
    present = [("docker.io/library/app:1", MANIFEST_A), (ID_A, MANIFEST_A)]
    engine = FakeProvider("docker", {"app:1": ID_A}, "dev", two_node_cluster(cp=present))
    status, err = quiet_status()
    out = load_images(["app:1"], cluster="dev", engines=[engine], status=status)
    assert [(o.node, o.loaded) for o in out] == [
        ("dev-control-plane", False),
        ("dev-worker", True),
    ]
    assert [n for n, _, _ in engine.imports] == ["dev-worker"]
    assert "image app:1 already present on node dev-control-plane, skipped" in err.getvalue()


def test_all_present_means_no_save_at_all() -> None:
    present = [("docker.io/library/app:1", MANIFEST_A), (ID_A, MANIFEST_A)]
    engine = FakeProvider(
        "docker", {"app:1": ID_A}, "dev", two_node_cluster(cp=present, worker=present)
    )
    out = load_images(["app:1"], cluster="dev", engines=[engine])
    assert not any(o.loaded for o in out)
    assert engine.saved == [] and engine.imports == []


def test_same_tag_different_id_is_reloaded() -> None:
    stale = [("docker.io/library/app:1", MANIFEST_B), (ID_B, MANIFEST_B)]
    engine = FakeProvider("docker", {"app:1": ID_A}, "dev", two_node_cluster(cp=stale))
    out = load_images(["app:1"], cluster="dev", engines=[engine])
    assert all(o.loaded for o in out)


def test_podman_short_name_matches_localhost_ref_and_bare_id() -> None:
    # Podman prints IDs without "sha256:" and saves short names under localhost/.
    present = [("localhost/app:1", MANIFEST_A), (ID_A, MANIFEST_A)]
    engine = FakeProvider("podman", {"app:1": "a" * 64}, "dev", {"dev-control-plane": present})
    out = load_images(["app:1"], cluster="dev", engines=[engine])
    assert [o.loaded for o in out] == [False]


def test_image_only_in_another_engine_is_taken_from_it() -> None:
    cluster_engine = FakeProvider("docker", {}, "dev", two_node_cluster())
    other = FakeProvider("podman", {"localhost/app:1": "a" * 64})
    out = load_images(["localhost/app:1"], cluster="dev", engines=[other, cluster_engine])
    assert {o.source for o in out} == {"podman"}
    assert other.saved == [["localhost/app:1"]]
    # Imported through the engine that runs the nodes.
    assert len(cluster_engine.imports) == 2 and not other.imports


def test_cluster_engine_wins_when_both_have_the_image() -> None:
    cluster_engine = FakeProvider("docker", {"app:1": ID_A}, "dev", two_node_cluster())
    other = FakeProvider("podman", {"app:1": ID_B})
    load_images(["app:1"], cluster="dev", engines=[other, cluster_engine])
    assert cluster_engine.saved and not other.saved


def test_nodes_option_limits_targets() -> None:
    engine = FakeProvider("docker", {"app:1": ID_A}, "dev", two_node_cluster())
    out = load_images(["app:1"], cluster="dev", nodes=["dev-worker"], engines=[engine])
    assert [o.node for o in out] == ["dev-worker"]


def test_unknown_node_is_an_error() -> None:
    engine = FakeProvider("docker", {"app:1": ID_A}, "dev", two_node_cluster())
    with pytest.raises(ClusterError, match="no node named dev-worker9 in cluster 'dev'"):
        load_images(["app:1"], cluster="dev", nodes=["dev-worker9"], engines=[engine])


def test_unknown_image_is_one_line_error_before_any_work() -> None:
    engine = FakeProvider("docker", {"app:1": ID_A}, "dev", two_node_cluster())
    other = FakeProvider("podman")
    with pytest.raises(LoadError) as caught:
        load_images(["app:1", "ghost:9"], cluster="dev", engines=[engine, other])
    assert str(caught.value) == "image ghost:9 not found in any engine (docker, podman)"
    assert engine.saved == [] and engine.imports == []


def test_unknown_cluster() -> None:
    engine = FakeProvider("docker", {"app:1": ID_A}, "dev", two_node_cluster())
    with pytest.raises(ClusterError, match="no cluster named 'prod' \\(looked in docker\\)"):
        load_images(["app:1"], cluster="prod", engines=[engine])


def test_provider_option_restricts_cluster_lookup() -> None:
    docker = FakeProvider("docker", {"app:1": ID_A}, "dev", two_node_cluster())
    podman = FakeProvider("podman", {}, "dev", {"dev-control-plane": []})
    out = load_images(["app:1"], cluster="dev", provider="docker", engines=[podman, docker])
    assert len(out) == 2 and len(docker.imports) == 2 and not podman.imports


def test_import_failure_names_node() -> None:
    class Failing(FakeProvider):
        def exec_stream_in(self, node: str, args: Sequence[str], source: IO[bytes]) -> Result:
            from nestkube.errors import CommandError

            raise CommandError(["podman", "exec"], 1, "", "ctr: content digest mismatch")

    engine = Failing("podman", {"app:1": ID_A}, "dev", two_node_cluster())
    with pytest.raises(NestkubeError, match="into dev-control-plane failed: ctr: content digest"):
        load_images(["app:1"], cluster="dev", engines=[engine])


# --- load archive ---------------------------------------------------------------------------
def write_archive(path: Path, tag: str = "nk-test/app:1") -> str:
    payload = path.parent / "payload.txt"
    payload.write_text("hello\n")
    spec = ImageSpec(tags=[tag], layers=[Layer().add_file("/hello.txt", payload, 0o644)])
    return write_image_archive(spec, path)


def test_read_archive_images(tmp_path: Path) -> None:
    image_id = write_archive(tmp_path / "a.tar")
    contents = read_archive_images(tmp_path / "a.tar")
    assert [(c.tags, c.image_id) for c in contents] == [(("nk-test/app:1",), image_id)]


def test_read_oci_style_docker_save(tmp_path: Path) -> None:
    import tarfile

    manifest = [{"Config": "blobs/sha256/" + "a" * 64, "RepoTags": ["x:1"], "Layers": []}]
    with tarfile.open(tmp_path / "o.tar", "w") as tar:
        data = json.dumps(manifest).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    assert read_archive_images(tmp_path / "o.tar")[0].image_id == ID_A


def test_archive_loaded_and_skipped(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar"
    image_id = write_archive(archive)
    manifest = "sha256:" + "5" * 64
    present = [("docker.io/nk-test/app:1", manifest), (image_id, manifest)]
    engine = FakeProvider("podman", {}, "dev", two_node_cluster(cp=present))
    status, err = quiet_status()
    out = load_archive(archive, cluster="dev", engines=[engine], status=status)
    assert [(o.node, o.loaded) for o in out] == [
        ("dev-control-plane", False),
        ("dev-worker", True),
    ]
    assert engine.imports[0][2] == archive.read_bytes()
    assert "already present on node dev-control-plane, skipped" in err.getvalue()


def test_gzipped_archive_is_imported_plain(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar"
    write_archive(archive)
    gz = tmp_path / "a.tar.gz"
    gz.write_bytes(gzip.compress(archive.read_bytes()))
    engine = FakeProvider("docker", {}, "dev", {"dev-control-plane": []})
    load_archive(gz, cluster="dev", engines=[engine])
    assert engine.imports[0][2] == archive.read_bytes()


def test_archive_from_stdin(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar"
    write_archive(archive)
    engine = FakeProvider("docker", {}, "dev", two_node_cluster())
    out = load_archive("-", cluster="dev", engines=[engine], stdin=io.BytesIO(archive.read_bytes()))
    assert [o.loaded for o in out] == [True, True]
    assert all(data == archive.read_bytes() for _, _, data in engine.imports)


def test_missing_archive_file(tmp_path: Path) -> None:
    engine = FakeProvider("docker", {}, "dev", two_node_cluster())
    with pytest.raises(LoadError, match=r"archive .*nope.tar not found"):
        load_archive(tmp_path / "nope.tar", cluster="dev", engines=[engine])


def test_not_an_image_archive(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.tar"
    bogus.write_bytes(b"not a tar at all")
    engine = FakeProvider("docker", {}, "dev", two_node_cluster())
    with pytest.raises(LoadError, match="holds no image"):
        load_archive(bogus, cluster="dev", engines=[engine])


def test_archive_unknown_cluster(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar"
    write_archive(archive)
    engine = FakeProvider("docker", {}, "dev", two_node_cluster())
    with pytest.raises(ClusterError, match="no cluster named 'zzz'"):
        load_archive(archive, cluster="zzz", engines=[engine])


def test_cli_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    # No engine on PATH at all: the archive check comes first and needs none.
    monkeypatch.setenv("PATH", str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "-c", MAIN, "load", "archive", str(tmp_path / "x.tar")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"ERROR: archive {tmp_path / 'x.tar'} not found"]
