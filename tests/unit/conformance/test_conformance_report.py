"""Reading ginkgo's JUnit reports into `P passed, F failed, S skipped of N`."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from nestkube.conformance.report import merge_reports, read_reports, spec_name

PARALLEL = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="6" failures="1">
  <testsuite name="Kubernetes e2e suite" tests="6">
    <testcase name="[SynchronizedBeforeSuite]" status="passed"></testcase>
    <testcase name="[It] [sig-node] Pods should get a host IP [Conformance]" status="passed">
    </testcase>
    <testcase name="[It] [sig-network] DNS should provide DNS for services [Conformance]"
      status="failed">
      <failure message="Timed out after 600s.&#xA;Expected success" type="failed">
        [FAILED] Timed out after 600s.
      </failure>
    </testcase>
    <testcase name="[It] [sig-storage] Volumes should mount [Conformance]" status="skipped">
      <skipped message="skipped - no provider supports it"></skipped>
    </testcase>
    <testcase name="[It] [sig-apps] not selected" status="skipped">
      <skipped message="skipped"></skipped>
    </testcase>
    <testcase name="[ReportAfterSuite] Kubernetes e2e suite report" status="passed"></testcase>
  </testsuite>
</testsuites>
"""
SERIAL = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="Kubernetes e2e suite" tests="2">
    <testcase name="[SynchronizedBeforeSuite]" status="failed">
      <failure message="" type="failed">

        cluster not ready
      </failure>
    </testcase>
    <testcase name="[It] [sig-scheduling] serial one [Serial] [Conformance]" status="passed">
    </testcase>
  </testsuite>
</testsuites>
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_counts_what_ran_and_each_failures_first_line(tmp_path: Path) -> None:
    summary = read_reports([write(tmp_path, "p.xml", PARALLEL)])
    assert summary.line() == "1 passed, 1 failed, 1 skipped of 3"
    failure = summary.failed[0]
    assert "DNS should provide DNS for services" in failure.name
    assert failure.first_line == "Timed out after 600s."
    assert summary.lines()[1].startswith("FAIL [sig-network] DNS")


def test_spec_names_lose_ginkgos_node_type_and_label_list() -> None:
    name = "[It] [sig-node] Pods should get a host IP [Conformance] [sig-node, Conformance]"
    assert spec_name(name) == "[sig-node] Pods should get a host IP [Conformance]"
    assert spec_name("[It] [sig-x] one [Conformance]") == "[sig-x] one [Conformance]"


def test_a_failed_suite_node_counts_with_the_text_of_its_failure(tmp_path: Path) -> None:
    summary = read_reports([write(tmp_path, "p.xml", PARALLEL), write(tmp_path, "s.xml", SERIAL)])
    assert summary.line() == "2 passed, 2 failed, 1 skipped of 5"
    assert summary.failed[1].name == "[SynchronizedBeforeSuite]"
    assert summary.failed[1].first_line == "cluster not ready"


def test_merged_report_holds_every_pass(tmp_path: Path) -> None:
    paths = [write(tmp_path, "p.xml", PARALLEL), write(tmp_path, "s.xml", SERIAL)]
    merge_reports(paths, tmp_path / "junit.xml")
    root = ET.parse(tmp_path / "junit.xml").getroot()
    assert root.tag == "testsuites"
    assert len(root.findall("testsuite")) == 2
    assert read_reports([tmp_path / "junit.xml"]).line() == "2 passed, 2 failed, 1 skipped of 5"
