"""The examples in docs/config.md load, so the documentation cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nestkube.config import config_json_schema, load_config

DOC = Path(__file__).resolve().parents[3] / "docs" / "config.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)
CLUSTERS = [b for b in BLOCKS if re.search(r"^kind: Cluster$", b, flags=re.M)]


def test_doc_has_examples() -> None:
    assert len(CLUSTERS) >= 3


@pytest.mark.parametrize("text", CLUSTERS)
def test_doc_examples_load(text: str) -> None:
    load_config("example.yaml", text=text)


def test_doc_mentions_every_top_level_key() -> None:
    body = DOC.read_text()
    missing = [key for key in config_json_schema()["properties"] if f"`{key}" not in body]
    assert missing == []
