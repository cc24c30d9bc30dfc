"""A fake engine CLI: `_exec.run` replaced by a table of canned answers, every call recorded."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nestkube._exec import Result
from nestkube.errors import CommandError
from nestkube.host import HostFacts

# argv -> (exit code, stdout, stderr), or None to fall through to the next handler.
Handler = Callable[[list[str]], tuple[int, str, str] | None]

RESTRICTED_HOST = HostFacts(
    cgroup_mode="hybrid",
    nofile_hard=20000,
    nproc_hard=96365,
    can_lower_oom_score_adj=False,
    missing_capabilities=frozenset({"CAP_SYS_RESOURCE"}),
)


@dataclass
class FakeEngine:
    calls: list[list[str]] = field(default_factory=list)
    handlers: list[Handler] = field(default_factory=list)

    def on(self, prefix: Sequence[str], code: int = 0, out: str = "", err: str = "") -> None:
        """Answer any command whose arguments after the binary start with ``prefix``."""
        want = list(prefix)

        def handler(argv: list[str]) -> tuple[int, str, str] | None:
            return (code, out, err) if argv[1 : 1 + len(want)] == want else None

        self.handlers.insert(0, handler)

    def run(self, args: Sequence[str], **kwargs: Any) -> Result:
        argv = [str(a) for a in args]
        self.calls.append(argv)
        code, out, err = 0, "", ""
        for handler in self.handlers:
            answer = handler(argv)
            if answer is not None:
                code, out, err = answer
                break
        if kwargs.get("check", True) and code != 0:
            raise CommandError(argv, code, out, err, what=kwargs.get("what"))
        return Result(argv, code, out, err)

    def commands(self, sub: str) -> list[list[str]]:
        return [c for c in self.calls if len(c) > 1 and c[1] == sub]
