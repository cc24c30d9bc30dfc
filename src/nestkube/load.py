"""Load images into the nodes of a cluster, from any engine that has them or from an archive.

Nodes run containerd, so an image is streamed as a docker-archive into
``ctr -n k8s.io images import`` inside each node. Unlike kind's ``load docker-image`` the image
may come from any engine present (Podman, Docker, nerdctl), not only the one running the nodes.

A node that already holds the image under the same image ID (the config digest) is skipped:
re-importing a large image into several nodes is the slow part of an inner dev loop. What a
node holds is read as data from the CRI, `crictl images -o json` (references and image IDs).
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from nestkube.errors import ClusterError, CommandError, NestkubeError, ProviderError
from nestkube.host import HostFacts, probe_host
from nestkube.names import cluster_name
from nestkube.nodeops.loadbalancer import kubernetes_nodes
from nestkube.oci.archive import host_arch
from nestkube.providers import ENGINES, get_provider, requested_engine
from nestkube.providers.base import Node, Provider
from nestkube.status import SILENT, Status

IMPORT_ARGS = ("ctr", "-n", "k8s.io", "images", "import", "--all-platforms", "-")
_INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)


class LoadError(NestkubeError):
    """An image or archive to load cannot be found or read."""


@dataclass(frozen=True)
class LoadOutcome:
    """What happened to one image (or archive) on one node."""

    image: str
    node: str
    loaded: bool  # False: the node already had it and was skipped
    source: str  # the engine the image came from, or the archive path


# --- engines and clusters -----------------------------------------------------------------
def answering_engines(host: HostFacts | None = None) -> list[Provider]:
    """Every engine on PATH that answers, in nestkube's preference order."""
    found: list[Provider] = []
    for engine in ENGINES:
        if not shutil.which(engine):
            continue
        try:
            found.append(get_provider(engine, host))
        except ProviderError:
            continue  # installed but not running (no dockerd): it holds no cluster or image
    return found


def find_cluster(
    name: str,
    *,
    provider: str | None = None,
    engines: Sequence[Provider] | None = None,
) -> tuple[Provider, list[Node]]:
    """The engine whose containers carry cluster ``name``, and the cluster's nodes.

    Without a provider (--provider, NESTKUBE_PROVIDER) every engine present is asked, so
    `load` and `export logs` find a Docker cluster while Podman is installed too.
    """
    cluster_name(name)
    wanted = requested_engine(provider)
    candidates = list(engines) if engines is not None else answering_engines()
    if wanted:
        # The engine's own error (not running, too old) says more than "no cluster".
        candidates = [e for e in candidates if e.info.name == wanted] or [get_provider(wanted)]
    if not candidates:
        raise ProviderError("no container engine answers: install or start podman or docker")
    for engine in candidates:
        nodes = engine.list_nodes(name)
        if nodes:
            # The load balancer of several control planes has no runtime, images or journal.
            return engine, kubernetes_nodes(nodes)
    asked = ", ".join(e.info.name for e in candidates)
    raise ClusterError(f"no cluster named {name!r} (looked in {asked})")


def select_nodes(nodes: Sequence[Node], wanted: Iterable[str] | None, cluster: str) -> list[Node]:
    """The nodes named in ``wanted`` (all when None), in cluster order; unknown names fail."""
    names = [w.strip() for w in wanted or () if w.strip()]
    if not names:
        return list(nodes)
    known = {n.name for n in nodes}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ClusterError(
            f"no node named {', '.join(unknown)} in cluster {cluster!r} "
            f"(nodes: {', '.join(sorted(known))})"
        )
    return [n for n in nodes if n.name in names]


# --- names and IDs ------------------------------------------------------------------------
def normalise_id(value: str) -> str:
    """Image IDs as 'sha256:<hex>' (Podman prints the hex alone)."""
    value = value.strip()
    return value if ":" in value else f"sha256:{value}"


def normalise_ref(ref: str) -> str:
    """The fully qualified name containerd stores: 'nginx' -> 'docker.io/library/nginx:latest'."""
    name, _, digest = ref.partition("@")
    first, _, rest = name.partition("/")
    if not rest:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    if digest:
        return f"{name}@{digest}"
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


def ref_candidates(image: str) -> list[str]:
    """Names an image asked for as ``image`` may carry in a node after import.

    Docker saves a short name as given (containerd qualifies it with docker.io); Podman
    resolves a short name of a local image to localhost/.
    """
    refs = [normalise_ref(image)]
    first = image.partition("/")[0]
    if "/" not in image or ("." not in first and ":" not in first and first != "localhost"):
        refs.append(normalise_ref(f"localhost/{image}"))
    return list(dict.fromkeys(refs))


