"""What ``-v`` shows on stderr beyond progress: nestkube's log records, by level.

0 and 1 show warnings only (1 also widens progress and error output, see Status and main);
2 shows each external command as it ends, with its exit code and duration (``_exec.run``
logs that at INFO); 3 shows everything nestkube logs, each command as it starts included.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

LEVELS = {0: logging.WARNING, 1: logging.WARNING, 2: logging.INFO, 3: logging.DEBUG}


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is when a record comes (a test runner swaps it)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure(verbosity: int) -> None:
    """Send the ``nestkube`` loggers' records at ``verbosity``'s level to stderr."""
    logger = logging.getLogger("nestkube")
    for old in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(old)
    logger.addHandler(_StderrHandler())
    logger.setLevel(LEVELS[min(max(verbosity, 0), 3)])
