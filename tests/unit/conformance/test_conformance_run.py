"""The ginkgo command lines of the two passes."""

from __future__ import annotations

from pathlib import Path

from nestkube.conformance.run import CONFORMANCE_FOCUS, ginkgo_args, passes
from nestkube.conformance.suite import Suite, e2e_build, ginkgo_build
from nestkube.kit.releases import kubernetes_build

SUITE = Suite("v1.37.2", Path("/k/e2e.test"), Path("/k/ginkgo"))


def args_of(index: int, focus: list[str], skip: list[str]) -> list[str]:
    return ginkgo_args(
        SUITE,
        passes(4)[index],
        focus=focus,
        skip=skip,
        report_dir=Path("/r"),
        kubeconfig=Path("/r/kubeconfig"),
        kubectl=Path("/k/kubectl"),
        timeout=3600,
    )


def test_parallel_pass_then_serial_pass_never_disruptive() -> None:
    parallel, serial = passes(4)
    assert (parallel.procs, serial.procs) == (4, 1)
    assert parallel.label_filter == "Conformance && !Serial && !Disruptive"
    assert serial.label_filter == "Conformance && Serial && !Disruptive"


def test_focus_and_skip_pass_through_and_suite_flags_follow_the_separator() -> None:
    args = args_of(0, [CONFORMANCE_FOCUS, "Pods"], [r"\[Slow\]"])
    assert args[0] == "/k/ginkgo"
    assert r"--focus=\[Conformance\]" in args and "--focus=Pods" in args
    assert r"--skip=\[Slow\]" in args
    assert "--procs=4" in args and "--junit-report=junit_parallel.xml" in args
    sep = args.index("--")
    assert args[sep - 1] == "/k/e2e.test"
    assert "--kubeconfig=/r/kubeconfig" in args[sep:]
    assert "--kubectl-path=/k/kubectl" in args[sep:]
    assert "--junit-report=junit_serial.xml" in args_of(1, [], [])


def test_suite_builds_come_from_the_kits_kubernetes_module() -> None:
    kit = kubernetes_build("v1.37.2")
    e2e = e2e_build("v1.37.2")
    assert e2e.test_binaries and e2e.commands == {"e2e.test": "k8s.io/kubernetes/test/e2e"}
    # Same module, staging versions and version variables: e2e.test reports the release.
    assert (e2e.module, e2e.version, e2e.local_replaces_at) == (
        kit.module,
        kit.version,
        kit.local_replaces_at,
    )
    assert e2e.variables == kit.variables
    ginkgo = ginkgo_build("v1.37.2")
    assert not ginkgo.test_binaries
    assert ginkgo.commands == {"ginkgo": "github.com/onsi/ginkgo/v2/ginkgo"}
