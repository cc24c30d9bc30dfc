"""stop / start commands: a cluster's containers stopped and started, nothing removed."""

from __future__ import annotations

import typer

from nestkube.cli import groups, options
from nestkube.errors import ClusterError
from nestkube.names import cluster_name

stop_app = typer.Typer(help="Stop clusters (keeping everything).", no_args_is_help=True)
start_app = typer.Typer(help="Start stopped clusters.", no_args_is_help=True)
groups.app.add_typer(stop_app, name="stop")
groups.app.add_typer(start_app, name="start")


def _targets(names: list[str], all_clusters: bool, provider: str | None) -> list[str]:
    from nestkube import cluster as api

    if all_clusters:
        return api.list_clusters(provider=provider)
    if not names:
        raise ClusterError("name a cluster, or pass --all")
    # Every name is checked before any cluster is touched.
    return [cluster_name(n) for n in names]


def _stop(names: list[str], all_clusters: bool, provider: str | None) -> None:
    from nestkube import cluster as api

    status = groups.status()
    targets = _targets(names, all_clusters, provider)
    engine = api.resolve_engine(provider)  # probed once for every target
    for target in targets:
        api.stop_cluster(target, provider=engine, status=status)
        status.info(f"Cluster {target!r} stopped; `nestkube start cluster -n {target}` resumes it")


def _start(names: list[str], all_clusters: bool, provider: str | None, wait: str) -> None:
    from nestkube import cluster as api

    wait_seconds = options.duration(wait)
    status = groups.status()
    targets = _targets(names, all_clusters, provider)
    engine = api.resolve_engine(provider)  # probed once for every target
    for target in targets:
        api.start_cluster(target, provider=engine, wait=wait_seconds, status=status)
        status.info(f"Cluster {target!r} is running again")


@stop_app.command("cluster")
def stop_cluster(
    name: options.Name = options.DEFAULT_NAME,
    all_clusters: options.AllClusters = False,
    provider: options.Engine = None,
) -> None:
    """Stop a cluster's nodes. Containers, volumes and kubeconfig entries stay."""
    _stop([name], all_clusters, provider)


@stop_app.command("clusters")
def stop_clusters(
    names: list[str] = typer.Argument(None, help="Clusters to stop."),
    all_clusters: options.AllClusters = False,
    provider: options.Engine = None,
) -> None:
    """Stop several clusters by name, or all of them."""
    _stop(names or [], all_clusters, provider)


@start_app.command("cluster")
def start_cluster(
    name: options.Name = options.DEFAULT_NAME,
    all_clusters: options.AllClusters = False,
    provider: options.Engine = None,
    wait: options.Wait = "5m",
) -> None:
    """Start a stopped cluster: control planes first, then the API, routes and Ready nodes."""
    _start([name], all_clusters, provider, wait)


@start_app.command("clusters")
def start_clusters(
    names: list[str] = typer.Argument(None, help="Clusters to start."),
    all_clusters: options.AllClusters = False,
    provider: options.Engine = None,
    wait: options.Wait = "5m",
) -> None:
    """Start several clusters by name, or all of them."""
    _start(names or [], all_clusters, provider, wait)
