"""``nestkube config``: the cluster configuration file's schema, and checking a file."""

from __future__ import annotations

import typer

from nestkube.cli import groups

# The config models (pydantic) and yaml are imported inside the commands that use them.


@groups.config_app.command("schema")
def schema() -> None:
    """Print the JSON schema of nestkube.io/v1alpha1 Cluster documents."""
    import json

    from nestkube.config import config_json_schema

    typer.echo(json.dumps(config_json_schema(), indent=2))


@groups.config_app.command("validate")
def validate(
    path: str = typer.Argument(..., help="The config file, or - to read stdin."),
    resolved: bool = typer.Option(
        False, "--resolved", help="Print the config with every default filled in, as YAML."
    ),
) -> None:
    """Check a config file (kind v1alpha4 or nestkube v1alpha1) without creating anything."""
    import yaml

    from nestkube.config import load_config, to_document

    cfg = load_config(path)
    if resolved:
        typer.echo(yaml.safe_dump(to_document(cfg), sort_keys=False), nl=False)
        return
    roles = [node.role for node in cfg.nodes]
    typer.echo(
        f"{cfg.source}: valid; cluster {cfg.name}: {roles.count('control-plane')} control-plane "
        f"and {roles.count('worker')} worker node(s)"
    )
