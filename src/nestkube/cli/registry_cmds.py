"""registry create / delete / list / logs: local registries clusters pull from."""

from __future__ import annotations

import typer

from nestkube.cli import groups, options
from nestkube.cli.cluster_cmds import Output, _emit

DEFAULT_REGISTRY = "nestkube-registry"


@groups.registry_app.command("create")
def create_registry(
    name: str = typer.Argument(DEFAULT_REGISTRY, help="Registry (and container) name."),
    port: int = typer.Option(5001, "--port", min=1, max=65535, help="Host port to publish on."),
    address: str = typer.Option("127.0.0.1", "--address", help="Host address to publish on."),
    proxy_remote_url: str | None = typer.Option(
        None,
        "--proxy-remote-url",
        help="Make it a pull-through cache of this upstream registry (https://registry-1.docker.io).",
    ),
    provider: options.Engine = None,
) -> None:
    """Run a registry; `--registry NAME` at create (or `registries:` in the config) makes a
    cluster pull from it. Push to localhost:PORT from the host."""
    from nestkube import cluster as api

    status = groups.status()
    made = api.create_registry(
        name,
        port=port,
        address=address,
        proxy_remote_url=proxy_remote_url,
        provider=provider,
        status=status,
    )
    status.info(f"Registry {made.name!r} is up. Push to it with:")
    status.info(f"  podman push --tls-verify=false {made.host}/IMAGE:TAG")
    status.info(f"  docker push {made.host}/IMAGE:TAG")
    status.info(f"  nestkube create cluster --registry {made.name}")


@groups.registry_app.command("delete")
def delete_registry(
    name: str = typer.Argument(DEFAULT_REGISTRY, help="Registry name."),
    provider: options.Engine = None,
) -> None:
    """Delete a registry and its storage (a registry that does not exist is not an error)."""
    from nestkube import cluster as api

    api.delete_registry(name, provider=provider, status=groups.status())


@groups.registry_app.command("list")
def list_registries(
    output: Output = typer.Option(Output.text, "--output", "-o", help="Output format."),
    provider: options.Engine = None,
) -> None:
    """List registries: name, where to push, state, the clusters using it."""
    from nestkube import cluster as api

    found = api.list_registries(provider=provider)
    data = [
        {"name": r.name, "host": r.host, "state": r.state, "clusters": list(r.clusters)}
        for r in found
    ]
    lines = [f"{r.name}\t{r.host}\t{r.state}\t{','.join(r.clusters) or '-'}" for r in found]
    _emit(data, output, "\n".join(lines))


@groups.registry_app.command("logs")
def registry_logs(
    name: str = typer.Argument(DEFAULT_REGISTRY, help="Registry name."),
    provider: options.Engine = None,
) -> None:
    """Print a registry's log (every request it served)."""
    from nestkube import cluster as api

    typer.echo(api.registry_logs(name, provider=provider), nl=False)
