"""The CLI starts fast: importing it loads no heavy module, and the lazy names still resolve."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

import nestkube
import nestkube.cli.main  # attaches every command to the groups
from nestkube import cluster
from nestkube.cli import groups
from nestkube.defaults import DEFAULT_KUBERNETES_VERSION

HEAVY = ("pydantic", "rich", "yaml", "nestkube.doctor")


def test_importing_the_cli_loads_no_heavy_module() -> None:
    # A fresh interpreter: this one has imported everything the other tests needed.
    code = "import json, sys, nestkube.cli.main; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    loaded = json.loads(out)
    heavy = [m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert heavy == []


def test_every_public_name_resolves() -> None:
    for name in nestkube.__all__:
        assert getattr(nestkube, name) is not None, name
    assert nestkube.create_cluster is cluster.create_cluster
    assert cluster.DEFAULT_IMAGE.endswith(":" + DEFAULT_KUBERNETES_VERSION)


def test_create_help_names_the_default_image() -> None:
    result = CliRunner().invoke(groups.app, ["create", "cluster", "--help"])
    assert result.exit_code == 0, result.output
    assert f"Default: {cluster.DEFAULT_IMAGE}." in " ".join(result.stdout.split())
