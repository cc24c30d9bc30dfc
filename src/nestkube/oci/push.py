"""Push an image archive (``docker save`` layout, as :mod:`nestkube.oci.archive` writes) to a
registry over the distribution API, with no engine: how the conformance runner fills a local
registry with its test images, whichever engine (or mode) runs the cluster.

Each layer is sent as it is stored in the archive (gzipped or plain tar, told by its first bytes),
so the registry serves the same blobs a node imported; the manifest is an OCI image manifest.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlencode, urljoin

from nestkube.errors import ClusterError

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
TIMEOUT = 120.0
# A local registry on loopback: never through the environment's proxy.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Blob:
    member: str
    digest: str
    size: int
    media_type: str

    def descriptor(self) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


def repository_and_tag(ref: str) -> tuple[str, str]:
    """``registry.k8s.io/e2e-test-images/agnhost:2.66.1`` -> (``e2e-test-images/agnhost``,
    ``2.66.1``): the path a mirror of that registry serves it under."""
    name, _, tag = ref.rpartition(":")
    if not name or "/" in tag:
        name, tag = ref, "latest"
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        name = rest  # the registry's host is not part of the repository
    elif not rest:
        name = f"library/{name}"  # Docker Hub's short names
    return name, tag


def _blob(tar: tarfile.TarFile, member: str, media_type: str | None = None) -> Blob:
    sha = hashlib.sha256()
    size = 0
    with _open(tar, member) as fh:
        head = fh.read(2)
        sha.update(head)
        size += len(head)
        while chunk := fh.read(1 << 20):
            sha.update(chunk)
            size += len(chunk)
    if media_type is None:
        media_type = LAYER_GZIP if head == b"\x1f\x8b" else LAYER_TAR
    return Blob(member, f"sha256:{sha.hexdigest()}", size, media_type)


def _open(tar: tarfile.TarFile, member: str) -> IO[bytes]:
    fh = tar.extractfile(member)
    if fh is None:
        raise ClusterError(f"{member}: not a file in the image archive")
    return fh


def manifests(archive: Path) -> list[tuple[list[str], bytes, list[Blob]]]:
    """Each image of the archive: its tags, its OCI manifest and the blobs it names."""
    with tarfile.open(archive) as tar:
        images = json.load(_open(tar, "manifest.json"))
        out = []
        for image in images:
            config = _blob(tar, image["Config"], CONFIG)
            layers = [_blob(tar, layer) for layer in image["Layers"]]
            manifest = {
                "schemaVersion": 2,
                "mediaType": MANIFEST,
                "config": config.descriptor(),
                "layers": [layer.descriptor() for layer in layers],
            }
            body = json.dumps(manifest, separators=(",", ":")).encode()
            out.append((list(image.get("RepoTags") or []), body, [config, *layers]))
        return out


def _request(
    method: str,
    url: str,
    body: bytes | IO[bytes] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str]]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with _OPENER.open(req, timeout=TIMEOUT) as resp:
            return resp.status, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        if method == "HEAD" and exc.code == 404:
            return 404, {}
        detail = " ".join(exc.read().decode(errors="replace").split())[:200]
        raise ClusterError(f"{method} {url}: the registry answered {exc.code} {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ClusterError(f"{method} {url}: cannot reach the registry ({exc})") from None


def push_archive(archive: Path, registry: str, rename: dict[str, str] | None = None) -> list[str]:
    """Push every tagged image of ``archive`` to ``registry`` (``localhost:5001``), each under
    its tag's repository path (:func:`repository_and_tag`), or the ref ``rename`` gives for
    it. Blobs the registry has are not sent again. Returns the references pushed."""
    base = f"http://{registry}/v2/"
    pushed = []
    with tarfile.open(archive) as tar:
        for tags, manifest, blobs in manifests(archive):
            for ref in tags:
                repo, tag = repository_and_tag((rename or {}).get(ref, ref))
                for blob in blobs:
                    _push_blob(tar, base, repo, blob)
                _request(
                    "PUT",
                    urljoin(base, f"{repo}/manifests/{tag}"),
                    manifest,
                    {"Content-Type": MANIFEST},
                )
                pushed.append(f"{registry}/{repo}:{tag}")
    return pushed


def _push_blob(tar: tarfile.TarFile, base: str, repo: str, blob: Blob) -> None:
    status, _ = _request("HEAD", urljoin(base, f"{repo}/blobs/{blob.digest}"))
    if status == 200:
        return
    _, headers = _request("POST", urljoin(base, f"{repo}/blobs/uploads/"), b"")
    location = headers.get("Location") or headers.get("location") or ""
    if not location:
        raise ClusterError(f"POST {base}{repo}/blobs/uploads/: no upload location in the answer")
    upload = urljoin(base, location)
    upload += ("&" if "?" in upload else "?") + urlencode({"digest": blob.digest})
    with _open(tar, blob.member) as fh:
        _request(
            "PUT",
            upload,
            fh,
            {"Content-Type": "application/octet-stream", "Content-Length": str(blob.size)},
        )
