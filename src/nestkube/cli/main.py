"""Entry point of the ``nestkube`` command."""

from __future__ import annotations

import sys

import typer

from nestkube._version import __version__

# Importing a command module attaches its commands to the groups.
from nestkube.cli import (  # noqa: F401
    build_cmds,
    cluster_cmds,
    config_cmds,
    conformance_cmds,
    doctor_cmds,
    groups,
    lifecycle_cmds,
    load_cmds,
    runners_cmds,
)
from nestkube.errors import CommandError, NestkubeError


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nestkube {__version__}")
        raise typer.Exit()


@groups.app.callback()
def _root(
    verbosity: int = typer.Option(
        0, "--verbosity", "-v", help="More detail on stderr (0 to 3).", min=0, max=3
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    groups.GLOBAL.verbosity = verbosity
    groups.GLOBAL.quiet = quiet
    import logging  # here, not at start-up: `nestkube --help` and `--version` never run this

    level = logging.DEBUG if verbosity >= 3 else logging.WARNING
    logging.basicConfig(level=level, stream=sys.stderr, format="%(name)s: %(message)s")


def main() -> None:
    """Run the CLI; a NestkubeError becomes a one-line message and exit code 1.

    Usage errors are the CLI framework's own: a message and exit code 2.
    """
    try:
        groups.app(prog_name="nestkube")
    except NestkubeError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        detail = getattr(exc, "detail", "")
        if detail:
            print("\n".join("  " + line for line in detail.splitlines()), file=sys.stderr)
        if isinstance(exc, CommandError) and groups.GLOBAL.verbosity > 0:
            print(exc.output_tail(40), file=sys.stderr)
        # An interrupted create exits 128 + the signal's number, as a shell reports it.
        sys.exit(getattr(exc, "exit_code", 1))
