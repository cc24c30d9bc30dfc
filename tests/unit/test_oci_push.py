"""Pushing an image archive over the distribution API, to a registry of the test's own on
loopback that keeps what it is sent and checks every digest."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from nestkube.errors import ClusterError
from nestkube.oci.archive import ImageSpec, Layer, write_image_archive
from nestkube.oci.push import LAYER_GZIP, LAYER_TAR, MANIFEST, push_archive, repository_and_tag


class Store:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[tuple[str, str], tuple[str, bytes]] = {}
        self.uploads = 0
        self.refuse_manifests = False


def _handler(store: Store) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _reply(self, code: int, headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_HEAD(self) -> None:
            digest = self.path.rsplit("/", 1)[-1]
            self._reply(200 if "/blobs/" in self.path and digest in store.blobs else 404)

        def do_POST(self) -> None:
            assert self.path.endswith("/blobs/uploads/"), self.path
            store.uploads += 1
            self._reply(202, {"Location": f"/v2/upload/{store.uploads}?state=x"})

        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            url = urlsplit(self.path)
            if url.path.startswith("/v2/upload/"):
                digest = parse_qs(url.query)["digest"][0]
                if digest != "sha256:" + hashlib.sha256(body).hexdigest():
                    self._reply(400)
                    return
                store.blobs[digest] = body
                self._reply(201)
                return
            if store.refuse_manifests:
                self._reply(403)
                return
            repo, _, tag = url.path.removeprefix("/v2/").partition("/manifests/")
            store.manifests[(repo, tag)] = (self.headers["Content-Type"], body)
            self._reply(201)

    return Handler


@pytest.fixture
def registry() -> Iterator[tuple[str, Store]]:
    store = Store()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(store))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", store
    finally:
        server.shutdown()
        server.server_close()


def _archive(tmp_path: Path, tags: list[str], compress: bool) -> Path:
    (tmp_path / "hello").write_text("hello\n")
    layer = Layer().add_file("/bin/hello", tmp_path / "hello")
    dest = tmp_path / "image.tar"
    write_image_archive(
        ImageSpec(tags=tags, layers=[layer], cmd=["/bin/hello"]), dest, compress=compress
    )
    return dest


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("registry.k8s.io/e2e-test-images/agnhost:2.66.1", ("e2e-test-images/agnhost", "2.66.1")),
        ("registry.k8s.io/pause:3.10.2", ("pause", "3.10.2")),
        ("localhost:5001/app:1", ("app", "1")),
        ("busybox", ("library/busybox", "latest")),
        ("nk/app:2", ("nk/app", "2")),
    ],
)
def test_a_reference_maps_to_the_path_a_mirror_serves(ref: str, expected: tuple[str, str]) -> None:
    assert repository_and_tag(ref) == expected


@pytest.mark.parametrize("compress", [False, True])
def test_every_blob_and_the_manifest_arrive_with_their_digests(
    tmp_path: Path, registry: tuple[str, Store], compress: bool
) -> None:
    host, store = registry
    archive = _archive(tmp_path, ["registry.k8s.io/e2e-test-images/hello:1.0"], compress)
    assert push_archive(archive, host) == [f"{host}/e2e-test-images/hello:1.0"]
    media_type, body = store.manifests[("e2e-test-images/hello", "1.0")]
    assert media_type == MANIFEST
    manifest = json.loads(body)
    layer = manifest["layers"][0]
    assert layer["mediaType"] == (LAYER_GZIP if compress else LAYER_TAR)
    blob = store.blobs[layer["digest"]]
    assert len(blob) == layer["size"]
    assert (gzip.decompress(blob) if compress else blob).find(b"hello\n") > 0
    config = json.loads(store.blobs[manifest["config"]["digest"]])
    assert config["config"]["Cmd"] == ["/bin/hello"]


def test_blobs_the_registry_has_are_not_sent_again(
    tmp_path: Path, registry: tuple[str, Store]
) -> None:
    host, store = registry
    archive = _archive(tmp_path, ["registry.k8s.io/a:1", "registry.k8s.io/a:2"], False)
    push_archive(archive, host)
    assert store.uploads == 2  # the config and the one layer, once for both tags
    assert set(store.manifests) == {("a", "1"), ("a", "2")}


def test_a_rename_pushes_under_the_other_reference(
    tmp_path: Path, registry: tuple[str, Store]
) -> None:
    host, store = registry
    archive = _archive(tmp_path, ["registry.k8s.io/a:1"], False)
    push_archive(archive, host, rename={"registry.k8s.io/a:1": "other/b:9"})
    assert set(store.manifests) == {("other/b", "9")}


def test_a_refusal_or_no_registry_is_one_line(tmp_path: Path, registry: tuple[str, Store]) -> None:
    host, store = registry
    store.refuse_manifests = True
    archive = _archive(tmp_path, ["registry.k8s.io/a:1"], False)
    with pytest.raises(ClusterError, match="answered 403") as refused:
        push_archive(archive, host)
    assert "\n" not in str(refused.value)
    with pytest.raises(ClusterError, match="cannot reach the registry"):
        push_archive(archive, "127.0.0.1:1")
