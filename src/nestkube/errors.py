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


class CommandTimeout(CommandError):
    """An external command ran past its time limit and was killed.

    The message names the command and, when the caller knows one, what to check (a hung
    engine, a stuck node).
    """

    def __init__(
        self, args: Sequence[str], timeout: float, *, what: str | None = None, hint: str = ""
    ) -> None:
        self.timeout = timeout
        self.hint = hint
        super().__init__(args, 124, "", f"timed out after {timeout:g}s", what=what)

    def _one_line(self) -> str:
        words = [self.args_list[0].rsplit("/", 1)[-1], *self.args_list[1:4]]
        short = " ".join(words)
        if len(self.args_list) > 4:
            short += " ..."
        head = f"{self.what} ({short})" if self.what else short
        tail = f"; {self.hint}" if self.hint else ""
        return f"{head} timed out after {self.timeout:g}s{tail}"


class Interrupted(BaseException):
    """A signal (SIGINT, SIGTERM, SIGHUP) stopped an operation; raised by its handler.

    A BaseException, like KeyboardInterrupt, so no ``except NestkubeError`` swallows it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class ConfigError(NestkubeError):
    """A configuration document is invalid."""


class ProviderError(NestkubeError):
    """No usable container engine, or the engine cannot do what was asked."""


class ClusterError(NestkubeError):
    """A cluster operation failed (exists already, not found, step failed).

    ``detail`` holds the tail of the failed step's log, shown below the one-line message.
    """

    def __init__(self, message: str, *, detail: str = "", exit_code: int = 1) -> None:
        super().__init__(message)
        self.detail = detail
        # 128 + N when a signal stopped the operation, as shells report it.
        self.exit_code = exit_code


class ImageBuildError(NestkubeError):
    """Building a node image, a component image or the offline kit failed."""


class HostError(NestkubeError):
    """The host cannot run what was asked; the message says why and what to change."""
