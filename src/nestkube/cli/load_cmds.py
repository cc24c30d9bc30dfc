"""`load image`, `load archive` and `export logs`."""

from __future__ import annotations

from typing import Annotated

import typer

from nestkube.cli import groups, options

# nestkube.load and nestkube.logs are imported inside the commands that use them.

_NODES = typer.Option(
    None, "--nodes", help="Comma-separated node names to load into. Default: every node."
)
_Engine = Annotated[
    str | None,
    options.provider_option(help="Engine running the cluster. Default: the one that has it."),
]

_IMAGES = typer.Argument(..., help="Images to load (from any engine that has them).")
_ARCHIVE = typer.Argument(..., help="Image archive (docker-archive or OCI tar); - reads stdin.")


def _node_list(nodes: str | None) -> list[str] | None:
    return [n for n in nodes.split(",") if n.strip()] if nodes else None


def load_image(
    images: list[str] = _IMAGES,
    name: options.Name = options.DEFAULT_NAME,
    nodes: str | None = _NODES,
    provider: _Engine = None,
) -> None:
    """Load images from Podman, Docker or nerdctl into the cluster's nodes.

    Each image comes from the cluster's engine if it has it, else from any other engine.

    Nodes that already hold the same image ID are skipped.
    """
    from nestkube import load

    load.load_images(
        images,
        cluster=name,
        nodes=_node_list(nodes),
        provider=provider,
        status=groups.status(),
    )


def load_archive(
    archive: str = _ARCHIVE,
    name: options.Name = options.DEFAULT_NAME,
    nodes: str | None = _NODES,
    provider: _Engine = None,
) -> None:
    """Load an image archive into the cluster's nodes."""
    from nestkube import load

    load.load_archive(
        archive,
        cluster=name,
        nodes=_node_list(nodes),
        provider=provider,
        status=groups.status(),
    )


groups.load_app.command("image")(load_image)
groups.load_app.command("archive")(load_archive)
# kind's names, so muscle memory and scripts written for kind keep working.
groups.load_app.command("docker-image", hidden=True)(load_image)
groups.load_app.command("image-archive", hidden=True)(load_archive)


@groups.export_app.command("logs")
def export_logs(
    directory: str | None = typer.Argument(
        None, help="Where to write. Default: a new temporary directory."
    ),
    name: options.Name = options.DEFAULT_NAME,
    tar: bool = typer.Option(False, "--tar", help="Write DIRECTORY.tar.gz instead of a directory."),
    force: bool = typer.Option(
        False, "--force", help="Write into a non-empty DIRECTORY or over DIRECTORY.tar.gz."
    ),
    provider: _Engine = None,
) -> None:
    """Export node journals, container lists and engine info for debugging; prints the path."""
    from nestkube import logs

    status = groups.status()
    result = logs.export_logs(
        name, directory, tar=tar, force=force, provider=provider, status=status
    )
    if result.failures:
        hint = "" if groups.GLOBAL.verbosity else " (-v lists them)"
        count = len(result.failures)
        status.info(f"{count} command(s) failed; their errors are in the files{hint}")
    typer.echo(str(result.path))
