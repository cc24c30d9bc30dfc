"""Plain values are converted without pydantic, to exactly what typer's own conversion gives."""

from __future__ import annotations

import os
import subprocess
import sys
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import typer
from typer import _coercion, core
from typer._click import Context

import nestkube.cli.main  # noqa: F401  (attaches every command to the groups)
from nestkube.cli import _coerce, groups


class Colour(Enum):
    red = "red"
    blue = "blue"


def info(**kwargs: Any) -> Any:
    return typer.Option(None, **kwargs)


@pytest.mark.parametrize(
    ("value", "annotation", "kwargs", "expected"),
    [
        ("x", str, {}, (True, "x")),
        ("7", int, {}, (True, 7)),
        ("-2", int, {}, (True, -2)),
        (3, int, {"min": 0, "max": 3}, (True, 3)),
        ("4", int, {"min": 0, "max": 3}, (False, None)),  # typer says why
        ("5.0", int, {}, (False, None)),
        ("0x10", int, {}, (False, None)),
        (True, int, {}, (False, None)),
        (False, bool, {}, (True, False)),
        (Colour.red, Colour, {}, (True, Colour.red)),
        ("red", Colour, {}, (False, None)),  # typer's choice matching decides
        ("x", Path, {}, (False, None)),
    ],
)
def test_plain_value(value: Any, annotation: Any, kwargs: dict[str, Any], expected: Any) -> None:
    assert _coerce.plain_value(value, annotation, info(**kwargs)) == expected


def _parameters() -> list[tuple[Any, core._TyperParameter]]:
    root = typer.main.get_command(groups.app)
    found: list[tuple[Any, core._TyperParameter]] = []

    def walk(command: Any) -> None:
        found.extend((command, p) for p in command.params if isinstance(p, core._TyperParameter))
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(root)
    return found


def test_every_default_converts_as_typer_converts_it() -> None:
    assert _coerce.install()
    checked = 0
    for command, param in _parameters():
        desc = param.type_descriptor
        if param.default is None or not _coerce.is_plain(desc.annotation, desc.parameter_info):
            continue
        ctx = Context(command)
        ours = param.get_runtime_param().coerce(param.default, param=param, ctx=ctx)
        theirs = _coercion.build_runtime_param(desc).coerce(param.default, param=param, ctx=ctx)
        assert ours == theirs and type(ours) is type(theirs), (command.name, param.name)
        checked += 1
    assert checked > 50


def test_choices_given_as_text_convert_as_typer_converts_them() -> None:
    output = next(p for c, p in _parameters() if c.name == "clusters" and p.name == "output")
    ctx = Context(typer.main.get_command(groups.app))
    for text in ("text", "json", "yaml"):
        ours = output.get_runtime_param().coerce(text, param=output, ctx=ctx)
        desc = output.type_descriptor
        theirs = _coercion.build_runtime_param(desc).coerce(text, param=output, ctx=ctx)
        assert ours is theirs


def test_get_clusters_runs_without_heavy_modules(tmp_path: Path) -> None:
    # A stand-in podman that lists no containers: the whole command runs, engine call included.
    podman = tmp_path / "podman"
    podman.write_text("#!/bin/sh\nexit 0\n")
    podman.chmod(0o755)
    code = (
        "import sys\n"
        "from nestkube.cli.main import main\n"
        "sys.argv = ['nestkube', '-v', '1', 'get', 'clusters', '--provider', 'podman']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print(' '.join(m for m in sys.modules if m.split('.')[0] in\n"
        "    ('pydantic', 'pydantic_core', 'rich', 'yaml') or m.startswith('nestkube.doctor')))\n"
    )
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""
    assert proc.stderr == "No nestkube clusters found.\n"


def test_typer_is_pinned_to_the_minor_the_patch_is_tested_on() -> None:
    """The patch reaches into typer's private modules: pyproject allows only that minor."""
    import tomllib
    from importlib.metadata import version

    from packaging.requirements import Requirement
    from packaging.version import Version

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    spec = next(Requirement(d) for d in deps if Requirement(d).name == "typer").specifier
    installed = version("typer")
    assert installed in spec
    assert installed.startswith(_coerce.TESTED_TYPER + ".")
    minor = Version(_coerce.TESTED_TYPER + ".0")
    next_minor = Version(f"{minor.major}.{minor.minor + 1}.0")
    assert next_minor not in spec and Version(f"{minor.major}.{minor.minor - 1}.99") not in spec
    assert _coerce.install()
