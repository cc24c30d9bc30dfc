"""create / delete / get / export commands for clusters."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import TYPE_CHECKING

import typer

from nestkube.cli import groups, options
from nestkube.defaults import DEFAULT_KUBERNETES_VERSION
from nestkube.errors import ClusterError
from nestkube.names import cluster_name

# The facade (nestkube.cluster), the config models and yaml are imported inside the commands:
# each command pays only for what it uses, and `--help` for none of them.
if TYPE_CHECKING:
    from nestkube.config import ClusterConfig


class Output(StrEnum):
    text = "text"
    json = "json"
    yaml = "yaml"


def _emit(data: object, output: Output, text: str) -> None:
    if output is Output.json:
        import json

        typer.echo(json.dumps(data, indent=2))
    elif output is Output.yaml:
        import yaml

        typer.echo(yaml.safe_dump(data, sort_keys=False).rstrip())
    elif text:
        typer.echo(text)


def _config(
    config: str | None,
    name: str | None,
    workers: int | None,
    image: str | None,
    registries: list[str] | None = None,
    mirrors: list[str] | None = None,
    metrics_server: bool = False,
    load_balancer_services: bool = True,
) -> ClusterConfig:
    from dataclasses import replace

    from nestkube.config import default_config, load_config

    if name is not None:
        cluster_name(name)
    if config is not None:
        if workers is not None:
            raise ClusterError("--workers cannot be combined with --config: list nodes in the file")
        cfg = load_config(config)
        if name is not None or image:
            cfg = cfg.with_overrides(name=name, image=image)
    else:
        cfg = default_config(
            options.DEFAULT_NAME if name is None else cluster_name(name),
            workers=workers or 0,
            image=image,
        )
    if registries or mirrors:
        cfg = cfg.with_overrides(registries=registries, registry_mirrors=_mirrors(mirrors or []))
    if metrics_server:
        cfg = replace(cfg, metrics_server=True)
    if not load_balancer_services:
        cfg = replace(cfg, load_balancer_services=False)
    return cfg


def _mirrors(values: list[str]) -> dict[str, str]:
    """--registry-mirror NAME=URL values as a mapping."""
    out = {}
    for value in values:
        upstream, sep, url = value.partition("=")
        if not sep or not upstream or not url:
            raise ClusterError(
                f"--registry-mirror {value!r}: expected NAME=URL (docker.io=http://m:5000)"
            )
        out[upstream] = url
    return out


@groups.create_app.command("cluster")
def create_cluster(
    name: options.OptionalName = None,
    image: str | None = typer.Option(
        # The image name of the default release (a unit test holds it to cluster.DEFAULT_IMAGE).
        None,
        "--image",
        help=f"Node image. Default: localhost/nestkube/node:{DEFAULT_KUBERNETES_VERSION}.",
    ),
    config: str | None = typer.Option(
        None, "--config", help="Config file (kind v1alpha4 or nestkube v1alpha1); - for stdin."
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=0, max=20, help="Worker nodes, without a config file."
    ),
    wait: options.Wait = "5m",
    retain: bool = typer.Option(
        False, "--retain", help="Keep the nodes when create fails, for debugging."
    ),
    kubeconfig: options.Kubeconfig = None,
    provider: options.Engine = None,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the resolved plan (nodes, run flags, kubeadm config) only."
    ),
    registry: list[str] | None = typer.Option(
        None,
        "--registry",
        help="A registry (nestkube registry create NAME) the nodes pull from; repeatable.",
    ),
    registry_mirror: list[str] | None = typer.Option(
        None,
        "--registry-mirror",
        help="NAME=URL: pull registry NAME's images through URL first; repeatable.",
    ),
    metrics_server: bool = typer.Option(
        False,
        "--metrics-server",
        help="Install metrics-server (kubectl top); as metricsServer: true in the config.",
    ),
    load_balancer_services: bool = typer.Option(
        True,
        "--load-balancer-services/--no-load-balancer-services",
        help="Addresses for LoadBalancer Services (MetalLB), on by default; the --no form is "
        "loadBalancerServices: false in the config.",
    ),
) -> None:
    """Create a local Kubernetes cluster whose nodes are containers."""
    import yaml

    from nestkube import cluster as api

    cfg = _config(
        config,
        name,
        workers,
        image,
        registry,
        registry_mirror,
        metrics_server,
        load_balancer_services,
    )
    wait_seconds = options.duration(wait)
    if dry_run:
        plan = api.dry_run_plan(cfg, provider=provider, image=image)
        typer.echo(yaml.safe_dump(plan, sort_keys=False))
        if plan.get("refusal"):
            # What create would do, refusal included: its error and exit code.
            raise ClusterError(f"create would refuse this: {plan['refusal']}")
        return
    status = groups.status()
    result = api.create_cluster(
        cfg,
        provider=provider,
        image=image,
        kubeconfig_path=kubeconfig,
        wait=wait_seconds,
        retain=retain,
        status=status,
    )
    total = sum(result.timings.values())
    status.info(f"Cluster {result.name!r} is ready ({total:.0f}s). Use it with:")
    status.info(f"  kubectl cluster-info --context {result.context}")


@groups.delete_app.command("cluster")
def delete_cluster(
    name: options.Name = options.DEFAULT_NAME,
    all_clusters: options.AllClusters = False,
    kubeconfig: options.Kubeconfig = None,
    provider: options.Engine = None,
) -> None:
    """Delete a cluster: nodes, volumes, network and kubeconfig entries. A missing one is fine."""
    from nestkube import cluster as api

    status = groups.status()
    names = api.list_clusters(provider=provider) if all_clusters else [cluster_name(name)]
    for target in names:
        existed = api.delete_cluster(
            target, provider=provider, kubeconfig_path=kubeconfig, status=status
        )
        if not existed:
            status.info(f"No cluster named {target!r}; nothing to delete")


@groups.delete_app.command("clusters")
def delete_clusters(
    names: list[str] = typer.Argument(None, help="Clusters to delete."),
    all_clusters: options.AllClusters = False,
    kubeconfig: options.Kubeconfig = None,
    provider: options.Engine = None,
) -> None:
    """Delete several clusters by name, or all of them."""
    from nestkube import cluster as api

    status = groups.status()
    if all_clusters:
        targets = api.list_clusters(provider=provider)
    else:
        targets = [cluster_name(n) for n in names or []]
    for target in targets:
        api.delete_cluster(target, provider=provider, kubeconfig_path=kubeconfig, status=status)


@groups.get_app.command("clusters")
def get_clusters(
    output: Output = typer.Option(Output.text, "--output", "-o", help="text, json or yaml."),
    provider: options.Engine = None,
) -> None:
    """List clusters."""
    from nestkube import cluster as api

    if output is Output.text:
        # One engine call, and no probing of the engine: names and states are all it shows.
        states = api.cluster_states(provider=provider)
        if not states:
            print("No nestkube clusters found.", file=sys.stderr)
        _emit(None, output, _table(states))
        return
    _emit(api.clusters_info(provider=provider), output, "")


def _table(states: dict[str, str]) -> str:
    """NAME and STATE columns (running, stopped, partial or degraded), kubectl-style."""
    if not states:
        return ""
    width = max(len("NAME"), *(len(n) for n in states))
    rows = [("NAME", "STATE"), *states.items()]
    return "\n".join(f"{name:<{width}}   {state}" for name, state in rows)


@groups.create_app.command("node")
def create_node(
    name: options.Name = options.DEFAULT_NAME,
    role: str = typer.Option("worker", "--role", help="worker (only workers can be added)."),
    wait: options.Wait = "5m",
    provider: options.Engine = None,
) -> None:
    """Add a worker to a running cluster; prints the new node's name."""
    from nestkube import cluster as api

    added = api.add_node(
        cluster_name(name),
        role=role,
        provider=provider,
        wait=options.duration(wait),
        status=groups.status(),
    )
    print(added)


