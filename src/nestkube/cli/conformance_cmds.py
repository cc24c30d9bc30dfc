"""`nestkube conformance`: Kubernetes' own conformance suite against a nestkube cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nestkube.cli import groups, options
from nestkube.defaults import CONFORMANCE_FOCUS


@groups.app.command("conformance")
def conformance(
    name: Annotated[
        str, options.name_option("Cluster to test; created (and deleted) if absent.")
    ] = "conformance",
    workers: int = typer.Option(2, "--workers", min=0, max=20, help="Workers of a new cluster."),
    image: str | None = typer.Option(None, "--image", help="Node image of a new cluster."),
    focus: list[str] = typer.Option(
        [], "--focus", help=f"ginkgo --focus regex, repeatable. Default: {CONFORMANCE_FOCUS}"
    ),
    skip: list[str] = typer.Option([], "--skip", help="ginkgo --skip regex, repeatable."),
    procs: int = typer.Option(4, "--procs", min=1, max=64, help="Parallel ginkgo processes."),
    report_dir: str | None = typer.Option(
        None, "--report-dir", help="JUnit reports, logs and summary. Default: a new temp dir."
    ),
    timeout: str = typer.Option("6h", "--timeout", help="Limit for each pass, e.g. 90m."),
    keep: bool = typer.Option(False, "--keep", help="Keep a cluster this command created."),
    registry: str | None = typer.Option(
        None,
        "--registry",
        help="A registry (`nestkube registry create`) a new cluster pulls registry.k8s.io "
        "through; the test images are pushed to the registry of any cluster that has one, so "
        "specs that pull with imagePullPolicy Always run offline.",
    ),
    provider: options.Engine = None,
) -> None:
    """Run the [Conformance] specs: parallel ones first, then [Serial]; [Disruptive] never.

    Builds e2e.test, ginkgo and the test images for the cluster's own release (cached), loads
    the images, and prints `P passed, F failed, S skipped of N` with each failure's first line.
    Exits 1 if any spec failed.
    """
    import tempfile

    from nestkube.cluster import parse_duration
    from nestkube.conformance.session import Options, run_conformance
    from nestkube.names import cluster_name

    # Bad input fails before anything is made, the report directory included.
    limit = parse_duration(timeout)
    cluster_name(name)
    directory = Path(report_dir or tempfile.mkdtemp(prefix="nestkube-conformance-"))
    opts = Options(
        name=name,
        report_dir=directory,
        focus=focus or [CONFORMANCE_FOCUS],
        skip=skip,
        procs=procs,
        workers=workers,
        image=image,
        provider=provider,
        keep=keep,
        timeout=limit,
        registry=registry,
    )
    outcome = run_conformance(opts, groups.status())
    for line in outcome.summary.lines():
        typer.echo(line)
    typer.echo(f"reports: {directory / 'junit.xml'} ({outcome.version})")
    if outcome.summary.failed or not outcome.summary.total:
        raise typer.Exit(1)
