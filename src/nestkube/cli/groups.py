"""The command groups, shared so each command module can attach its commands."""

from __future__ import annotations

import typer

from nestkube.status import Status

CONTEXT = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="nestkube",
    help="Local Kubernetes clusters whose nodes are Podman, Docker or nerdctl containers.",
    no_args_is_help=True,
    context_settings=CONTEXT,
    add_completion=False,
    pretty_exceptions_enable=False,
)
create_app = typer.Typer(help="Create a cluster.", no_args_is_help=True)
delete_app = typer.Typer(help="Delete clusters.", no_args_is_help=True)
get_app = typer.Typer(help="Show clusters, nodes and kubeconfigs.", no_args_is_help=True)
export_app = typer.Typer(help="Export kubeconfig or logs.", no_args_is_help=True)
build_app = typer.Typer(help="Build node images.", no_args_is_help=True)
load_app = typer.Typer(help="Load images into cluster nodes.", no_args_is_help=True)
kit_app = typer.Typer(
    help="The offline kit: Kubernetes binaries from Debian's source and a local base image.",
    no_args_is_help=True,
)
config_app = typer.Typer(help="Cluster configuration files.", no_args_is_help=True)
runners_app = typer.Typer(
    help="Self-hosted GitHub Actions runners: ARC runner scale sets on a cluster.",
    no_args_is_help=True,
)

for sub, name in [
    (create_app, "create"),
    (delete_app, "delete"),
    (get_app, "get"),
    (export_app, "export"),
    (build_app, "build"),
    (load_app, "load"),
    (kit_app, "kit"),
    (config_app, "config"),
    (runners_app, "runners"),
]:
    app.add_typer(sub, name=name)


class _Global:
    verbosity: int = 0
    quiet: bool = False


GLOBAL = _Global()


def status() -> Status:
    """A progress reporter honouring the global -v/-q flags."""
    return Status(quiet=GLOBAL.quiet, verbosity=GLOBAL.verbosity)
