"""The small, flat set of exceptions nestkube raises.

Every failure a user can see is a :class:`NestkubeError`; the CLI prints its one-line
``str()`` and exits 1. :class:`CommandError` is the one error type for a failed external
command and carries the command, its exit code and its output.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence


class NestkubeError(Exception):
    """Base of every error nestkube reports to a user."""


class CommandError(NestkubeError):
    """An external command exited non-zero (or could not be started)."""

    def __init__(
        self,
        args: Sequence[str],
        returncode: int,
        stdout: str = "",
        stderr: str = "",
        what: str | None = None,
    ) -> None:
        self.args_list = list(args)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.what = what
        super().__init__(self._one_line())

    @property
    def command(self) -> str:
        return shlex.join(self.args_list)

    def output_tail(self, lines: int = 20) -> str:
        """The last lines of what the command printed, stderr preferred."""
        text = self.stderr.strip() or self.stdout.strip()
        return "\n".join(text.splitlines()[-lines:])

    def _one_line(self) -> str:
        last = self.output_tail(1)
        head = self.what or f"command failed: {self.command}"
        detail = f" (exit {self.returncode})"
        return f"{head}{detail}: {last}" if last else f"{head}{detail}"


class ConfigError(NestkubeError):
    """A configuration document is invalid."""


class ProviderError(NestkubeError):
    """No usable container engine, or the engine cannot do what was asked."""


class ClusterError(NestkubeError):
    """A cluster operation failed (exists already, not found, step failed).

    ``detail`` holds the tail of the failed step's log, shown below the one-line message.
    """

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class ImageBuildError(NestkubeError):
    """Building a node image, a component image or the offline kit failed."""


class HostError(NestkubeError):
    """The host cannot run what was asked; the message says why and what to change."""
