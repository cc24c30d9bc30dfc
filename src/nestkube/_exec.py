"""The one way nestkube runs external commands.

Commands are argument lists, never shell strings, so the same code path serves every engine
and rootless mode. Failures raise :class:`~nestkube.errors.CommandError`.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from nestkube.errors import CommandError

log = logging.getLogger("nestkube.exec")


@dataclass(frozen=True)
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run(
    args: Sequence[str],
    *,
    input: str | bytes | None = None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float | None = None,
    what: str | None = None,
    stdout: IO[bytes] | None = None,
) -> Result:
    """Run ``args`` and capture its output as text.

    ``env`` is merged over the current environment. ``stdout`` may be a binary file to stream
    large output (an image archive, say) instead of capturing it. ``what`` names the step in
    the error message.
    """
    argv = [str(a) for a in args]
    log.debug("run: %s", shlex.join(argv))
    full_env = {**os.environ, **env} if env is not None else None
    data = input.encode() if isinstance(input, str) else input
    try:
        proc = subprocess.run(
            argv,
            input=data,
            stdout=stdout if stdout is not None else subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            cwd=cwd,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise CommandError(argv, 127, "", f"{argv[0]}: not found", what=what) from exc
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        raise CommandError(
            argv, 124, out, err + f"\ntimed out after {timeout:.0f}s", what=what
        ) from exc
    out_text = proc.stdout.decode(errors="replace") if isinstance(proc.stdout, bytes) else ""
    result = Result(argv, proc.returncode, out_text, proc.stderr.decode(errors="replace"))
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, result.stdout, result.stderr, what=what)
    return result


def which(name: str) -> str | None:
    """Path of ``name`` on PATH, or None."""
    from shutil import which as _which

    return _which(name)
