"""nestkube against the real kind, side by side on the same engine, Kubernetes and node image.

    python bench/kind_vs_nestkube.py [--shapes single,1+2,3+1] [--pairs 3,3,2] [--save F]

kind v0.33.0 is built from its Go module into nestkube's cache; the kind-format node image of
the default release is built (or reused) and both tools boot that one image, so the node
contents are identical. For every shape the runs alternate, kind then nestkube (A B A B ...),
each create timed from its start until every node is Ready (kind's own wait covers control
planes only, so both are followed by the same poll of ``kubectl get nodes``). After each create
the nodes idle ``--idle`` seconds and their memory is sampled (working set: the cgroup's usage
minus inactive file cache). Before each create the bench waits (``--settle``, at most 60 s)
until the host's CPUs have been under 10 % busy for 3 s, so no run pays for the teardown
of the cluster deleted before it. Step times come from nestkube's status timings and, for kind, from
the moments its progress lines appear. kind runs with the host workarounds it needs here
(:func:`nestkube.kit.kind_tool.kind_setup`); the report lists them. Shapes kind cannot create
here (several control planes need its Envoy load balancer image, which has no offline source)
run nestkube alone, and the report says why. Every shape's nestkube median is also compared
with nestkube's own single node.

Clusters are named ``kvn-<random>-...``, kubeconfigs go to a temporary directory, and every
cluster is deleted, also on failure or Ctrl-C. Uses only the standard library, nestkube, and
bench/create.py's memory helpers: ``.venv/bin/python bench/kind_vs_nestkube.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from create import Shape, cgroup_mode, parse_shapes, sample_node_memory, source_revision

import nestkube
from nestkube.cluster import create_cluster, delete_cluster
from nestkube.config import default_config
from nestkube.defaults import DEFAULT_KUBERNETES_VERSION
from nestkube.images.kind_format import build_kind_image
from nestkube.images.node_image import build_node_image
from nestkube.images.sources import resolve_binaries
from nestkube.kit.kind_tool import (
    KIND_LOAD_BALANCER_IMAGE,
    KIND_VERSION,
    KindSetup,
    ensure_kind,
    kind_setup,
    prepare_host,
)
from nestkube.providers import get_provider
from nestkube.providers.base import Provider
from nestkube.status import Status

MIB = 1024 * 1024
READY_TIMEOUT = 600.0
# kind's progress: " • Preparing nodes 📦  ..." when a step starts, " ✓ ..." / " ✗ ..." at its end.
_KIND_STEP = re.compile(r"^\s*([•✓✗])\s+(.*?)\s*(?:\.\.\.)?\s*$")


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@dataclass
class Run:
    tool: str
    shape: str
    index: int
    cluster: str
    ok: bool = False
    error: str | None = None
    create_seconds: float | None = None  # start of create until every node is Ready
    tool_seconds: float | None = None  # the create command alone
    steps: dict[str, float] = field(default_factory=dict)
    working_set_mib: dict[str, float] = field(default_factory=dict)  # node -> after idle
    load_average: float | None = None
    settled_seconds: float | None = None  # waited for a quiet host before the create


# A host below this CPU share counts as quiet (an idle one here: 0-5 %).
QUIET_SHARE = 0.10


def cpu_jiffies() -> tuple[int, int]:
    """(busy, all) CPU time of the host so far, from /proc/stat; steal left out."""
    first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    user, nice, system, idle, iowait, irq, softirq = (int(x) for x in first[1:8])
    busy = user + nice + system + irq + softirq
    return busy, busy + idle + iowait


def wait_quiet(
    limit: float,
    *,
    read: Callable[[], tuple[int, int]] = cpu_jiffies,
    sleep: Callable[[float], None] = time.sleep,
    seconds: int = 3,
) -> float:
    """Wait until the host's CPUs have been at most QUIET_SHARE busy for ``seconds`` whole
    seconds in a row, or ``limit`` seconds; returns how long it waited.

    A deleted cluster goes on costing CPU after the delete returns (the kernel tears down its
    containers' mounts, cgroups and network namespaces): without this, a create right after
    a three-node delete ran 2-4 s slower than one after a quiet minute."""
    waited, quiet = 0.0, 0
    before = read()
    while quiet < seconds and waited < limit:
        sleep(1.0)
        waited += 1.0
        now = read()
        busy, total = now[0] - before[0], now[1] - before[1]
        quiet = quiet + 1 if total > 0 and busy / total <= QUIET_SHARE else 0
        before = now
    return waited


def kind_step_name(text: str) -> str:
    """'Preparing nodes 📦' -> 'Preparing nodes': step names without kind's emoji."""
    return re.sub(r"[^\w\s=≤().,:/-]", "", text).strip()


def parse_kind_steps(lines: Sequence[tuple[float, str]]) -> dict[str, float]:
    """Step durations from kind's progress lines, each with the moment it was read."""
    started: dict[str, float] = {}
    steps: dict[str, float] = {}
    for moment, line in lines:
        match = _KIND_STEP.match(line)
        if not match:
            continue
        name = kind_step_name(match[2])
        if match[1] == "•":
            started[name] = moment
        elif name in started:
            steps[name] = round(moment - started.pop(name), 2)
    return steps


def wait_all_ready(kubectl: Path, kubeconfig: Path, context: str, nodes: int) -> None:
    """Poll until ``nodes`` nodes exist and every one is Ready."""
    deadline = time.monotonic() + READY_TIMEOUT
    query = '{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}'
    while time.monotonic() < deadline:
        proc = subprocess.run(
            [str(kubectl), f"--kubeconfig={kubeconfig}", f"--context={context}", "get", "nodes",
             "-o", f"jsonpath={query}", "--request-timeout=10s"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        states = proc.stdout.split()
        if proc.returncode == 0 and len(states) == nodes and set(states) == {"True"}:
            return
        time.sleep(0.5)
    raise TimeoutError(f"not every node was Ready within {READY_TIMEOUT:.0f}s")


def idle_memory(
    engine: str, nodes: Sequence[str], ready_at: float, idle: float
) -> dict[str, float]:
    time.sleep(max(0.0, idle - (time.monotonic() - ready_at)))
    out: dict[str, float] = {}
    for node in nodes:
        sample = sample_node_memory(engine, node)
        if sample.working_set is not None:
            out[node] = round(sample.working_set / MIB, 1)
    return out


def kind_run(
    kind: Path, setup: KindSetup, run: Run, shape: Shape, image: str, tmp: Path, ctx: dict[str, Any]
) -> None:
    env = {**os.environ, **setup.env}
    config = tmp / f"{run.cluster}.yaml"
    config.write_text(setup.config(control_planes=shape.control_planes, workers=shape.workers))
    kubeconfig = tmp / "kind-kubeconfig"
    argv = [str(kind), "create", "cluster", "--name", run.cluster, "--image", image,
            "--config", str(config), "--kubeconfig", str(kubeconfig), "--wait", "10m"]  # fmt: skip
    lines: list[tuple[float, str]] = []
    try:
        start = time.monotonic()
        with subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append((time.monotonic(), line.rstrip("\n")))
            code = proc.wait(timeout=READY_TIMEOUT)
        run.tool_seconds = time.monotonic() - start
        run.steps = parse_kind_steps(lines)
        if code != 0:
            # kind's "ERROR: ..." line says what failed; its Go stack trace follows it.
            said = [line for _, line in lines if line.startswith("ERROR:")] or [lines[-1][1]]
            raise RuntimeError(f"kind create failed ({code}): {said[0][:300]}")
        wait_all_ready(ctx["kubectl"], kubeconfig, f"kind-{run.cluster}", shape.nodes)
        ready = time.monotonic()
        run.create_seconds = ready - start
        nodes = subprocess.run(
            [str(kind), "get", "nodes", "--name", run.cluster],
            env=env, capture_output=True, text=True, timeout=60, check=True,
        ).stdout.split()  # fmt: skip
        run.working_set_mib = idle_memory(ctx["engine"], nodes, ready, ctx["idle"])
        run.ok = True
    finally:
        subprocess.run(
            [str(kind), "delete", "cluster", "--name", run.cluster,
             "--kubeconfig", str(kubeconfig)],
            env=env, capture_output=True, timeout=300, check=False,
        )  # fmt: skip


def nestkube_run(provider: Provider, run: Run, shape: Shape, image: str, tmp: Path,
                 ctx: dict[str, Any]) -> None:  # fmt: skip
    kubeconfig = tmp / "nestkube-kubeconfig"
    config = default_config(run.cluster, workers=shape.workers, control_planes=shape.control_planes)
    status = Status(quiet=True)
    try:
        start = time.monotonic()
        try:
            cluster = create_cluster(
                config, image=image, kubeconfig_path=str(kubeconfig), wait=READY_TIMEOUT,
                status=status, provider=provider,
            )  # fmt: skip
        finally:
            run.steps = {k: round(v, 2) for k, v in status.timings.items()}
        run.tool_seconds = time.monotonic() - start
        wait_all_ready(ctx["kubectl"], kubeconfig, f"nestkube-{run.cluster}", shape.nodes)
        ready = time.monotonic()
        run.create_seconds = ready - start
        nodes = [n.name for n in cluster.nodes]
        run.working_set_mib = idle_memory(ctx["engine"], nodes, ready, ctx["idle"])
        run.ok = True
    finally:
        with contextlib.suppress(Exception):
            delete_cluster(run.cluster, kubeconfig_path=str(kubeconfig), provider=provider,
                           status=Status(quiet=True))  # fmt: skip


def kind_cannot_run(shape: Shape, image_present: Callable[[str], bool]) -> str | None:
    """Why kind cannot create ``shape`` here, or None."""
    if shape.control_planes > 1 and not image_present(KIND_LOAD_BALANCER_IMAGE):
        return (
            f"kind's load balancer image {KIND_LOAD_BALANCER_IMAGE} is not present and has no "
            "offline source (Envoy: no Go module, no Debian package)"
        )
    return None


def median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def summarize(runs: Sequence[Run], shape: Shape, kind_skipped: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"shape": shape.label}
    if kind_skipped:
        out["kind_skipped"] = kind_skipped
    for tool in ("kind", "nestkube"):
        ok = [r for r in runs if r.tool == tool and r.shape == shape.label and r.ok]
        steps: dict[str, list[float]] = {}
        for r in ok:
            for name, seconds in r.steps.items():
                steps.setdefault(name, []).append(seconds)
        control_plane = [
            v for r in ok for n, v in r.working_set_mib.items() if "control-plane" in n
        ]
        per_node = [v for r in ok for v in r.working_set_mib.values()]
        out[tool] = {
            "runs": [round(r.create_seconds or 0, 1) for r in ok],
            "failed": len([r for r in runs if r.tool == tool and r.shape == shape.label]) - len(ok),
            "median_seconds": median([r.create_seconds or 0 for r in ok]),
            "median_tool_seconds": median([r.tool_seconds or 0 for r in ok]),
            "step_medians": {k: median(v) for k, v in steps.items()},
            "control_plane_working_set_mib": median(control_plane),
            "node_working_set_mib": median(per_node),
        }
    k, n = out["kind"]["median_seconds"], out["nestkube"]["median_seconds"]
    out["ratio_nestkube_to_kind"] = round(n / k, 2) if k and n else None
    return out


def add_ratios_to_single(summary: list[dict[str, Any]]) -> None:
    """Each shape's nestkube median against nestkube's own single-node median."""
    single = next(
        (s["nestkube"]["median_seconds"] for s in summary if s["shape"] == "single"), None
    )
    for s in summary:
        n = s["nestkube"]["median_seconds"]
        s["ratio_nestkube_to_own_single"] = round(n / single, 2) if n and single else None


def render(report: dict[str, Any]) -> str:
    lines = [
        f"kind {report['kind_version']} vs nestkube {report['nestkube_version']} on "
        f"{report['environment']['provider']} {report['environment']['engine_version']}, "
        f"Kubernetes {report['environment']['kubernetes_version']}, image {report['image']}",
        f"date {report['date']}, cgroup {report['environment']['cgroup']}, "
        f"{report['environment']['cpus']} CPUs",
        "kind's host workarounds: " + "; ".join(report["kind_workarounds"]),
        "",
    ]
    for run in report["runs"]:
        took = f"{run['create_seconds']:.1f}s" if run["create_seconds"] else "-"
        mem = ", ".join(f"{n}={v:.0f}MiB" for n, v in run["working_set_mib"].items())
        state = "ok" if run["ok"] else f"FAILED {run['error'][:80]}"
        lines.append(
            f"{run['shape']:>6} #{run['index']} {run['tool']:<8} {took:>7}  load "
            f"{run['load_average']:.1f}  {mem}  {state}"
        )
    lines.append("")
    for s in report["summary"]:
        lines.append(
            f"== {s['shape']}: nestkube/kind = {s['ratio_nestkube_to_kind']}, nestkube/"
            f"nestkube single = {s.get('ratio_nestkube_to_own_single')}"
        )
        if s.get("kind_skipped"):
            lines.append(f"  kind not run: {s['kind_skipped']}")
        for tool in ("kind", "nestkube"):
            t = s[tool]
            lines.append(
                f"  {tool:<8} median {t['median_seconds']}s (runs {t['runs']}, failed "
                f"{t['failed']}), control plane working set {t['control_plane_working_set_mib']}"
                f" MiB, per node {t['node_working_set_mib']} MiB"
            )
            for name, seconds in t["step_medians"].items():
                lines.append(f"      {seconds:>7}s  {name}")
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--shapes",
        type=parse_shapes,
        default=parse_shapes("single,1+2,3+1"),
        help="single, C+W (e.g. 1+2, or 3+1 where HA is supported), comma-separated",
    )
    p.add_argument(
        "--pairs",
        default="3,3,2",
        help="kind/nestkube pairs per shape, in --shapes order (default 3,3,2)",
    )
    p.add_argument("--idle", type=float, default=30.0, help="seconds idle before memory")
    p.add_argument(
        "--settle",
        type=float,
        default=60.0,
        help="at most this long, wait for a quiet host before each create",
    )
    p.add_argument("--kubernetes-version", default=DEFAULT_KUBERNETES_VERSION)
    p.add_argument("--save", type=Path, help="also write the JSON report here")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    return p.parse_args(argv)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    shapes: list[Shape] = args.shapes
    pairs = [int(x) for x in args.pairs.split(",")]
    pairs += [pairs[-1]] * (len(shapes) - len(pairs))
    provider = get_provider("podman")
    status = Status(quiet=False)
    kind = ensure_kind(status)
    binaries = resolve_binaries(
        binaries_dir=None, version=args.kubernetes_version, release_url=None, source_dir=None,
        debian_source=False, status=status,
    )  # fmt: skip
    # Offline like the suite's images: the same build key, so neither rebuilds the other's.
    base = build_node_image(provider, binaries, pull_missing=False, status=status)
    image = build_kind_image(provider, base.image, status=status).image
    prefix = f"kvn-{secrets.token_hex(2)}"
    started = datetime.datetime.now(datetime.UTC)
    runs: list[Run] = []
    skipped: dict[str, str | None] = {}
    with tempfile.TemporaryDirectory(prefix="nestkube-kvn-") as tmp_name:
        tmp = Path(tmp_name)
        setup = kind_setup(provider.info, tmp)
        prepare_host()
        os.environ["KUBECONFIG"] = str(tmp / "unused-kubeconfig")
        ctx = {"kubectl": binaries.path("kubectl"), "engine": provider.info.binary,
               "idle": args.idle}  # fmt: skip
        try:
            for shape, count in zip(shapes, pairs, strict=True):
                skipped[shape.label] = kind_cannot_run(shape, provider.image_exists)
                tools = ("nestkube",) if skipped[shape.label] else ("kind", "nestkube")
                for i in range(1, count + 1):
                    for tool in tools:
                        run = Run(tool, shape.label, i, f"{prefix}-{tool[0]}{shape.slug}-{i}")
                        run.settled_seconds = wait_quiet(args.settle)
                        run.load_average = os.getloadavg()[0]
                        runs.append(run)
                        progress(f"{shape.label} pair {i}/{count}: {tool} creates {run.cluster}")
                        try:
                            if tool == "kind":
                                kind_run(kind, setup, run, shape, image, tmp, ctx)
                            else:
                                nestkube_run(provider, run, shape, image, tmp, ctx)
                            progress(f"{run.cluster}: Ready after {run.create_seconds:.1f}s")
                        except Exception as exc:  # recorded; the other runs go ahead
                            run.error = f"{type(exc).__name__}: {exc}"
                            progress(f"{run.cluster}: FAILED: {exc}")
        except KeyboardInterrupt:
            progress("interrupted; reporting the runs that finished")
    summary = [summarize(runs, shape, skipped.get(shape.label)) for shape in shapes]
    add_ratios_to_single(summary)
    report = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "kind_version": KIND_VERSION,
        "nestkube_version": nestkube.__version__,
        "nestkube_revision": source_revision(),
        "image": image,
        "kind_workarounds": list(setup.workarounds),
        "environment": {
            "provider": provider.info.name,
            "engine_version": provider.info.version,
            "kubernetes_version": binaries.version,
            "cpus": os.cpu_count(),
            "cgroup": cgroup_mode(),
            "load_average_at_start": os.getloadavg()[0],
        },
        "summary": summary,
        "runs": [asdict(r) for r in runs],
    }
    document = json.dumps(report, indent=2) + "\n"
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(document)
    sys.stdout.write(document if args.json else render(report))
    return 0 if all(r.ok for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
