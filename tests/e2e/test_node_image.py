"""Node images on real Podman and real Docker, and `nestkube build node-image` from a mirror.

Each image is started the way cluster nodes run (the provider's own node flags), and what is
inside is compared with what kubeadm asks for. The release-mirror tests serve the kit's own
binaries over HTTP in the dl.k8s.io layout, so no internet is needed; the CLI runs as a
subprocess with a private XDG cache, so its release cache can be inspected afterwards (the Go
module kit is shared into it, so no test rebuilds containerd or etcd).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from support import engine_leftovers, nestkube_cli

from nestkube.cache import cache_root
from nestkube.images.node_image import (
    LABEL_COMPONENTS,
    LABEL_K8S_VERSION,
    LABEL_MISSING,
    LABEL_PRELOADED,
    LABEL_RUNTIME,
    NodeImage,
    parse_components_label,
)
from nestkube.kit import releases
from nestkube.kit.base_image import base_image_name
from nestkube.kit.kubernetes import KUBE_COMMANDS, KubernetesBinaries
from nestkube.oci.archive import host_arch
from nestkube.providers.base import Node, NodeSpec, Provider
from nestkube.providers.docker import DockerProvider

MIRROR_IMAGE = "localhost/nestkube/node:mirror-test"
# The last command downloaded, so a mismatch there proves earlier good files are not kept.
CORRUPTED = KUBE_COMMANDS[-1]
FLAGS = (
    "--kubernetes-binaries",
    "--kubernetes-version",
    "--release-url",
    "--kubernetes-source",
    "--debian-source",
    "--base-image",
    "--image",
    "--provider",
    "--offline",
    "--force",
)


# --- fixtures -------------------------------------------------------------------------------
# docker and docker_node_image (module scope), kit and podman_node_image come from conftest.py.


@dataclass(frozen=True)
class Mirror:
    """One HTTP server with two release trees: ``good`` verifies, ``bad`` has one wrong sum."""

    root: Path
    base_url: str

    @property
    def good(self) -> str:
        return f"{self.base_url}/good"

    @property
    def bad(self) -> str:
        return f"{self.base_url}/bad"


def _populate(tree: Path, kit: KubernetesBinaries, *, corrupt: str | None) -> None:
    directory = tree / kit.version / "bin" / "linux" / host_arch()
    directory.mkdir(parents=True)
    for command in KUBE_COMMANDS:
        target = directory / command
        try:
            os.link(kit.path(command), target)
        except OSError:
            shutil.copy2(kit.path(command), target)
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        if command == corrupt:
            digest = hashlib.sha256(b"not " + command.encode()).hexdigest()
        (directory / f"{command}.sha256").write_text(digest + "\n")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory, kit: KubernetesBinaries) -> Iterator[Mirror]:
    root = tmp_path_factory.mktemp("mirror")
    _populate(root / "good", kit, corrupt=None)
    _populate(root / "bad", kit, corrupt=CORRUPTED)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Mirror(root, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- helpers --------------------------------------------------------------------------------
def nk(
    *args: str, xdg: Path, timeout: float = 900, share_kit: bool = True
) -> subprocess.CompletedProcess[str]:
    if share_kit and not (xdg / "nestkube" / "kit").exists():
        (xdg / "nestkube").mkdir(parents=True, exist_ok=True)
        (xdg / "nestkube" / "kit").symlink_to(cache_root() / "kit")
    env = {**os.environ, "XDG_CACHE_HOME": str(xdg), "NO_COLOR": "1"}
    return subprocess.run(
        [nestkube_cli(), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        env=env,
    )


def the_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The single ERROR: line of a failed run; progress lines may precede it."""
    assert proc.returncode == 1, f"exit {proc.returncode}:\n{proc.stderr}{proc.stdout}"
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def release_cache_entries(xdg: Path) -> list[str]:
    release = xdg / "nestkube" / "release"
    return sorted(p.name for p in release.iterdir()) if release.is_dir() else []


