"""docs/doctor.md documents every check, in report order, and the preflight set."""

from __future__ import annotations

import re
from pathlib import Path

from nestkube.doctor import CHECKS
from nestkube.doctor.checks import PREFLIGHT

DOC = Path(__file__).resolve().parents[3] / "docs/doctor.md"


def test_every_check_has_a_section_in_report_order() -> None:
    headings = re.findall(r"^### (\S+)$", DOC.read_text(), flags=re.MULTILINE)
    assert headings == list(CHECKS)


def test_preflight_list_matches() -> None:
    text = " ".join(DOC.read_text().split("## Preflight", 1)[1].split())
    sentence = text.split("It runs these checks:", 1)[1].split(". ", 1)[0]
    listed = re.findall(r"[a-z]+\.[a-z-]+", sentence)
    assert listed == list(PREFLIGHT)
