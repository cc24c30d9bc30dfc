"""``nestkube version``: what a bug report needs to say about this nestkube."""

from __future__ import annotations

import typer

from nestkube._version import __version__
from nestkube.cli import groups
from nestkube.cli.cluster_cmds import Output, _emit
from nestkube.defaults import DEFAULT_KUBERNETES_VERSION


def version_info() -> dict[str, str]:
    import platform

    return {
        "nestkube": __version__,
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "defaultKubernetes": DEFAULT_KUBERNETES_VERSION,
    }


@groups.app.command("version")
def version(
    output: Output = typer.Option(Output.text, "--output", "-o", help="text, json or yaml."),
) -> None:
    """Print nestkube's version, the Python running it and the default Kubernetes release."""
    info = version_info()
    text = (
        f"nestkube {info['nestkube']}\n"
        f"Python {info['python']}\n"
        f"Kubernetes {info['defaultKubernetes']} (default)"
    )
    _emit(info, output, text)
