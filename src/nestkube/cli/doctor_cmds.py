"""`nestkube doctor`: check the host, print each verdict and its fix, apply the safe ones."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from nestkube.cli import groups, options

# The doctor is imported when it runs, not with the CLI.


@groups.app.command("doctor")
def doctor(
    provider: Annotated[
        str | None,
        options.provider_option(
            "-p",
            help="Engine to check (default: $NESTKUBE_PROVIDER, else the first installed one "
            "that answers).",
        ),
    ] = None,
    rootless: bool | None = typer.Option(
        None,
        "--rootless/--rootful",
        help="Mode to check for (default: the mode the engine reports).",
        show_default=False,
    ),
    fix: bool = typer.Option(
        False,
        "--fix",
        help="Apply the safe fixes (your own files only, with a backup); root-only fixes are "
        "printed, and run only with --sudo.",
    ),
    sudo: bool = typer.Option(
        False,
        "--sudo",
        help="With --fix, also apply the root fixes that are drop-in files or plain commands "
        "(modules-load.d, sysctl.d, user@.service drop-ins, loginctl enable-linger, modprobe) "
        "through sudo; boot loader, kernel and package changes are only printed.",
    ),
    output: str = typer.Option("text", "--output", "-o", help="text or json."),
    nodes: int = typer.Option(
        1, "--nodes", min=1, help="Cluster size to check memory and disk for."
    ),
    host_port: list[int] = typer.Option(
        [],
        "--host-port",
        help="A host port the cluster will publish (repeatable); ports below 1024 are checked "
        "against net.ipv4.ip_unprivileged_port_start.",
        min=1,
        max=65535,
    ),
) -> None:
    """Check this host for what clusters need and say exactly how to fix what is missing.

    Exit code 0 when no check failed, 1 when any did.
    """
    from nestkube.doctor import diagnose, json_report, text_report
    from nestkube.providers import requested_engine
    from nestkube.status import colour_allowed

    if output not in ("text", "json"):
        raise typer.BadParameter("must be text or json", param_hint="--output")
    if sudo and not fix:
        raise typer.BadParameter("--sudo applies fixes: use it with --fix", param_hint="--sudo")
    status = groups.status()
    with status.step("checking the host"):
        report = diagnose(
            provider=requested_engine(provider) if provider else None,
            rootless=rootless,
            nodes=nodes,
            host_ports=host_port,
            fix=fix,
            sudo=sudo,
            interactive=sys.stdin.isatty(),
        )
    if output == "json":
        doc = json_report(report.context, report.findings, report.applied)
        typer.echo(json.dumps(doc, indent=2))
    else:
        typer.echo(
            text_report(
                report.context,
                report.findings,
                report.applied,
                colour=colour_allowed(sys.stdout),
                fix_requested=fix,
            ),
            nl=False,
        )
    if report.failed:
        raise typer.Exit(1)
