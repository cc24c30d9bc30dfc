"""A wheel of a nestkube checkout and of everything it needs, for a Python that cannot read
the checkout: a rootless test user on this host, or a test guest with no network.

Installed with ``pip install --no-index --find-links DIR nestkube`` into a venv its user owns,
so where the checkout lies and who may read it no longer matters.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from nestkube import _exec
from nestkube.cache import cache_root, content_key, file_sha256, publish_dir


def build_wheelhouse(project: Path, dest: Path) -> Path:
    """Wheels for ``project`` (a nestkube checkout) and its dependencies in ``dest``.

    The dependencies' wheels are cached by pyproject.toml (pip fetches them from the package
    index once); the project's own wheel is built afresh, since its source changes every run.
    """
    dest.mkdir(parents=True, exist_ok=True)
    pyproject = project / "pyproject.toml"
    deps = cache_root() / "wheels" / content_key([file_sha256(pyproject), sys.version_info[:2]])
    if not deps.is_dir():
        tmp = deps.with_name(deps.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        _pip_wheel(project, tmp, "nestkube and its dependencies")
        for own in tmp.glob("nestkube-*.whl"):
            own.unlink()
        publish_dir(tmp, deps)
    for wheel in deps.glob("*.whl"):
        shutil.copy2(wheel, dest / wheel.name)
    _pip_wheel(project, dest, "nestkube", "--no-deps")
    for entry in [dest, *dest.iterdir()]:
        entry.chmod(0o755 if entry.is_dir() else 0o644)
    return dest


def _pip_wheel(project: Path, into: Path, what: str, *flags: str) -> None:
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet"]
    _exec.run(
        [*pip, *flags, "--wheel-dir", str(into), str(project)],
        what=f"pip wheel ({what})",
        timeout=900,
    )


def install_argv(python: str, venv: str, wheelhouse: str) -> list[list[str]]:
    """The commands that make ``venv`` with nestkube from ``wheelhouse``, offline."""
    return [
        [python, "-m", "venv", "--clear", venv],
        [
            f"{venv}/bin/pip",
            "install",
            "--quiet",
            # Byte-compiling every module of every wheel is most of an install's time under
            # an emulated CPU; Python compiles what it imports.
            "--no-compile",
            "--no-index",
            "--find-links",
            wheelhouse,
            "nestkube",
        ],
    ]
