"""nestkube-runc, the one runc wrapper (its header says what it adapts and who runs it).

CRI-O node images install the file as it is; ``nestkube doctor`` writes a copy that names the
host's runc; the e2e tests make a copy of the file, outside the checkout, the runtime of the
daemons they start (tests/e2e/engines.py).
"""

from __future__ import annotations

import shlex
from pathlib import Path

PATH = Path(__file__).with_name("nestkube-runc")
# The line of the file a copy that names its runc replaces.
_RUNC_LINE = "RUNC=${NESTKUBE_RUNC:-}\n"


def text(runc: str | None = None, header: str = "") -> str:
    """The wrapper's text; with ``runc``, handing over to that runc unless $NESTKUBE_RUNC says
    otherwise; ``header`` (comment lines) goes right after the ``#!`` line."""
    body = PATH.read_text()
    if _RUNC_LINE not in body:
        raise AssertionError(f"{PATH} has no line {_RUNC_LINE.strip()!r}")
    if runc is not None:
        body = body.replace(_RUNC_LINE, f"RUNC=${{NESTKUBE_RUNC:-{shlex.quote(runc)}}}\n", 1)
    shebang, _, rest = body.partition("\n")
    return f"{shebang}\n{header}{rest}"
