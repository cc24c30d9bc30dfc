"""Docker on the real daemon: the harness, privileged containers, the caps error, and images
found across engines (an image only Podman has, loaded into a node run by Docker).

These need no kubeadm: a node container from the Docker node image boots systemd and
containerd in a few seconds, which is all `load` talks to.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from engines import (
    busybox_loaded_into,
    busybox_rootfs,
    ensure_dockerd,
)

from nestkube.errors import HostError
from nestkube.host import read_missing_capabilities
from nestkube.images.node_image import NodeImage
from nestkube.load import answering_engines, find_image_source, load_images
from nestkube.providers.base import NodeSpec
from nestkube.providers.docker import DockerProvider
from nestkube.providers.nerdctl import NerdctlProvider
from nestkube.providers.podman import PodmanProvider

pytestmark = pytest.mark.e2e

BARE = "e2e-dk-bare"
# docker, podman_engine and docker_node_image are module-scoped fixtures of conftest.py.


@pytest.fixture(scope="module")
def busybox_image(docker: DockerProvider, tmp_path_factory: pytest.TempPathFactory) -> str:
    tag = "localhost/nestkube-e2e/busybox-rootfs:1"
    rootfs = busybox_rootfs(tmp_path_factory.mktemp("rootfs") / "rootfs.tar")
    proc = docker_run("import", "--change", 'CMD ["/bin/sh"]', str(rootfs), tag)
    assert proc.returncode == 0, proc.stderr
    return tag


def docker_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=False, timeout=120
    )


def test_harness_is_idempotent(docker: DockerProvider) -> None:
    start = time.monotonic()
    again = ensure_dockerd()
    assert time.monotonic() - start < 10
    assert again.info.version == docker.info.version
    assert not docker.info.rootless


def test_privileged_container_starts(docker: DockerProvider, busybox_image: str) -> None:
    proc = docker_run("run", "--rm", "--privileged", busybox_image, "sh", "-c", "echo up")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "up"
    # exec into a privileged container asks runc for the same capabilities.
    name = f"e2e-dk-priv-{uuid.uuid4().hex[:6]}"
    started = docker_run("run", "-d", "--name", name, "--privileged", busybox_image, "sleep", "60")
    assert started.returncode == 0, started.stderr
    try:
        proc = docker_run("exec", name, "echo", "exec-ok")
        assert proc.stdout.strip() == "exec-ok", proc.stderr
    finally:
        docker_run("rm", "-f", name)


def test_caps_error_is_explained_without_the_filter(
    docker: DockerProvider, busybox_image: str
) -> None:
    """Bypassing dockerd's default runtime (--runtime runc) shows what users of a stock dockerd
    get on this host: nestkube's explanation, not runc's raw error."""
    missing = read_missing_capabilities(Path("/"))
    provider = DockerProvider(replace(docker.info, runtime="runc"))
    spec = NodeSpec(
        name=f"e2e-dk-caps-{uuid.uuid4().hex[:6]}",
        role="worker",
        image=busybox_image,
        cluster="e2e-dk-caps",
        network="bridge",
    )
    try:
        if missing:
            with pytest.raises(HostError) as caught:
                provider.create_node(spec)
            msg = str(caught.value)
            assert all(cap in msg for cap in missing), msg
            assert "--add-runtime" in msg and "nestkube doctor" in msg
        else:
            provider.create_node(spec)  # an unrestricted host: it simply starts
    finally:
        docker_run("rm", "-f", spec.name)
        docker_run("volume", "rm", "-f", provider.volume_name(spec.name))


def test_image_only_podman_has_is_found_there(
    docker: DockerProvider, podman_engine: PodmanProvider, tmp_path: Path
) -> None:
    with busybox_loaded_into(podman_engine, tmp_path, "podman-only", "podman") as (tag, image_id):
        assert not docker.image_exists(tag)
        engines = answering_engines()
        assert {e.info.name for e in engines} >= {"podman", "docker"}
        docker_first = sorted(engines, key=lambda e: e.info.name != "docker")
        found = find_image_source(tag, docker_first)
        assert found is not None
        source, got_id = found
        assert source.info.name == "podman"
        assert got_id == image_id


# --- a bare node (no Kubernetes started) run by Docker --------------------------------------
@pytest.fixture(scope="module")
def bare_node(docker: DockerProvider, docker_node_image: NodeImage) -> Iterator[str]:
    docker.delete_nodes(docker.list_nodes(BARE))
    spec = NodeSpec(
        name=f"{BARE}-worker",
        role="worker",
        image=docker_node_image.image,
        cluster=BARE,
        network="bridge",
    )
    docker.create_node(spec)
    try:
        deadline = time.monotonic() + 60
        while docker.exec(spec.name, ["ctr", "version"], check=False).returncode != 0:
            assert time.monotonic() < deadline, "containerd in the node did not answer"
            time.sleep(0.5)
        yield spec.name
    finally:
        docker.delete_nodes(docker.list_nodes(BARE))


def test_load_from_podman_into_docker_node_then_skip(
    docker: DockerProvider, podman_engine: PodmanProvider, bare_node: str, tmp_path: Path
) -> None:
    image = busybox_loaded_into(podman_engine, tmp_path, "into-docker", marker="into-docker")
    with image as (tag, image_id):
        first = load_images([tag], cluster=BARE)
        assert [(o.node, o.loaded, o.source) for o in first] == [(bare_node, True, "podman")]
        refs = docker.exec(bare_node, ["ctr", "-n", "k8s.io", "images", "ls", "-q"]).stdout
        assert tag in refs.split()

        second = load_images([tag], cluster=BARE)
        assert [(o.node, o.loaded) for o in second] == [(bare_node, False)]
        # The node's copy carries the very ID Podman reported.
        assert (
            image_id in refs.split()
            or image_id in docker.exec(bare_node, ["ctr", "-n", "k8s.io", "images", "ls"]).stdout
        )


# --- nerdctl: rootful, on the session's containerd (the nerdctl fixture of conftest.py) ------
def test_nerdctl_privileged_node_starts_or_is_explained(
    nerdctl: NerdctlProvider, tmp_path: Path
) -> None:
    with busybox_loaded_into(nerdctl, tmp_path, "nerdctl-busybox") as (tag, _):
        spec = NodeSpec(
            name=f"e2e-nc-{uuid.uuid4().hex[:6]}",
            role="worker",
            image=tag,
            cluster="e2e-nc",
            network="bridge",
        )
        try:
            if read_missing_capabilities(Path("/")):
                # A restricted host without a filtering runtime: nestkube explains, not runc.
                try:
                    nerdctl.create_node(spec)
                except HostError as exc:
                    assert "BinaryName" in str(exc)
                    return
            else:
                nerdctl.create_node(spec)
            res = nerdctl.exec(spec.name, ["echo", "up"])
            assert res.stdout.strip() == "up"
        finally:
            subprocess.run([nerdctl.info.binary, "rm", "-f", spec.name], check=False)
            nerdctl.remove_volume(nerdctl.volume_name(spec.name))


def test_image_only_nerdctl_has_is_found_there(nerdctl: NerdctlProvider, tmp_path: Path) -> None:
    with busybox_loaded_into(nerdctl, tmp_path, "nerdctl-only", "nerdctl") as (tag, image_id):
        engines = answering_engines()
        others = [e for e in engines if e.info.name != "nerdctl"]
        assert all(not e.image_exists(tag) for e in others)
        found = find_image_source(tag, [*others, nerdctl])
        assert found is not None
        assert found[0].info.name == "nerdctl"
        assert found[1] == image_id