def wait_for_systemd(provider: Provider, node: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = provider.exec(node, ["systemctl", "is-system-running"], check=False).stdout
        state = state.strip()
        if state in ("running", "degraded", "maintenance", "stopping"):
            return state
        time.sleep(0.5)
    return state or "unknown"


@contextmanager
def booted_node(provider: Provider, image: str) -> Iterator[str]:
    """A node container from ``image`` on a throwaway network, removed with its volume after."""
    cluster = f"e2e-img-{uuid.uuid4().hex[:6]}"
    network = f"nestkube-{cluster}"
    name = f"{cluster}-node"
    provider.ensure_network(network, cluster)
    try:
        provider.create_node(
            NodeSpec(name=name, role="worker", image=image, cluster=cluster, network=network)
        )
        yield name
    finally:
        provider.delete_nodes([Node(name, "worker", cluster)])
        provider.delete_network_if_unused(network)
    left = engine_leftovers(provider.info.binary, cluster)
    assert left == {"containers": [], "volumes": [], "networks": []}, left


def check_node_image(
    provider: Provider, image: str, version: str, missing_ok: tuple[str, ...] = ()
) -> None:
    labels = provider.image_labels(image)
    assert labels[LABEL_K8S_VERSION] == version
    assert labels[LABEL_RUNTIME] == "containerd"
    preloaded = {x for x in labels[LABEL_PRELOADED].split(",") if x}
    missing = {x for x in labels[LABEL_MISSING].split(",") if x}
    assert preloaded, labels
    assert not preloaded & missing, labels
    components = parse_components_label(labels[LABEL_COMPONENTS])
    runtime = releases.runtime_for(version)
    assert components["kubernetes"] == version
    assert components["containerd"] == runtime.containerd
    assert components["runc"] == runtime.runc
    assert components["cni-plugins"] == runtime.cni_plugins
    assert components["crictl"] == runtime.crictl
    assert "pause" in components
    # etcd and CoreDNS are exactly what kubeadm names, or absent and recorded as missing.
    for ref in preloaded:
        repo, tag = ref.rsplit("/", 1)[-1].split(":", 1)
        if repo in ("etcd", "coredns"):
            assert components[repo] == "v" + tag.split("-", 1)[0].lstrip("v"), (ref, components)

    start = time.monotonic()
    with booted_node(provider, image) as node:
        state = wait_for_systemd(provider, node)
        failed = provider.exec(
            node, ["systemctl", "list-units", "--failed", "--no-legend", "--plain"], check=False
        ).stdout.strip()
        assert state == "running", f"systemd is {state!r}; failed units:\n{failed}"
        print(f"{provider.info.name}: systemd running {time.monotonic() - start:.1f}s after run")

        listed = provider.exec(node, ["ctr", "-n", "k8s.io", "images", "ls", "-q"]).stdout
        in_containerd = {line.strip() for line in listed.splitlines() if line.strip()}
        assert preloaded <= in_containerd, f"not in containerd: {preloaded - in_containerd}"

        asked = provider.exec(
            node, ["kubeadm", "config", "images", "list", "--kubernetes-version", version]
        ).stdout
        wanted = {line.strip() for line in asked.splitlines() if line.strip()}
        assert wanted - missing <= preloaded, f"kubeadm wants more: {wanted - missing - preloaded}"
        assert missing <= wanted, missing
        # Only a CoreDNS whose module is not served may be missing, and only where allowed.
        assert all(any(f"/{m}:" in ref for m in missing_ok) for ref in missing), missing

        on_node = provider.exec(node, ["cat", "/etc/nestkube/version"]).stdout.strip()
        assert on_node == version
        listed_components = provider.exec(node, ["cat", "/etc/nestkube/components"]).stdout
        assert parse_components_label(",".join(listed_components.split())) == components
        # The binaries report the versions the labels claim.
        assert version in provider.exec(node, ["kubeadm", "version", "-o", "short"]).stdout
        ctr_version = provider.exec(node, ["containerd", "--version"]).stdout
        assert runtime.containerd in ctr_version, ctr_version
        runc_version = provider.exec(node, ["runc", "--version"]).stdout
        assert runtime.runc.lstrip("v") in runc_version, runc_version
        crictl_version = provider.exec(node, ["crictl", "--version"]).stdout
        assert runtime.crictl in crictl_version, crictl_version


# --- images on both engines -----------------------------------------------------------------
def test_podman_node_image_boots_with_everything_preloaded(
    podman: Provider, podman_node_image: NodeImage, kit: KubernetesBinaries
) -> None:
    assert podman_node_image.kubernetes_version == kit.version
    check_node_image(podman, podman_node_image.image, kit.version)
    print(f"podman node image {podman_node_image.image}: {podman_node_image.size_bytes} bytes")


def test_docker_node_image_boots_with_everything_preloaded(
    docker: DockerProvider, docker_node_image: NodeImage, kit: KubernetesBinaries
) -> None:
    assert docker_node_image.kubernetes_version == kit.version
    check_node_image(docker, docker_node_image.image, kit.version)
    print(f"docker node image {docker_node_image.image}: {docker_node_image.size_bytes} bytes")


# --- the CLI with a release mirror ----------------------------------------------------------
def test_build_from_release_mirror(
    podman: Provider,
    podman_node_image: NodeImage,
    kit: KubernetesBinaries,
    mirror: Mirror,
    tmp_path: Path,
) -> None:
    # Computed here, not in the subprocess: its cache is empty, and the name is the same.
    base = base_image_name()
    assert podman.image_exists(base), "the podman_node_image fixture imports the kit base"
    xdg = tmp_path / "xdg"
    podman.remove_image(MIRROR_IMAGE)
    try:
        start = time.monotonic()
        proc = nk(
            "build",
            "node-image",
            "--kubernetes-version",
            kit.version,
            "--release-url",
            mirror.good,
            "--image",
            MIRROR_IMAGE,
            "--offline",
            "--base-image",
            base,
            "--provider",
            "podman",
            xdg=xdg,
        )
        assert proc.returncode == 0, proc.stderr + proc.stdout
        steps = [line for line in proc.stderr.splitlines() if line.startswith(" ✓")]
        print(f"mirror build took {time.monotonic() - start:.1f}s:", *steps, sep="\n")
        assert proc.stdout.strip() == MIRROR_IMAGE
        assert podman.image_exists(MIRROR_IMAGE)

        entries = release_cache_entries(xdg)
        assert len(entries) == 1, entries
        manifest = json.loads(
            (xdg / "nestkube" / "release" / entries[0] / "manifest.json").read_text()
        )
        assert manifest["url"] == f"{mirror.good}/{kit.version}/bin/linux/{host_arch()}"
        for command in KUBE_COMMANDS:
            served = mirror.root / "good" / kit.version / "bin/linux" / host_arch() / command
            assert manifest["sha256"][command] == hashlib.sha256(served.read_bytes()).hexdigest()

        check_node_image(podman, MIRROR_IMAGE, kit.version)
    finally:
        podman.remove_image(MIRROR_IMAGE)
    assert not podman.image_exists(MIRROR_IMAGE)


def test_checksum_mismatch_leaves_no_image_and_no_cache(
    podman: Provider, kit: KubernetesBinaries, mirror: Mirror, tmp_path: Path
) -> None:
    xdg = tmp_path / "xdg"
    target = "localhost/nestkube/node:mismatch-test"
    podman.remove_image(target)
    proc = nk(
        "build",
        "node-image",
        "--kubernetes-version",
        kit.version,
        "--release-url",
        mirror.bad,
        "--image",
        target,
        "--offline",
        "--base-image",
        base_image_name(),
        "--provider",
        "podman",
        xdg=xdg,
    )
    error = the_error(proc)
    assert "checksum mismatch" in error, error
    assert CORRUPTED in error, error
    assert not podman.image_exists(target)
    assert release_cache_entries(xdg) == []


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("binaries-missing", "/nonexistent is not a directory"),
        ("version-banana", "'banana'"),
        ("mirror-unreachable", "cannot reach"),
        ("version-not-on-mirror", "not found"),
        ("two-sources", "choose one of"),
    ],
)
def test_bad_flags_give_one_line_errors(
    case: str,
    expected: str,
    podman: Provider,
    kit: KubernetesBinaries,
    mirror: Mirror,
    closed_port: int,
    tmp_path: Path,
) -> None:
    flags = {
        "binaries-missing": ["--kubernetes-binaries", "/nonexistent"],
        "version-banana": ["--kubernetes-version", "banana"],
        "mirror-unreachable": [
            "--kubernetes-version",
            kit.version,
            "--release-url",
            f"http://127.0.0.1:{closed_port}",
        ],
        "version-not-on-mirror": ["--kubernetes-version", "v1.20.99", "--release-url", mirror.good],
        "two-sources": [
            "--kubernetes-binaries",
            str(kit.directory),
            "--kubernetes-version",
            kit.version,
        ],
    }[case]
    target = f"localhost/nestkube/node:bad-flags-{case}"
    xdg = tmp_path / "xdg"
    proc = nk("build", "node-image", *flags, "--image", target, "--provider", "podman", xdg=xdg)
    error = the_error(proc)
    assert proc.stderr.strip().splitlines() == [error], proc.stderr
    assert expected in error, error
    assert not podman.image_exists(target)
    assert release_cache_entries(xdg) == []


