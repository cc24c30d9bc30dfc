"""A base for unit-test engines whose node commands are answered in Python, never run.

Shared by test_load.py and test_logs.py (imported as ``from fakes_engine import ...``:
tests/unit is not a package, so pytest and mypy both put this folder on the import path).
"""

from __future__ import annotations

from collections.abc import Sequence

from nestkube._exec import Result
from nestkube.providers.engine import CliProvider


class AnsweringProvider(CliProvider):
    """A CliProvider whose ``exec`` hands ``(node, argv)`` to ``answer``; the flags are ignored."""

    def exec(
        self,
        node: str,
        args: Sequence[str],
        *,
        input: str | bytes | None = None,
        check: bool = True,
        what: str | None = None,
        timeout: float | None = None,
    ) -> Result:
        return self.answer(node, list(args))

    def answer(self, node: str, argv: list[str]) -> Result:
        """What the command ``argv`` in ``node`` returns (or raises); subclasses say."""
        raise NotImplementedError
