"""The pytest plugin (entry point ``pytest11``: ``nestkube``): a session-scoped cluster.

    def test_api(nestkube_cluster):
        assert nestkube_cluster.context == "nestkube-pytest"

Options, each with an environment variable for CI files:

- ``--nestkube-cluster NAME`` (``NESTKUBE_TEST_CLUSTER``, default ``pytest``)
- ``--nestkube-config FILE`` (``NESTKUBE_TEST_CONFIG``): the cluster's config file
- ``--nestkube-keep`` (``NESTKUBE_TEST_KEEP=1``): keep the cluster the session created
- ``--nestkube-reuse`` (``NESTKUBE_TEST_REUSE=1``): use an existing cluster of that name
  instead of deleting it, and leave it in place; with ``--nestkube-keep`` too, the first run
  creates it and later runs reuse it, as pytest-kind's ``--keep-cluster`` does.

``NESTKUBE_PROVIDER`` picks the engine as everywhere else. nestkube itself is imported only
when the fixture is used, so installing the plugin costs other test sessions nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from nestkube.cluster import Cluster


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nestkube", "nestkube test clusters")
    group.addoption("--nestkube-cluster", default=None, help="Cluster name (default pytest).")
    group.addoption("--nestkube-config", default=None, help="The cluster's config file.")
    group.addoption(
        "--nestkube-keep", action="store_true", help="Keep the cluster after the session."
    )
    group.addoption(
        "--nestkube-reuse",
        action="store_true",
        help="Use an existing cluster of the same name (and leave it) instead of deleting it.",
    )


def _flag(config: pytest.Config, option: str, variable: str) -> bool:
    return bool(config.getoption(option)) or os.environ.get(variable) == "1"


@pytest.fixture(scope="session")
def nestkube_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """A cluster for the whole test session, with its own kubeconfig file."""
    from nestkube.config import default_config, load_config
    from nestkube.testing import temporary_cluster

    options = request.config
    name = (
        options.getoption("--nestkube-cluster")
        or os.environ.get("NESTKUBE_TEST_CLUSTER")
        or "pytest"
    )
    config_file = options.getoption("--nestkube-config") or os.environ.get("NESTKUBE_TEST_CONFIG")
    config = (
        load_config(config_file).with_overrides(name=name) if config_file else default_config(name)
    )
    kubeconfig = tmp_path_factory.mktemp("nestkube") / "kubeconfig"
    with temporary_cluster(
        config,
        kubeconfig_path=kubeconfig,
        keep=_flag(options, "--nestkube-keep", "NESTKUBE_TEST_KEEP"),
        reuse=_flag(options, "--nestkube-reuse", "NESTKUBE_TEST_REUSE"),
    ) as cluster:
        yield cluster