# --- what a node holds --------------------------------------------------------------------
@dataclass(frozen=True)
class NodeImage:
    ref: str
    digest: str  # of the manifest (or index) the ref points at


def parse_ctr_images(text: str) -> list[NodeImage]:
    """Rows of `ctr images ls`: REF TYPE DIGEST SIZE PLATFORMS LABELS."""
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[0] == "REF":
            continue
        rows.append(NodeImage(parts[0], parts[2]))
    return rows


CRICTL_IMAGES = ("crictl", "images", "-o", "json")


def parse_cri_images(text: str) -> dict[str, str] | None:
    """Image ID by reference (each repo tag and repo digest, normalised) from `crictl images
    -o json`; None when ``text`` is not that JSON. The CRI's image ID is the config digest,
    the ID engines give an image."""
    if not text.strip():
        return {}
    try:
        listed = json.loads(text)
    except ValueError:
        return None
    if not isinstance(listed, dict) or not isinstance(listed.get("images") or [], list):
        return None
    ids: dict[str, str] = {}
    for image in listed.get("images") or []:
        if not isinstance(image, dict) or not image.get("id"):
            continue
        image_id = normalise_id(str(image["id"]))
        for ref in [*(image.get("repoTags") or []), *(image.get("repoDigests") or [])]:
            ids[normalise_ref(str(ref))] = image_id
    return ids


class NodeImages:
    """The images in one node's k8s.io namespace, with their image IDs.

    Read as data from the CRI (`crictl images -o json`: references and IDs); a node without a
    working crictl falls back to `ctr images ls`'s text and resolves IDs from its manifests on
    demand.
    """

    def __init__(self, provider: Provider, node: str) -> None:
        self._provider = provider
        self._node = node
        self.rows: list[NodeImage] = []
        self._by_ref: dict[str, str] | None = None
        listed = provider.exec(
            node, list(CRICTL_IMAGES), check=False, what=f"listing images in {node}"
        )
        if listed.ok:
            self._by_ref = parse_cri_images(listed.stdout)
        if self._by_ref is not None:
            self._ids: dict[str, str] = {}
            return
        out = provider.exec(
            node, ["ctr", "-n", "k8s.io", "images", "ls"], what=f"listing images in {node}"
        ).stdout
        self.rows = parse_ctr_images(out)
        # The CRI plugin names every image it manages by its ID too ("sha256:<config>"),
        # pointing at the same manifest: that maps manifest digests to IDs without reading blobs.
        self._ids = {r.digest: r.ref for r in self.rows if r.ref.startswith("sha256:")}

    def image_id(self, ref: str) -> str | None:
        if self._by_ref is not None:
            return self._by_ref.get(normalise_ref(ref))
        row = next((r for r in self.rows if r.ref == ref), None)
        if row is None:
            return None
        if row.digest not in self._ids:
            self._ids[row.digest] = self._config_digest(row.digest)
        return self._ids[row.digest] or None

    def has(self, refs: Iterable[str], image_id: str) -> bool:
        """Some ref in ``refs`` names an image whose ID is ``image_id``."""
        want = normalise_id(image_id)
        return any(self.image_id(ref) == want for ref in refs)

    def _config_digest(self, digest: str, depth: int = 0) -> str:
        res = self._provider.exec(
            self._node, ["ctr", "-n", "k8s.io", "content", "get", digest], check=False
        )
        try:
            doc = json.loads(res.stdout) if res.ok else {}
        except ValueError:
            return ""
        if not isinstance(doc, dict):
            return ""
        if doc.get("mediaType") in _INDEX_TYPES or "manifests" in doc:
            if depth > 1:
                return ""
            child = _platform_manifest(doc.get("manifests") or [])
            return self._config_digest(child, depth + 1) if child else ""
        config = doc.get("config") or {}
        return str(config.get("digest", "")) if isinstance(config, dict) else ""


def _platform_manifest(manifests: list[Any]) -> str:
    arch = host_arch()
    for entry in manifests:
        if not isinstance(entry, dict):
            continue
        plat = entry.get("platform") or {}
        if plat.get("os", "linux") == "linux" and plat.get("architecture", arch) == arch:
            return str(entry.get("digest", ""))
    return ""


# --- archives ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ArchiveImage:
    tags: tuple[str, ...]
    image_id: str


def read_archive_images(path: Path) -> list[ArchiveImage]:
    """Tags and IDs of the images in a docker-archive or OCI archive (empty if unreadable)."""
    try:
        with tarfile.open(path, mode="r:*") as tar:
            manifest = _tar_json(tar, "manifest.json")
            if isinstance(manifest, list):
                return [_docker_entry(e) for e in manifest if isinstance(e, dict)]
            index = _tar_json(tar, "index.json")
            if isinstance(index, dict):
                return _oci_entries(tar, index)
    except (OSError, tarfile.TarError, ValueError):
        return []
    return []


