"""Run e2e.test through ginkgo: the parallel pass, then the serial one.

Kubernetes marks its specs with ginkgo labels as well as bracketed tags, so the passes select
on labels (``Conformance && !Serial && !Disruptive``, then ``Conformance && Serial &&
!Disruptive``) while ``--focus`` and ``--skip`` regular expressions pass through to both
unchanged and narrow the conformance set (a focus on "DNS" never picks a provider-only spec).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nestkube import _exec
from nestkube.conformance.report import Summary, merge_reports, read_reports
from nestkube.conformance.suite import Suite
from nestkube.defaults import CONFORMANCE_FOCUS as CONFORMANCE_FOCUS
from nestkube.errors import NestkubeError
from nestkube.status import SILENT, Status

# CONFORMANCE_FOCUS is set in nestkube.defaults, which the CLI can import cheaply.
# Time for ginkgo to stop its processes and write the report after its own --timeout.
_GRACE = 300.0


class ConformanceError(NestkubeError):
    """The suite could not run or left no report."""


@dataclass(frozen=True)
class Pass:
    name: str
    label_filter: str
    procs: int


def passes(procs: int) -> list[Pass]:
    return [
        Pass("parallel", "Conformance && !Serial && !Disruptive", procs),
        Pass("serial", "Conformance && Serial && !Disruptive", 1),
    ]


def ginkgo_args(
    suite: Suite,
    one: Pass,
    *,
    focus: Sequence[str],
    skip: Sequence[str],
    report_dir: Path,
    kubeconfig: Path,
    kubectl: Path,
    timeout: float,
) -> list[str]:
    args = [
        str(suite.ginkgo),
        f"--procs={one.procs}",
        f"--label-filter={one.label_filter}",
        *(f"--focus={f}" for f in focus),
        *(f"--skip={s}" for s in skip),
        f"--timeout={int(timeout)}s",
        f"--output-dir={report_dir}",
        f"--junit-report=junit_{one.name}.xml",
        "--no-color",
        "--silence-skips",
        str(suite.e2e_test),
        "--",
        f"--kubeconfig={kubeconfig}",
        f"--kubectl-path={kubectl}",
        "--provider=skeleton",
        # Cluster-wide log dumps on failure take minutes; `nestkube export logs` has them.
        "--dump-logs-on-failure=false",
        "--disable-log-dump",
    ]
    return args


def run_passes(
    suite: Suite,
    *,
    focus: Sequence[str],
    skip: Sequence[str],
    procs: int,
    report_dir: Path,
    kubeconfig: Path,
    kubectl: Path,
    timeout: float,
    status: Status = SILENT,
) -> Summary:
    """Run both passes; their JUnit reports are merged into ``report_dir/junit.xml``."""
    reports = []
    for one in passes(procs):
        report = report_dir / f"junit_{one.name}.xml"
        report.unlink(missing_ok=True)
        log = report_dir / f"ginkgo_{one.name}.log"
        args = ginkgo_args(
            suite,
            one,
            focus=focus,
            skip=skip,
            report_dir=report_dir,
            kubeconfig=kubeconfig,
            kubectl=kubectl,
            timeout=timeout,
        )
        step = f"Running the {one.name} specs ({one.procs} processes; log {log})"
        with status.step(step), log.open("wb") as out:
            # ginkgo exits non-zero when a spec fails; the report says which.
            _exec.run(
                args,
                check=False,
                stdout=out,
                timeout=timeout + _GRACE,
                what=f"ginkgo {one.name} pass",
                cwd=report_dir,
            )
        if not report.is_file():
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            raise ConformanceError(
                f"the {one.name} pass wrote no report ({log}): {' | '.join(tail)[:400]}"
            )
        reports.append(report)
    merge_reports(reports, report_dir / "junit.xml")
    return read_reports(reports)
