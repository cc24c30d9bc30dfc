"""The command groups, shared so each command module can attach its commands."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from nestkube.cli import _coerce
from nestkube.errors import Interrupted

if TYPE_CHECKING:
    from nestkube.status import Status

# Plain values are converted without pydantic (see _coerce): commands start faster.
_coerce.install()

CONTEXT = {"help_option_names": ["-h", "--help"]}


class _RootGroup(TyperGroup):
    """The root command group: Ctrl-C in any command reaches :func:`main` as Interrupted.

    typer turns a KeyboardInterrupt into a silent exit; as Interrupted (which it does not
    catch) it becomes the same one line and exit code 130 under every command. A create
    catches its own signals first, to clean up and say what it removed.
    """

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted(signal.SIGINT) from None


# Plain help and usage errors (click's formatter, rich_markup_mode=None): importing rich for
# its panels takes longer than the whole of `nestkube --help` may.
# typer's completion: --install-completion, --show-completion, and the choices of a
# --provider or --output as completions.
app = typer.Typer(
    name="nestkube",
    help="Local Kubernetes clusters whose nodes are Podman, Docker or nerdctl containers.",
    cls=_RootGroup,
    no_args_is_help=True,
    context_settings=CONTEXT,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _group(help: str) -> typer.Typer:
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None)


create_app = _group("Create a cluster.")
delete_app = _group("Delete clusters.")
get_app = _group("Show clusters, nodes and kubeconfigs.")
export_app = _group("Export kubeconfig or logs.")
build_app = _group("Build node images.")
load_app = _group("Load images into cluster nodes.")
kit_app = _group(
    "The offline kit: Kubernetes binaries from Debian's source and a local base image."
)
config_app = _group("Cluster configuration files.")
runners_app = _group("Self-hosted GitHub Actions runners: ARC runner scale sets on a cluster.")

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
    from nestkube.status import Status

    return Status(quiet=GLOBAL.quiet, verbosity=GLOBAL.verbosity)
