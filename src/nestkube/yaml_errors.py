"""How a YAML parse error reads, for every file nestkube parses: one formatter, one wording.

Callers say ``<where>: invalid YAML: <yaml_problem(exc)>``; this gives the problem and where
it is, on one line, e.g. ``duplicate key "name" (line 4, column 1)``.
"""

from __future__ import annotations

import yaml


def yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's multi-line report reduced to its problem and position, on one line."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        text = f"{exc.problem or exc.context or 'parse error'}{at}"
    else:
        text = str(exc)
    return " ".join(text.split())
