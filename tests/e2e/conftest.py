"""End-to-end fixtures: the kit's Kubernetes (the default release, from Go modules), node images
on real engines, a workload image.

Everything expensive is cached by content under the XDG cache directory, so a warm run
reuses it and a cold run builds it inside the suite.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from engines import ensure_dockerd, ensure_podman, host_nerdctl
from support import SHARED_MARK, SharedClusters, workload_archive

from nestkube.doctor.checks.sysctl import INOTIFY_INSTANCES, INOTIFY_WATCHES
from nestkube.images.node_image import NodeImage, build_node_image
from nestkube.kit.kubernetes import KubernetesBinaries, build_from_modules
from nestkube.kit.releases import CRIO_KUBERNETES, DEFAULT_KUBERNETES_VERSION
from nestkube.providers.base import Provider
from nestkube.providers.docker import DockerProvider
from nestkube.providers.nerdctl import NerdctlProvider
from nestkube.providers.podman import PodmanProvider, probe_podman
from nestkube.status import Status

# Only a missing engine that Debian does not package may skip; anything else failing to run
# is a failure, never a silent pass.
ALLOWED_SKIP_PREFIX = "not installed on this machine:"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


# The shared clusters (support.SharedClusters): which test is the last to use each, so it is
# deleted right after; filled in once the tests to run are known.
_RELEASE_AFTER: dict[str, list[str]] = {}
_SHARED: list[SharedClusters] = []


def _shared_keys(item: pytest.Item) -> tuple[list[str], int]:
    mark = item.get_closest_marker(SHARED_MARK)
    if mark is None:
        return [], 0
    return list(mark.args), int(mark.kwargs.get("stage", 0))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{SHARED_MARK}(*keys, stage=0): shared clusters used")
    config.pluginmanager.register(_SharedOrder(), "nestkube-e2e-shared-order")


class _SharedOrder:
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        _order_shared(items)


def _order_shared(items: list[pytest.Item]) -> None:
    """The tests of one engine's shared clusters run together, where the first of them
    would run, in their stages (support.SHARED_MARK), so that one engine's clusters are up at
    a time; each cluster is deleted after the last test that uses it."""
    groups: dict[str, list[tuple[int, int, pytest.Item]]] = {}
    for index, item in enumerate(items):
        keys, stage = _shared_keys(item)
        if keys:
            groups.setdefault(keys[0].split("-")[0], []).append((stage, index, item))
    placed: set[str] = set()
    ordered: list[pytest.Item] = []
    for item in items:
        keys, _ = _shared_keys(item)
        if not keys:
            ordered.append(item)
            continue
        group = keys[0].split("-")[0]
        if group not in placed:
            placed.add(group)
            ordered.extend(i for _, _, i in sorted(groups[group], key=lambda t: t[:2]))
    items[:] = ordered
    _RELEASE_AFTER.clear()
    last: dict[str, str] = {}
    for item in ordered:
        for key in _shared_keys(item)[0]:
            last[key] = item.nodeid
    for key, nodeid in last.items():
        _RELEASE_AFTER.setdefault(nodeid, []).append(key)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    guest = getattr(item, "funcargs", {}).get("guest")
    if report.failed and guest is not None and hasattr(guest, "diagnostics"):
        # A failure inside the test VM is read from CI's log alone: the guest's own journal.
        report.sections.append(("guest journal", guest.diagnostics()))
    if report.skipped and "tests/e2e" in str(item.fspath):
        reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
        if ALLOWED_SKIP_PREFIX not in reason:
            report.outcome = "failed"
            report.longrepr = f"end-to-end test skipped, which counts as a failure: {reason}"


@pytest.fixture(scope="session", autouse=True)
def inotify_limits() -> None:
    """Raise the host's inotify limits to what `nestkube doctor` recommends (a test-host fix).

    Every node runs systemd, containerd and the kubelet, which each hold inotify instances;
    with the suite's clusters (and concurrent creates) a host at the kernel's default of 128
    instances runs out, and a node's systemd can stop.
    """
    wanted = {
        "fs.inotify.max_user_watches": INOTIFY_WATCHES,
        "fs.inotify.max_user_instances": INOTIFY_INSTANCES,
    }
    for key, value in wanted.items():
        path = Path("/proc/sys") / key.replace(".", "/")
        if int(path.read_text()) < value and os.geteuid() == 0:
            path.write_text(f"{value}\n")


@pytest.fixture(scope="session")
def progress() -> Status:
    return Status(verbosity=1)


@pytest.fixture(scope="session")
def kit(progress: Status) -> KubernetesBinaries:
    return build_from_modules(DEFAULT_KUBERNETES_VERSION, progress)


@pytest.fixture(scope="session")
def podman() -> Provider:
    return PodmanProvider(probe_podman())


@pytest.fixture(scope="session")
def podman_node_image(podman: Provider, kit: KubernetesBinaries, progress: Status) -> NodeImage:
    return build_node_image(podman, kit, pull_missing=False, status=progress)


# Docker, and Podman through the harness (which says what is missing), once per module.
@pytest.fixture(scope="module")
def docker() -> DockerProvider:
    return ensure_dockerd()


@pytest.fixture(scope="module")
def podman_engine() -> PodmanProvider:
    return ensure_podman()


@pytest.fixture(scope="module")
def docker_node_image(
    docker: DockerProvider, kit: KubernetesBinaries, progress: Status
) -> NodeImage:
    # A label check when another module built it already: the build is keyed by content.
    return build_node_image(docker, kit, pull_missing=False, status=progress)


# Rootful nerdctl on a containerd of its own, for the whole session (stopped at its end).
@pytest.fixture(scope="session")
def nerdctl(progress: Status) -> Iterator[NerdctlProvider]:
    with host_nerdctl(progress) as provider:
        yield provider


@pytest.fixture(scope="session")
def nerdctl_node_image(
    nerdctl: NerdctlProvider, kit: KubernetesBinaries, progress: Status
) -> NodeImage:
    return build_node_image(nerdctl, kit, pull_missing=False, status=progress)


@pytest.fixture(scope="session")
def crio_kit(progress: Status) -> KubernetesBinaries:
    return build_from_modules(CRIO_KUBERNETES, progress)


@pytest.fixture(scope="session")
def crio_image(crio_kit: KubernetesBinaries, progress: Status) -> NodeImage:
    """The CRI-O node image, built in Podman."""
    return build_node_image(
        ensure_podman(), crio_kit, pull_missing=False, runtime="cri-o", status=progress
    )


@pytest.fixture(scope="session")
def shared_clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedClusters]:
    """The clusters tests of several modules share (support.SharedClusters)."""
    shared = SharedClusters(tmp_path_factory.mktemp("shared-kube") / "config")
    _SHARED.append(shared)
    yield shared
    _SHARED.remove(shared)
    shared.release_all()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    # Before the test's fixtures are torn down: after the last test, the session's (the
    # nerdctl fixture's PATH, say) go too, and deleting a cluster needs its engine.
    for shared in _SHARED:
        for key in _RELEASE_AFTER.get(item.nodeid, []):
            shared.release(key)
    yield


@pytest.fixture(scope="session")
def workload(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return workload_archive(tmp_path_factory.mktemp("workload") / "busybox.tar")
