"""``nestkube config schema`` and ``nestkube config validate`` through the real app."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

import nestkube.cli.main  # noqa: F401  (attaches every command to the groups)
from nestkube.cli import groups
from nestkube.config import config_json_schema
from nestkube.errors import ConfigError

runner = CliRunner()


def test_config_schema_prints_the_schema() -> None:
    result = runner.invoke(groups.app, ["config", "schema"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == config_json_schema()
    # indent=2: nested keys start two spaces in.
    assert result.stdout.startswith('{\n  "$schema"')


def test_config_validate(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname: v\n"
        "nodes: [{role: control-plane}, {role: worker}, {role: worker}]\n"
    )
    result = runner.invoke(groups.app, ["config", "validate", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{path}: valid; cluster v: 1 control-plane and 2 worker node(s)\n"


def test_config_validate_resolved_from_stdin() -> None:
    doc = "kind: Cluster\napiVersion: nestkube.io/v1alpha1\nprovider: podman\n"
    result = runner.invoke(groups.app, ["config", "validate", "--resolved", "-"], input=doc)
    assert result.exit_code == 0, result.output
    resolved = yaml.safe_load(result.stdout)
    assert resolved["provider"] == "podman"
    assert resolved["networking"]["podSubnet"] == "10.244.0.0/16"


def test_config_validate_error_is_a_config_error() -> None:
    result = runner.invoke(groups.app, ["config", "validate", "-"], input="kind: Cluster\n")
    assert isinstance(result.exception, ConfigError)
    assert str(result.exception).startswith("<stdin>: missing apiVersion")
