"""Ginkgo's JUnit reports: what ran, what failed and why, in one summary line.

Ginkgo lists every spec of the suite in its report; those its filters left out are
``<skipped message="skipped">`` without a reason and are not counted. A spec that skipped
itself at run time (``skipped - <reason>``) is counted as skipped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Suite-level nodes ginkgo reports as test cases; they count only when they fail.
_SUITE_NODES = (
    "[BeforeSuite]",
    "[SynchronizedBeforeSuite]",
    "[AfterSuite]",
    "[SynchronizedAfterSuite]",
    "[ReportBeforeSuite]",
    "[ReportAfterSuite]",
    "[DeferCleanup (Suite)]",
)


@dataclass(frozen=True)
class Failure:
    name: str
    first_line: str


@dataclass
class Summary:
    passed: list[str] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.passed) + len(self.failed) + len(self.skipped)

    def line(self) -> str:
        return (
            f"{len(self.passed)} passed, {len(self.failed)} failed, "
            f"{len(self.skipped)} skipped of {self.total}"
        )

    def lines(self) -> list[str]:
        return [self.line(), *(f"FAIL {f.name}: {f.first_line}" for f in self.failed)]


def spec_name(case_name: str) -> str:
    """'[It] [sig-node] Pods ... [Conformance] [sig-node, Conformance]' -> '[sig-node] Pods ...
    [Conformance]': without ginkgo's node type and its list of labels (the tags say them)."""
    name = case_name.removeprefix("[It] ")
    return re.sub(r" \[[^\[\]]*, [^\[\]]*\]$", "", name)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:400]
    return "(no message)"


def read_reports(paths: Sequence[Path]) -> Summary:
    summary = Summary()
    for path in paths:
        for case in ET.parse(path).getroot().iter("testcase"):
            name = spec_name(case.get("name", ""))
            failure = case.find("failure")
            if failure is None:
                failure = case.find("error")
            skipped = case.find("skipped")
            suite_node = name.startswith(_SUITE_NODES)
            if failure is not None:
                message = failure.get("message") or failure.text or ""
                summary.failed.append(Failure(name, _first_line(message)))
            elif suite_node:
                continue
            elif skipped is not None:
                if (skipped.get("message") or "").strip() != "skipped":
                    summary.skipped.append(name)
            else:
                summary.passed.append(name)
    return summary


def merge_reports(paths: Sequence[Path], dest: Path) -> None:
    """One JUnit file with every pass's test suites, for tools that read a single report."""
    merged = ET.Element("testsuites")
    for path in paths:
        root = ET.parse(path).getroot()
        suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
        merged.extend(suites)
    ET.ElementTree(merged).write(dest, encoding="utf-8", xml_declaration=True)
