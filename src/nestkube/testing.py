"""Clusters for tests: a context manager and a pytest fixture built on the public API.

    # conftest.py
    pytest_plugins = ["nestkube.testing"]

    def test_api(nestkube_cluster):
        assert nestkube_cluster.context == "nestkube-pytest"

The fixture is session-scoped; ``NESTKUBE_TEST_CLUSTER`` names the cluster,
``NESTKUBE_TEST_CONFIG`` points at a config file, ``NESTKUBE_TEST_KEEP=1`` keeps it afterwards,
and ``NESTKUBE_PROVIDER`` picks the engine as everywhere else.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from nestkube.cluster import Cluster, create_cluster, delete_cluster
from nestkube.config import ClusterConfig, default_config, load_config
from nestkube.status import Status


@contextmanager
def temporary_cluster(
    config: ClusterConfig,
    *,
    provider: str | None = None,
    kubeconfig_path: str | Path | None = None,
    keep: bool = False,
    status: Status | None = None,
) -> Iterator[Cluster]:
    """Create ``config``'s cluster for the ``with`` block and delete it afterwards.

    A leftover cluster of the same name (from an interrupted run) is deleted first.
    """
    path = str(kubeconfig_path) if kubeconfig_path is not None else None
    delete_cluster(config.name, provider=provider, kubeconfig_path=path)
    cluster = create_cluster(
        config, provider=provider, kubeconfig_path=path, status=status or Status()
    )
    try:
        yield cluster
    finally:
        if not keep:
            delete_cluster(config.name, provider=provider, kubeconfig_path=path)


@pytest.fixture(scope="session")
def nestkube_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A cluster for the whole test session, with its own kubeconfig file."""
    name = os.environ.get("NESTKUBE_TEST_CLUSTER", "pytest")
    config_file = os.environ.get("NESTKUBE_TEST_CONFIG")
    config = (
        load_config(config_file).with_overrides(name=name) if config_file else default_config(name)
    )
    kubeconfig = tmp_path_factory.mktemp("nestkube") / "kubeconfig"
    keep = os.environ.get("NESTKUBE_TEST_KEEP") == "1"
    with temporary_cluster(config, kubeconfig_path=kubeconfig, keep=keep) as cluster:
        yield cluster
