"""Options the commands share, declared once and typed.

A command takes them as annotations with its own default::

    def get_nodes(name: options.Name = options.DEFAULT_NAME, provider: options.Engine = None)

and a command that words one differently builds it with :func:`name_option` or
:func:`provider_option`. ``--name`` reads ``$NESTKUBE_CLUSTER_NAME``, then kind's
``$KIND_CLUSTER_NAME``, when it is not given; an empty variable counts as unset and, as in
kind, the variable also overrides the name a config file sets. ``--provider`` accepts only
the engines nestkube knows, so a bad one is a usage error (exit 2) under every command.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from nestkube.names import DEFAULT_NAME as DEFAULT_NAME

NAME_ENVVARS = ["NESTKUBE_CLUSTER_NAME", "KIND_CLUSTER_NAME"]


def engine_names() -> tuple[str, ...]:
    """The engines ``--provider`` accepts: the one engine registry's list.

    Looked up when a value is checked or completed, never at start-up: `nestkube --help`
    does not import the providers.
    """
    from nestkube.providers.facts import ENGINES

    return tuple(ENGINES)


def engine(value: str) -> str:
    """``--provider``'s value, checked against :func:`engine_names` (typer's ``parser``)."""
    names = engine_names()
    if value not in names:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(names)}.")
    return value


def _complete_engine(incomplete: str) -> list[str]:
    return [n for n in engine_names() if n.startswith(incomplete)]


def name_option(help: str = "Cluster name.") -> Any:
    """``--name``/``-n``, read from the environment variables above when not given."""
    return typer.Option("--name", "-n", envvar=NAME_ENVVARS, show_envvar=True, help=help)


def provider_option(
    *decls: str, help: str = "Container engine. Default: $NESTKUBE_PROVIDER, else found."
) -> Any:
    """``--provider`` (and ``decls``, a short flag say) limited to the known engines."""
    return typer.Option(
        "--provider",
        *decls,
        parser=engine,
        autocompletion=_complete_engine,
        metavar="ENGINE",
        help=help,
        show_default=False,
    )


Name = Annotated[str, name_option()]
# create cluster: None means "the config file's name, else nestkube".
OptionalName = Annotated[
    str | None, name_option(f"Cluster name (overrides the config). Default: {DEFAULT_NAME}.")
]
Engine = Annotated[str | None, provider_option()]
Kubeconfig = Annotated[
    str | None,
    typer.Option("--kubeconfig", help="Kubeconfig file. Default: $KUBECONFIG or ~/.kube/config."),
]
AllClusters = Annotated[bool, typer.Option("--all", "-A", help="Every nestkube cluster.")]


def duration(text: str) -> float:
    """``--wait``'s value in seconds; a value that is no duration is a usage error (exit 2)."""
    from nestkube.cluster import parse_duration
    from nestkube.errors import ClusterError

    try:
        return parse_duration(text)
    except ClusterError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--wait'") from None


def _check_duration(value: str) -> str:
    duration(value)
    return value


Wait = Annotated[
    str,
    typer.Option(
        "--wait",
        callback=_check_duration,
        help="How long to wait for nodes to be Ready (e.g. 90s, 5m; 0 skips).",
    ),
]
