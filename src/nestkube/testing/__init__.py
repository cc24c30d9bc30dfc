"""Clusters for tests: a context manager here, a pytest plugin in :mod:`nestkube.testing.plugin`.

    with temporary_cluster(default_config("itest"), reuse=True) as cluster:
        ...

Nothing here imports pytest: the plugin comes with ``pip install 'nestkube[testing]'`` and is
registered as a ``pytest11`` entry point, so its fixture ``nestkube_cluster`` needs no
``pytest_plugins`` line (see the plugin's docstring for its options).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nestkube.cluster import Cluster
    from nestkube.config import ClusterConfig
    from nestkube.status import Status

__all__ = ["temporary_cluster"]


@contextmanager
def temporary_cluster(
    config: ClusterConfig,
    *,
    provider: str | None = None,
    kubeconfig_path: str | Path | None = None,
    keep: bool = False,
    reuse: bool = False,
    status: Status | None = None,
) -> Iterator[Cluster]:
    """``config``'s cluster for the ``with`` block.

    Without ``reuse`` a leftover cluster of the same name (from an interrupted run) is deleted
    first, a new one is created, and it is deleted afterwards unless ``keep``. With ``reuse``
    an existing cluster of that name is used as it is (started if it was stopped) and left
    in place afterwards, since this block did not make it; its kubeconfig entries are written
    to ``kubeconfig_path``. Only when there is none is one created, as without ``reuse``.
    """
    from nestkube import cluster as api
    from nestkube.cluster_state import cluster_state, removed_if_missing
    from nestkube.providers import get_provider
    from nestkube.status import Status

    report = status or Status()
    path = str(kubeconfig_path) if kubeconfig_path is not None else None
    # Resolved once (as create resolves it: the argument, else the config's provider key) and
    # handed to every call below, which would each resolve the name again.
    engine = get_provider(provider or config.provider)
    if reuse:
        nodes = engine.list_nodes(config.name)
        if nodes:
            removed = removed_if_missing(engine, config.name, nodes)
            if cluster_state(nodes, removed=removed) != "running":
                api.start_cluster(config.name, provider=engine, status=report)
                nodes = engine.list_nodes(config.name)
            report.info(f"Reusing cluster {config.name!r}; it is left in place afterwards")
            written = api.export_kubeconfig(config.name, kubeconfig_path=path, provider=engine)
            yield api.Cluster(config.name, engine.info.name, tuple(nodes), written)
            return
    api.delete_cluster(config.name, provider=engine, kubeconfig_path=path)
    cluster = api.create_cluster(config, provider=engine, kubeconfig_path=path, status=report)
    try:
        yield cluster
    finally:
        if not keep:
            api.delete_cluster(config.name, provider=engine, kubeconfig_path=path)
