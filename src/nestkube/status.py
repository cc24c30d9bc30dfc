"""Progress for long steps: rich spinners on a TTY, plain lines otherwise.

Progress always goes to stderr so stdout stays for program output. Every step is timed and
the durations are kept, so benchmarks and the create summary can report them.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console


def colour_allowed(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return stream.isatty()


@dataclass
class Status:
    """Reports steps to stderr. ``quiet`` hides progress; ``verbosity`` > 0 shows details."""

    quiet: bool = False
    verbosity: int = 0
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._tty = colour_allowed(self.stream)

    @cached_property
    def _console(self) -> Console:
        # rich is imported on the first message, not with this module: commands that print
        # no progress (get, --help) start faster without it.
        from rich.console import Console

        return Console(file=self.stream, no_color=not self._tty, highlight=False, soft_wrap=True)

    def info(self, message: str) -> None:
        if not self.quiet:
            self._console.print(message, markup=False)

    def detail(self, message: str) -> None:
        if self.verbosity > 0 and not self.quiet:
            self._console.print(f"  {message}", markup=False, style="dim")

    def warn(self, message: str) -> None:
        # Warnings show even when quiet: they change what the user gets.
        self._console.print(f"WARNING: {message}", markup=False, style="yellow")

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time ``name``; show a spinner on a TTY, or a start and end line otherwise."""
        start = time.monotonic()
        ok = False
        try:
            if self.quiet:
                yield
            elif self._tty:
                with self._console.status(f"{name} ..."):
                    yield
            else:
                self._console.print(f" • {name} ...", markup=False)
                yield
            ok = True
        finally:
            elapsed = time.monotonic() - start
            self.timings[name] = elapsed
            if not self.quiet:
                mark = "✓" if ok else "✗"
                self._console.print(f" {mark} {name} ({elapsed:.1f}s)", markup=False)


SILENT = Status(quiet=True)