def _tar_json(tar: tarfile.TarFile, name: str) -> Any:
    try:
        member = tar.getmember(name)
    except KeyError:
        return None
    fh = tar.extractfile(member)
    return json.loads(fh.read()) if fh is not None else None


def _docker_entry(entry: dict[str, Any]) -> ArchiveImage:
    # "<hex>.json" in classic archives, "blobs/sha256/<hex>" in Docker 25+'s OCI-style ones.
    config = str(entry.get("Config", "")).rsplit("/", 1)[-1].removesuffix(".json")
    tags = tuple(str(t) for t in entry.get("RepoTags") or ())
    return ArchiveImage(tags, normalise_id(config) if config else "")


def _oci_entries(tar: tarfile.TarFile, index: dict[str, Any]) -> list[ArchiveImage]:
    found = []
    for desc in index.get("manifests") or []:
        if not isinstance(desc, dict):
            continue
        annotations = desc.get("annotations") or {}
        name = annotations.get("io.containerd.image.name") or annotations.get(
            "org.opencontainers.image.ref.name", ""
        )
        digest = str(desc.get("digest", ""))
        manifest = _tar_json(tar, "blobs/" + digest.replace(":", "/"))
        config = (manifest or {}).get("config", {}) if isinstance(manifest, dict) else {}
        image_id = str(config.get("digest", "")) if isinstance(config, dict) else ""
        tag = str(name) if name and ("/" in str(name) or ":" in str(name)) else ""
        found.append(ArchiveImage((tag,) if tag else (), image_id))
    return found


def _plain_tar(source: Path, workdir: Path) -> Path:
    """``source``, decompressed into ``workdir`` first if gzip: ctr imports plain tars only."""
    with source.open("rb") as fh:
        magic = fh.read(2)
    if magic != b"\x1f\x8b":
        return source
    plain = workdir / "archive.tar"
    with gzip.open(source, "rb") as src, plain.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return plain


class CrioImages:
    """The images in a CRI-O node's containers/storage, as CRI-O lists them."""

    def __init__(self, provider: Provider, node: str) -> None:
        out = provider.exec(node, list(CRICTL_IMAGES), what=f"listing images in {node}").stdout
        ids = parse_cri_images(out)
        if ids is None:
            raise ClusterError(f"crictl in {node} listed images as something other than JSON")
        self._ids = ids

    def image_id(self, ref: str) -> str | None:
        return self._ids.get(normalise_ref(ref))

    def has(self, refs: Iterable[str], image_id: str) -> bool:
        want = normalise_id(image_id)
        return any(self.image_id(ref) == want for ref in refs)


def node_runtime(node: Node) -> str:
    """The node's runtime, from its image's label (containers carry their image's labels)."""
    from nestkube.images.node_image import LABEL_RUNTIME

    return node.labels.get(LABEL_RUNTIME) or "containerd"


def node_images(provider: Provider, node: Node) -> NodeImages | CrioImages:
    if node_runtime(node) == "cri-o":
        return CrioImages(provider, node.name)
    return NodeImages(provider, node.name)


# CRI-O has no import of its own: skopeo (in CRI-O node images) copies each tag of a
# docker-archive into containers/storage, which CRI-O shares.
CRIO_IMPORT = (
    'f=$(mktemp) && cat >"$f" && for ref in "$@"; do '
    'skopeo copy --quiet "docker-archive:$f:$ref" "containers-storage:$ref" '
    '|| { rm -f "$f"; exit 1; }; done; rm -f "$f"'
)


def import_into(provider: Provider, node: Node, archive: Path) -> None:
    if node_runtime(node) != "cri-o":
        import_archive(provider, node.name, archive)
        return
    with tarfile.open(archive) as tar:
        if _tar_json(tar, "manifest.json") is None:
            raise LoadError(
                f"{archive.name} is an OCI archive; CRI-O nodes load docker-archives "
                "(`docker save`, `podman save --format docker-archive`)"
            )
    tags = [t for image in read_archive_images(archive) for t in image.tags]
    if not tags:
        raise LoadError(f"{archive.name} holds no tagged image; CRI-O nodes load images by tag")
    with archive.open("rb") as fh:
        try:
            provider.exec_stream_in(node.name, ["sh", "-c", CRIO_IMPORT, "sh", *tags], fh)
        except CommandError as exc:
            raise NestkubeError(
                f"importing {archive.name} into {node.name} failed: {exc.output_tail(1)}"
            ) from exc


# --- importing ----------------------------------------------------------------------------
def import_archive(provider: Provider, node: str, archive: Path) -> None:
    with archive.open("rb") as fh:
        try:
            provider.exec_stream_in(node, IMPORT_ARGS, fh)
        except CommandError as exc:
            raise NestkubeError(
                f"importing {archive.name} into {node} failed: {exc.output_tail(1)}"
            ) from exc


