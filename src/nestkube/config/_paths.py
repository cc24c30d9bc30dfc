"""How configuration errors name the place they are about: one line, file first, then key path."""

from __future__ import annotations

import re
from collections.abc import Iterable

# The one YAML error formatter, re-exported for the config and runner modules.
from nestkube.yaml_errors import yaml_problem as yaml_problem

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def render_path(parts: Iterable[str | int]) -> str:
    """``("nodes", 1, "hostPort")`` -> ``nodes[1].hostPort``, the way a user finds a key.

    Map keys that are not plain words (label keys hold dots and slashes) are quoted in
    brackets so the path still reads unambiguously.
    """
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f'["{part}"]'
    return out


def format_error(where: str | None, path: str, message: str) -> str:
    # Newlines would break the one-line contract the CLI relies on.
    message = " ".join(message.split())
    return ": ".join(part for part in (where, path, message) if part)
