"""Entry point of the ``nestkube`` command."""

from __future__ import annotations

import signal
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
    registry_cmds,
    runners_cmds,
    version_cmds,
)
from nestkube.errors import CommandError, Interrupted, NestkubeError


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nestkube {__version__}")
        raise typer.Exit()


@groups.app.callback()
def _root(
    verbosity: int = typer.Option(
        0,
        "--verbosity",
        "-v",
        help="Detail on stderr: 1 adds step details and a failed command's output, 2 each "
        "engine command with its exit code and duration, 3 everything nestkube logs.",
        min=0,
        max=3,
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    groups.GLOBAL.verbosity = verbosity
    groups.GLOBAL.quiet = quiet
    # Here, not at start-up: `nestkube --help` and `--version` never run this.
    from nestkube.cli.logs import configure

    configure(verbosity)


def main() -> None:
    """Run the CLI; a NestkubeError becomes a one-line message and exit code 1.

    Usage errors are the CLI framework's own: a message and exit code 2. Ctrl-C is one line
    and exit code 130, as a shell reports a command SIGINT stopped.
    """
    try:
        groups.app(prog_name="nestkube")
    except (Interrupted, KeyboardInterrupt) as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        print("ERROR: interrupted", file=sys.stderr)
        sys.exit(128 + signum)
    except NestkubeError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        detail = getattr(exc, "detail", "")
        if detail:
            print("\n".join("  " + line for line in detail.splitlines()), file=sys.stderr)
        if isinstance(exc, CommandError) and groups.GLOBAL.verbosity > 0:
            print(exc.output_tail(40), file=sys.stderr)
        # An interrupted create exits 128 + the signal's number, as a shell reports it.
        sys.exit(getattr(exc, "exit_code", 1))