def test_unfetchable_module_version_fails_in_one_line_and_caches_nothing(
    podman: Provider, tmp_path: Path
) -> None:
    xdg = tmp_path / "xdg"
    target = "localhost/nestkube/node:unfetchable-test"
    proc = nk(
        "build",
        "node-image",
        "--kubernetes-version",
        "v1.37.99",
        "--image",
        target,
        "--provider",
        "podman",
        xdg=xdg,
        share_kit=False,
    )
    error = the_error(proc)
    assert error.startswith("ERROR: cannot fetch Go module k8s.io/kubernetes@v1.37.99: "), error
    assert not podman.image_exists(target)
    cached = [p for p in (xdg / "nestkube").rglob("*") if p.is_file()] if xdg.exists() else []
    assert cached == [], cached


def test_second_build_of_the_same_inputs_reuses_everything(
    podman: Provider, podman_node_image: NodeImage, tmp_path: Path
) -> None:
    start = time.monotonic()
    proc = nk("build", "node-image", "--offline", "--provider", "podman", xdg=tmp_path / "xdg")
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == podman_node_image.image
    assert "is up to date" in proc.stderr, proc.stderr
    assert "Building" not in proc.stderr, proc.stderr
    print(f"warm build node-image: {elapsed:.1f}s")


def test_help_mentions_every_flag(tmp_path: Path) -> None:
    proc = nk("build", "node-image", "--help", xdg=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # A word boundary, or --image would be found inside --base-image.
    absent = [f for f in FLAGS if not re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", proc.stdout)]
    assert not absent, proc.stdout
