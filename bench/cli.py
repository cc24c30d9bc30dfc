"""Time the nestkube CLI's start-up: whole processes, as a user waits for them.

    python bench/cli.py [--runs N] [--warmup N] [--nestkube PATH] [--baseline 'COMMAND']

Runs ``nestkube --help``, ``nestkube --version`` and ``nestkube get clusters`` ``--runs`` times
each (after ``--warmup`` uncounted runs), the commands in turn so background load spreads over
all of them, and prints each command's wall-clock time (min, median, max) and the CPU time of
the process and its children (median). Output is read and thrown away. ``--baseline`` names
another nestkube command (a shell-style string, e.g. an older checkout's
``'env PYTHONPATH=/tmp/old/src .venv/bin/python -m nestkube'``) that runs in turn with the
first, A B A B, and the ratio of the medians is printed.

Only the standard library is used, so it runs from the project's venv:
``.venv/bin/python bench/cli.py``. The machine is shared and noisy: quote medians.
"""

from __future__ import annotations

import argparse
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

COMMANDS: tuple[tuple[str, ...], ...] = (("--help",), ("--version",), ("get", "clusters"))
TIMEOUT = 60.0


@dataclass
class Sample:
    """The runs of one command line."""

    label: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    exits: set[int] = field(default_factory=set)
    # The last line a failed run printed on stderr, to say why.
    failure: str = ""


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(argv: list[str]) -> tuple[float, float, int, str]:
    """Wall and CPU seconds of one whole run of ``argv``, its exit code and stderr."""
    cpu0 = children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    wall = time.perf_counter() - start
    return wall, children_cpu() - cpu0, proc.returncode, proc.stderr


def summary(values: list[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def default_nestkube() -> str:
    """The nestkube console script beside this interpreter (the venv's), else on PATH."""
    beside = Path(sys.executable).parent / "nestkube"
    if beside.is_file():
        return str(beside)
    found = shutil.which("nestkube")
    if not found:
        sys.exit("bench/cli.py: no nestkube beside the interpreter or on PATH; pass --nestkube")
    return found


def measure(prefixes: list[list[str]], runs: int, warmup: int) -> list[list[Sample]]:
    """For each command, a Sample per prefix; runs interleave commands and prefixes."""
    samples = [[Sample(" ".join(["nestkube", *args])) for _ in prefixes] for args in COMMANDS]
    for i in range(warmup + runs):
        for c, args in enumerate(COMMANDS):
            for p, prefix in enumerate(prefixes):
                wall, cpu, code, stderr = run_once([*prefix, *args])
                if i >= warmup:
                    sample = samples[c][p]
                    sample.wall.append(wall)
                    sample.cpu.append(cpu)
                    sample.exits.add(code)
                    if code:
                        sample.failure = (stderr.strip().splitlines() or ["(no stderr)"])[-1]
    return samples


def report(samples: list[list[Sample]], names: list[str]) -> str:
    ms = 1000.0
    lines = [
        f"{'command':<24} {'':<9} {'wall min':>9} {'median':>7} {'max':>7} {'cpu median':>11}  exit"
    ]
    for per_prefix in samples:
        for name, sample in zip(names, per_prefix, strict=True):
            lo, mid, hi = summary(sample.wall)
            cpu = statistics.median(sample.cpu)
            exits = ",".join(str(c) for c in sorted(sample.exits))
            lines.append(
                f"{sample.label:<24} {name:<9} {lo * ms:>9.0f} {mid * ms:>7.0f} {hi * ms:>7.0f} "
                f"{cpu * ms:>11.0f}  {exits}"
            )
        if len(per_prefix) == 2:
            a, b = (statistics.median(s.wall) for s in per_prefix)
            lines.append(f"{'':<24} {'ratio':<9} {a / b:>25.2f}  (median wall, A / B)")
    for per_prefix in samples:
        for name, sample in zip(names, per_prefix, strict=True):
            if sample.failure:
                lines.append(f"{name}: {sample.label} failed: {sample.failure}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=11, help="counted runs per command (11)")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted runs first (1)")
    parser.add_argument("--nestkube", help="the nestkube to time (default: the venv's)")
    parser.add_argument("--baseline", help="another nestkube command line to run in turn")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be at least 1 and --warmup at least 0")
    prefixes = [[args.nestkube or default_nestkube()]]
    names = ["A"] if args.baseline is None else ["A", "B"]
    if args.baseline is not None:
        prefixes.append(shlex.split(args.baseline))
    print(
        f"nestkube CLI start-up: {args.runs} runs per command after {args.warmup} warm-up; "
        "whole processes, milliseconds",
        file=sys.stderr,
    )
    for name, prefix in zip(names, prefixes, strict=True):
        print(f"  {name} = {shlex.join(prefix)}", file=sys.stderr)
    print(report(measure(prefixes, args.runs, args.warmup), names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