@groups.delete_app.command("node")
def delete_node(
    node: str = typer.Argument(..., help="The node to remove (nestkube get nodes)."),
    name: options.Name = options.DEFAULT_NAME,
    provider: options.Engine = None,
) -> None:
    """Remove a worker from a running cluster: drain, delete from Kubernetes, remove it."""
    from nestkube import cluster as api

    api.delete_node(cluster_name(name), node, provider=provider, status=groups.status())


@groups.publish_app.command("services")
def publish_services(
    name: options.Name = options.DEFAULT_NAME,
    address: str = typer.Option(
        "127.0.0.1", "--address", help="Host address the ports are published on."
    ),
    output: Output = typer.Option(Output.text, "--output", "-o", help="text, json or yaml."),
    provider: options.Engine = None,
) -> None:
    """Publish each LoadBalancer Service's TCP ports on host ports (a forwarder container per
    Service), for engines whose network the host cannot reach (rootless); run it again after
    Services change."""
    from nestkube import cluster as api

    published = api.publish_services(
        cluster_name(name), address=address, provider=provider, status=groups.status()
    )
    rows = [
        f"{p['namespace']}/{p['service']}\t{p['address']}:{p['port']}\t{p['host']}:{p['hostPort']}"
        for p in published
    ]
    text = "\n".join(["SERVICE\tADDRESS\tHOST", *rows]) if rows else ""
    if not rows and output is Output.text:
        print("No LoadBalancer Service has an address.", file=sys.stderr)
    _emit(published, output, text)