def find_image_source(image: str, engines: Sequence[Provider]) -> tuple[Provider, str] | None:
    """The first of ``engines`` that has ``image``, with the image's ID there."""
    for engine in engines:
        image_id = engine.image_id(image)
        if image_id:
            return engine, normalise_id(image_id)
    return None


def load_images(
    images: Sequence[str],
    *,
    cluster: str = "nestkube",
    nodes: Iterable[str] | None = None,
    provider: str | None = None,
    engines: Sequence[Provider] | None = None,
    status: Status = SILENT,
) -> list[LoadOutcome]:
    """Copy ``images`` into the nodes of ``cluster``, taking each from the first engine that
    has it: the cluster's own engine first, then the others present.

    ``provider`` picks the engine running the cluster; images are still looked up in every
    engine present. ``engines`` replaces engine discovery (tests, or a caller that probed).
    """
    cluster_name(cluster)
    if not images:
        raise LoadError("no image given")
    present = list(engines) if engines is not None else answering_engines(probe_host())
    engine, all_nodes = find_cluster(cluster, provider=provider, engines=present)
    targets = select_nodes(all_nodes, nodes, cluster)
    search = [engine, *[e for e in present if e is not engine]]

    sources: dict[str, tuple[Provider, str]] = {}
    missing = []
    for image in images:
        found = find_image_source(image, search)
        if found is None:
            missing.append(image)
        else:
            sources[image] = found
    if missing:
        where = ", ".join(e.info.name for e in search)
        raise LoadError(f"image {', '.join(missing)} not found in any engine ({where})")

    inventories: dict[str, NodeImages | CrioImages] = {}
    outcomes: list[LoadOutcome] = []
    for image in images:
        source, image_id = sources[image]
        refs = ref_candidates(image)
        needed = []
        for node in targets:
            inv = inventories.get(node.name) or node_images(engine, node)
            inventories[node.name] = inv
            if inv.has(refs, image_id):
                status.info(f"image {image} already present on node {node.name}, skipped")
                outcomes.append(LoadOutcome(image, node.name, False, source.info.name))
            else:
                needed.append(node)
        if not needed:
            continue
        with tempfile.TemporaryDirectory(prefix="nestkube-load-") as tmp:
            archive = Path(tmp) / "image.tar"
            with status.step(f"Saving {image} from {source.info.name}"), archive.open("wb") as fh:
                source.save_image([image], fh)
            for node in needed:
                with status.step(f"Loading {image} onto {node.name}"):
                    import_into(engine, node, archive)
                outcomes.append(LoadOutcome(image, node.name, True, source.info.name))
    return outcomes


def load_archive(
    archive: str | Path,
    *,
    cluster: str = "nestkube",
    nodes: Iterable[str] | None = None,
    provider: str | None = None,
    engines: Sequence[Provider] | None = None,
    status: Status = SILENT,
    stdin: IO[bytes] | None = None,
) -> list[LoadOutcome]:
    """Import an image archive (docker-archive or OCI tar, optionally gzipped; '-' reads
    stdin) into the nodes of ``cluster``, skipping nodes that hold all its images already."""
    cluster_name(cluster)
    label = str(archive)
    path = Path(archive) if label != "-" else None
    if path is not None and not path.is_file():
        raise LoadError(f"archive {label} not found")
    engine, all_nodes = find_cluster(cluster, provider=provider, engines=engines)
    targets = select_nodes(all_nodes, nodes, cluster)
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="nestkube-load-") as tmp:
        if path is None:
            # Every node reads the archive from the start, so stdin is kept in a file.
            path = Path(tmp) / "stdin.tar"
            with path.open("wb") as dst:
                shutil.copyfileobj(stdin or sys.stdin.buffer, dst)
            label = "stdin"
            if path.stat().st_size == 0:
                raise LoadError("archive on stdin is empty")
        plain = _plain_tar(path, Path(tmp))
        contents = read_archive_images(plain)
        if not contents:
            raise LoadError(f"archive {label} holds no image (not a docker or OCI image archive)")
        names = ", ".join(t for c in contents for t in c.tags) or "untagged images"
        for node in targets:
            inv = node_images(engine, node)
            if all(c.tags and c.image_id for c in contents) and all(
                inv.has([normalise_ref(t) for t in c.tags], c.image_id) for c in contents
            ):
                status.info(f"image {names} already present on node {node.name}, skipped")
                outcomes.append(LoadOutcome(label, node.name, False, label))
                continue
            with status.step(f"Loading {names} onto {node.name}"):
                import_into(engine, node, plain)
            outcomes.append(LoadOutcome(label, node.name, True, label))
    return outcomes
