"""The one way nestkube runs external commands.

Commands are argument lists, never shell strings, so the same code path serves every engine
and rootless mode. Failures raise :class:`~nestkube.errors.CommandError`; a command that runs
past its timeout raises :class:`~nestkube.errors.CommandTimeout`.

Every child process is registered while it runs, so an interrupted create can stop the engine
clients its worker threads are waiting on (:func:`abort_others`) before it cleans up.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from nestkube.errors import CommandError, CommandTimeout

log = logging.getLogger("nestkube.exec")

_live: dict[subprocess.Popen[bytes], threading.Thread] = {}
# Re-entrant: a signal handler runs in the main thread, possibly while it holds the lock.
_live_lock = threading.RLock()
# Set by abort_others: runs from any thread but this one fail at once instead of starting.
_aborted_by: threading.Thread | None = None


# A call that names no limit of its own still ends: long enough for the longest build step
# (a cold Kubernetes compile on 2 busy cores), short enough that nothing waits forever.
LAST_RESORT_TIMEOUT = 3 * 60 * 60.0


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
    stdin: IO[bytes] | None = None,
    hint: str = "",
) -> Result:
    """Run ``args`` and capture its output as text.

    ``env`` is merged over the current environment. ``stdout`` may be a binary file to stream
    large output (an image archive, say) instead of capturing it; ``stdin`` a binary file to
    stream in. ``what`` names the step in the error message; ``hint`` says what to check
    when the command times out.
    """
    argv = [str(a) for a in args]
    log.debug("run: %s", shlex.join(argv))
    started = time.monotonic()
    if _aborted_by is not None and _aborted_by is not threading.current_thread():
        raise CommandError(argv, 130, "", "not started: the operation was interrupted", what=what)
    full_env = {**os.environ, **env} if env is not None else None
    data = input.encode() if isinstance(input, str) else input
    try:
        proc = subprocess.Popen(
            argv,
            stdin=stdin if stdin is not None else (subprocess.PIPE if data is not None else None),
            stdout=stdout if stdout is not None else subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            cwd=cwd,
        )
    except FileNotFoundError as exc:
        _log_end(argv, "not found (exit 127)", started)
        raise CommandError(argv, 127, "", f"{argv[0]}: not found", what=what) from exc
    with _live_lock:
        _live[proc] = threading.current_thread()
        # An abort between the check above and this registration would have missed it.
        late = _aborted_by is not None and _aborted_by is not threading.current_thread()
    if late:
        proc.kill()
    try:
        out, err = proc.communicate(data, timeout=timeout or LAST_RESORT_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.communicate()
        _log_end(argv, "timed out", started)
        raise CommandTimeout(argv, timeout or LAST_RESORT_TIMEOUT, what=what, hint=hint) from exc
    except BaseException:
        # An interrupt (a signal turned into an exception) must not leave the child running.
        proc.kill()
        proc.wait()
        raise
    finally:
        with _live_lock:
            _live.pop(proc, None)
    _log_end(argv, f"exit {proc.returncode}", started)
    out_text = out.decode(errors="replace") if isinstance(out, bytes) else ""
    result = Result(argv, proc.returncode, out_text, (err or b"").decode(errors="replace"))
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, result.stdout, result.stderr, what=what)
    return result


def _log_end(argv: list[str], outcome: str, started: float) -> None:
    # -v 2 shows these: every command with how it ended and how long it took.
    if log.isEnabledFor(logging.INFO):
        log.info("%s: %s in %.2fs", shlex.join(argv), outcome, time.monotonic() - started)


def abort_others() -> None:
    """Kill the commands other threads are running and refuse their next ones.

    Used when a create is interrupted: its worker threads must stop before cleanup removes
    what they were making. The calling thread keeps running commands (the cleanup).
    """
    global _aborted_by
    me = threading.current_thread()
    with _live_lock:
        _aborted_by = me
        victims = [p for p, owner in _live.items() if owner is not me]
    for proc in victims:
        with contextlib.suppress(OSError):
            proc.kill()


def resume() -> None:
    """Undo :func:`abort_others` once the interrupted operation has cleaned up."""
    global _aborted_by
    with _live_lock:
        _aborted_by = None


def which(name: str) -> str | None:
    """Path of ``name`` on PATH, or None."""
    from shutil import which as _which

    return _which(name)