@groups.get_app.command("nodes")
def get_nodes(
    name: options.Name = options.DEFAULT_NAME,
    all_clusters: bool = typer.Option(
        False, "--all-clusters", "-A", help="Every nestkube cluster's nodes (one engine call)."
    ),
    output: Output = typer.Option(Output.text, "--output", "-o", help="text, json or yaml."),
    provider: options.Engine = None,
) -> None:
    """List a cluster's node containers."""
    from nestkube import cluster as api

    if all_clusters:
        listed = api.cluster_nodes(provider=provider)
    else:
        listed = {name: api.list_nodes(name, provider=provider)}
    data = [
        {"name": n.name, "cluster": cluster, "role": n.role, "state": n.state}
        for cluster, nodes in listed.items()
        for n in nodes
    ]
    if all_clusters and not data:
        print("No nestkube clusters found.", file=sys.stderr)
    _emit(data, output, "\n".join(str(row["name"]) for row in data))


_INTERNAL = typer.Option(
    False,
    "--internal",
    help="Address the API server by its node's address on the cluster's engine network (the "
    "load balancer's with several control planes), as containers on that network reach it.",
)


@groups.get_app.command("kubeconfig")
def get_kubeconfig(
    name: options.Name = options.DEFAULT_NAME,
    internal: bool = _INTERNAL,
    provider: options.Engine = None,
) -> None:
    """Print a cluster's kubeconfig."""
    from nestkube import cluster as api

    typer.echo(api.get_kubeconfig(name, internal=internal, provider=provider), nl=False)


@groups.export_app.command("kubeconfig")
def export_kubeconfig(
    name: options.Name = options.DEFAULT_NAME,
    kubeconfig: options.Kubeconfig = None,
    internal: bool = _INTERNAL,
    provider: options.Engine = None,
) -> None:
    """Merge a cluster's kubeconfig entries (nestkube-<name>) into the kubeconfig."""
    from nestkube import cluster as api

    path = api.export_kubeconfig(
        name, kubeconfig_path=kubeconfig, internal=internal, provider=provider
    )
    groups.status().info(f"Set kubectl context to nestkube-{name} in {path}")
