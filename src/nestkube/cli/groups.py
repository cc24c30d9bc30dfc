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


# The root's own options (main.py), which kind also takes after the subcommand
# (`kind get clusters -q`): flags, and options that take a value.
GLOBAL_FLAGS = frozenset({"-q", "--quiet"})
GLOBAL_VALUED = frozenset({"-v", "--verbosity"})


def hoist_global_options(args: list[str]) -> list[str]:
    """``args`` with the root's options that come after the subcommand moved in front of it,
    so ``nestkube get clusters -q`` means ``nestkube -q get clusters``.

    Only tokens that are exactly those options move (``-v 2``, ``-v2``, ``--verbosity=2``,
    ``-q``); nothing after ``--`` does, and nothing before the first subcommand word.
    """
    front: list[str] = []
    rest: list[str] = []
    i = 0
    seen_command = False
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        if not seen_command:
            if not arg.startswith("-"):
                seen_command = True
            elif arg in GLOBAL_VALUED and i + 1 < len(args):
                # A root option before the subcommand, with its value.
                rest += args[i : i + 2]
                i += 2
                continue
            rest.append(arg)
        elif arg in GLOBAL_FLAGS:
            front.append(arg)
        elif arg in GLOBAL_VALUED and i + 1 < len(args):
            front += args[i : i + 2]
            i += 2
            continue
        elif arg.startswith("--verbosity=") or (
            arg.startswith("-v") and len(arg) > 2 and arg[2:].isdigit()
        ):
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


class _RootGroup(TyperGroup):
    """The root command group: Ctrl-C in any command reaches :func:`main` as Interrupted.

    typer turns a KeyboardInterrupt into a silent exit; as Interrupted (which it does not
    catch) it becomes the same one line and exit code 130 under every command. A create
    catches its own signals first, to clean up and say what it removed.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(list(args)))

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
    "The offline kit: Kubernetes binaries built from Go modules (v1.20.2 from Debian's source "
    "package) and a local base image."
)
config_app = _group("Cluster configuration files.")
runners_app = _group("Self-hosted GitHub Actions runners: ARC runner scale sets on a cluster.")
registry_app = _group("Local image registries clusters pull from (published on the host).")
publish_app = _group("Publish a cluster's LoadBalancer Services on host ports.")

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
    (registry_app, "registry"),
    (publish_app, "publish"),
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
