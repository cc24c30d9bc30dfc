"""Unit tests of the side-by-side benchmark's parsers: pytest bench/test_kind_vs_nestkube.py."""

from __future__ import annotations

from create import Shape
from kind_vs_nestkube import (
    Run,
    add_ratios_to_single,
    kind_cannot_run,
    kind_step_name,
    parse_kind_steps,
    summarize,
    wait_quiet,
)


def test_kind_steps_are_timed_from_their_progress_lines() -> None:
    lines = [
        (0.0, 'Creating cluster "x" ...'),
        (1.0, " • Ensuring node image (localhost/nestkube/kind-node:v1.37.2) 🖼  ..."),
        (1.5, " ✓ Ensuring node image (localhost/nestkube/kind-node:v1.37.2) 🖼"),
        (1.5, " • Preparing nodes 📦   ..."),
        (9.0, " ✓ Preparing nodes 📦 "),
        (9.0, " • Waiting ≤ 10m0s for control-plane = Ready ⏳  ..."),
        (20.0, " ✗ Waiting ≤ 10m0s for control-plane = Ready ⏳"),
    ]
    assert parse_kind_steps(lines) == {
        "Ensuring node image (localhost/nestkube/kind-node:v1.37.2)": 0.5,
        "Preparing nodes": 7.5,
        "Waiting ≤ 10m0s for control-plane = Ready": 11.0,
    }
    assert kind_step_name("Installing CNI 🔌") == "Installing CNI"


def test_summary_medians_and_ratio() -> None:
    runs = [
        Run("kind", "single", 1, "a", ok=True, create_seconds=40.0,
            working_set_mib={"a-control-plane": 500.0}),
        Run("nestkube", "single", 1, "b", ok=True, create_seconds=30.0,
            working_set_mib={"b-control-plane": 450.0}),
        Run("kind", "single", 2, "c", ok=True, create_seconds=60.0),
        Run("nestkube", "single", 2, "d", error="boom"),
    ]  # fmt: skip
    summary = summarize(runs, Shape("single", 1, 0))
    assert summary["kind"]["median_seconds"] == 50.0
    assert summary["nestkube"]["failed"] == 1
    assert summary["ratio_nestkube_to_kind"] == 0.6
    assert summary["nestkube"]["control_plane_working_set_mib"] == 450.0


def test_kind_runs_ha_only_with_its_load_balancer_image() -> None:
    ha, single = Shape("3+1", 3, 1), Shape("single", 1, 0)
    reason = kind_cannot_run(ha, lambda image: False)
    assert reason is not None and "envoy" in reason
    assert kind_cannot_run(ha, lambda image: "envoy" in image) is None
    assert kind_cannot_run(single, lambda image: False) is None


def test_every_shape_is_compared_with_nestkube_single() -> None:
    runs = [
        Run("nestkube", "single", 1, "a", ok=True, create_seconds=20.0),
        Run("nestkube", "1+2", 1, "b", ok=True, create_seconds=25.0),
        Run("nestkube", "3+1", 1, "c", ok=True, create_seconds=60.0),
    ]
    shapes = [Shape("single", 1, 0), Shape("1+2", 1, 2), Shape("3+1", 3, 1)]
    summary = [summarize(runs, s, "no envoy" if s.control_planes > 1 else None) for s in shapes]
    add_ratios_to_single(summary)
    assert [s["ratio_nestkube_to_own_single"] for s in summary] == [1.0, 1.25, 3.0]
    assert summary[2]["kind_skipped"] == "no envoy" and "kind_skipped" not in summary[0]
    assert summary[2]["ratio_nestkube_to_kind"] is None


def test_a_create_waits_for_three_quiet_seconds_in_a_row() -> None:
    # Busy shares per second: 50 %, 5 %, 40 % (the count starts again), then quiet.
    busy = iter([0, 50, 55, 95, 100, 105, 110])
    slept: list[float] = []

    def read() -> tuple[int, int]:
        return next(busy), 100 * (len(slept) + 1)

    assert wait_quiet(60, read=read, sleep=slept.append) == 6
    assert slept == [1.0] * 6


def test_a_host_that_never_quiets_is_waited_for_at_most_the_limit() -> None:
    calls = iter(range(0, 10_000, 90))
    total = iter(range(0, 10_000, 100))
    assert wait_quiet(5, read=lambda: (next(calls), next(total)), sleep=lambda s: None) == 5
