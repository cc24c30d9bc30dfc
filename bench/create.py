"""Benchmark cluster create and delete, and the memory a single-node cluster uses.

    python bench/create.py [--runs N] [--provider podman|docker] [--shapes single,1+2] [--json]

Each shape is created and deleted ``--runs`` times (runs of different shapes are interleaved so
that background load spreads over all of them). For each shape it reports the median, min and
max of every create step (as timed by :class:`nestkube.status.Status`), of the whole create
(wall clock around :func:`nestkube.create_cluster`, so it includes the pre-flight checks) and
of the delete. For single-node shapes it also samples the node container's memory when the node
is Ready and again after ``--idle`` seconds: the cgroup's usage, its working set (usage minus
inactive file cache, what kubelet and ``docker stats`` call usage), RSS, the cgroup's peak
(``memory.max_usage_in_bytes`` on cgroup v1, ``memory.peak`` on v2) and what the engine's
``stats`` command says.

Clusters are named ``bench-<random>-...`` and their kubeconfig goes into a temporary directory,
never ``~/.kube/config``. Every cluster is deleted, also when a run fails or on Ctrl-C/SIGTERM.
Tables go to stdout, progress to stderr; ``--json`` prints one JSON document instead.

Only the standard library and nestkube itself are used, so it runs from the project's venv:
``.venv/bin/python bench/create.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import nestkube
from nestkube.cluster import DEFAULT_IMAGE, create_cluster, delete_cluster
from nestkube.config import default_config
from nestkube.errors import NestkubeError
from nestkube.images.node_image import LABEL_K8S_VERSION
from nestkube.providers import get_provider
from nestkube.providers.base import Provider
from nestkube.status import Status

MIB = 1024 * 1024
CGROUP_ROOT = Path("/sys/fs/cgroup")


# --- shapes ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shape:
    """A cluster layout: ``single`` is 1 control plane; ``C+W`` is C control planes + W workers."""

    label: str
    control_planes: int
    workers: int

    @property
    def nodes(self) -> int:
        return self.control_planes + self.workers

    @property
    def slug(self) -> str:
        """Part of a cluster name: lowercase letters, digits and '-' only."""
        return "single" if self.label == "single" else f"{self.control_planes}p{self.workers}"

    def describe(self) -> str:
        cp = f"{self.control_planes} control plane{'s' if self.control_planes != 1 else ''}"
        return f"{cp} + {self.workers} worker{'s' if self.workers != 1 else ''}"


def parse_shape(text: str) -> Shape:
    text = text.strip()
    if text == "single":
        return Shape("single", 1, 0)
    match = re.fullmatch(r"(\d+)\+(\d+)", text)
    if not match or int(match[1]) < 1:
        raise argparse.ArgumentTypeError(
            f"bad shape {text!r}: use 'single' or CONTROL_PLANES+WORKERS such as 1+2"
        )
    return Shape(text, int(match[1]), int(match[2]))


def parse_shapes(text: str) -> list[Shape]:
    shapes = [parse_shape(part) for part in text.split(",") if part.strip()]
    if not shapes:
        raise argparse.ArgumentTypeError("no shapes given")
    if len({s.slug for s in shapes}) != len(shapes):
        raise argparse.ArgumentTypeError(f"a shape is repeated in {text!r}")
    return shapes


# --- memory ------------------------------------------------------------------------------------
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}


def parse_size(text: str) -> int | None:
    """'761.1MB' (podman, decimal) or '123.4MiB' (docker, binary) -> bytes."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([A-Za-z]*)\s*", text)
    if not match:
        return None
    unit = _SIZE_UNITS.get((match[2] or "b").lower())
    if unit is None:
        return None
    try:
        return int(float(match[1]) * unit)
    except ValueError:
        return None


def parse_engine_stats(engine: str, out: str) -> int | None:
    """The memory usage in bytes from `podman stats --format json` / docker's `{{json .}}`."""
    try:
        if engine == "podman":
            entries = json.loads(out)
            entry = entries[0] if isinstance(entries, list) and entries else entries
            usage = entry.get("mem_usage", "") if isinstance(entry, dict) else ""
        else:
            line = next((ln for ln in out.splitlines() if ln.strip()), "{}")
            entry = json.loads(line)
            usage = entry.get("MemUsage", "") if isinstance(entry, dict) else ""
    except (ValueError, StopIteration, AttributeError):
        return None
    return parse_size(str(usage).split("/")[0])


def memory_cgroup_dir(proc_cgroup: str, container_id: str, root: Path = CGROUP_ROOT) -> Path | None:
    """The container's memory cgroup directory, from the text of ``/proc/<pid>/cgroup``.

    The node's systemd moves itself into ``init.scope`` below the container's cgroup, so the
    path is walked up to the component named after the container (``libpod-<id>``,
    ``docker/<id>``, ``docker-<id>.scope``); without one, a trailing ``init.scope`` is dropped.
    """
    v1_path = v2_path = None
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if "memory" in parts[1].split(","):
            v1_path = parts[2]
        elif parts[0] == "0" and parts[1] == "":
            v2_path = parts[2]
    if v1_path is not None:
        base, path = root / "memory", v1_path
    elif v2_path is not None and (root / "cgroup.controllers").exists():
        base, path = root, v2_path
    else:
        return None
    components = [c for c in path.split("/") if c]
    for i in range(len(components), 0, -1):
        if container_id and container_id in components[i - 1]:
            components = components[:i]
            break
    else:
        if components and components[-1] == "init.scope":
            components.pop()
    return base.joinpath(*components)


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _read_stat(path: Path) -> dict[str, int]:
    try:
        text = path.read_text()
    except OSError:
        return {}
    stat: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            stat[key] = int(value)
    return stat


@dataclass
class NodeMemory:
    """One node container's memory at one moment, in bytes (None when it could not be read)."""

    node: str
    cgroup: str | None = None
    usage: int | None = None
    working_set: int | None = None
    rss: int | None = None
    peak: int | None = None
    engine_stats: int | None = None


def read_cgroup_memory(directory: Path, sample: NodeMemory) -> None:
    if (directory / "memory.usage_in_bytes").exists():  # cgroup v1
        sample.usage = _read_int(directory / "memory.usage_in_bytes")
        sample.peak = _read_int(directory / "memory.max_usage_in_bytes")
        stat = _read_stat(directory / "memory.stat")
        inactive_file, sample.rss = stat.get("total_inactive_file"), stat.get("total_rss")
    else:  # cgroup v2; memory.peak needs Linux 5.19
        sample.usage = _read_int(directory / "memory.current")
        sample.peak = _read_int(directory / "memory.peak")
        stat = _read_stat(directory / "memory.stat")
        inactive_file, sample.rss = stat.get("inactive_file"), stat.get("anon")
    if sample.usage is not None and inactive_file is not None:
        sample.working_set = max(0, sample.usage - inactive_file)


def _engine(engine: str, *args: str, timeout: float = 60.0) -> str | None:
    try:
        proc = subprocess.run(
            [engine, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def sample_node_memory(engine: str, node: str) -> NodeMemory:
    sample = NodeMemory(node)
    inspect = _engine(engine, "inspect", "--format", "{{.Id}} {{.State.Pid}}", node)
    if inspect and len(inspect.split()) == 2:
        container_id, pid = inspect.split()
        try:
            proc_cgroup = Path(f"/proc/{pid}/cgroup").read_text()
        except OSError:
            proc_cgroup = ""
        directory = memory_cgroup_dir(proc_cgroup, container_id)
        if directory is not None and directory.is_dir():
            sample.cgroup = str(directory)
            read_cgroup_memory(directory, sample)
    if engine.endswith("podman"):
        out = _engine(engine, "stats", "--no-stream", "--format", "json", node)
        sample.engine_stats = parse_engine_stats("podman", out) if out else None
    else:
        out = _engine(engine, "stats", "--no-stream", "--format", "{{json .}}", node)
        sample.engine_stats = parse_engine_stats("docker", out) if out else None
    return sample


@dataclass
class MemorySample:
    """All node containers of a cluster at one moment; totals are sums over the nodes."""

    when: str
    seconds_after_ready: float
    nodes: list[NodeMemory]

    def total(self, what: str) -> int | None:
        values = [getattr(n, what) for n in self.nodes]
        return None if any(v is None for v in values) else sum(values)


# --- runs ---------------------------------------------------------------------------------------
@dataclass
class Run:
    shape: str
    index: int
    cluster: str
    ok: bool = False
    error: str | None = None
    steps: dict[str, float] = field(default_factory=dict)
    create_seconds: float | None = None
    delete_seconds: float | None = None
    memory: list[MemorySample] = field(default_factory=list)
    other_containers: int | None = None
    load_average: float | None = None


def other_containers(prefix: str) -> int:
    """Running containers not made by this benchmark, on every engine here: a noise gauge."""
    count = 0
    for engine in ("podman", "docker"):
        if shutil.which(engine):
            out = _engine(engine, "ps", "--format", "{{.Names}}", timeout=20)
            names = [ln.strip() for ln in (out or "").splitlines() if ln.strip()]
            count += len([n for n in names if not n.startswith(prefix)])
    return count


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """Let a delete finish: a second Ctrl-C must not leave half a cluster behind.

    The engine commands started meanwhile inherit the ignored SIGINT too.
    """
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def delete(provider: Provider, name: str, kubeconfig: str, status: Status) -> float:
    with sigint_ignored():
        start = time.monotonic()
        delete_cluster(name, kubeconfig_path=kubeconfig, provider=provider, status=status)
        return time.monotonic() - start


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def one_run(
    provider: Provider,
    shape: Shape,
    run: Run,
    *,
    prefix: str,
    image: str,
    kubeconfig: str,
    wait: float,
    idle: float,
    memory: bool,
    quiet: bool,
) -> None:
    engine = provider.info.binary
    run.other_containers = other_containers(prefix)
    run.load_average = os.getloadavg()[0]
    config = default_config(run.cluster, workers=shape.workers, control_planes=shape.control_planes)
    status = Status(quiet=quiet)
    try:
        start = time.monotonic()
        try:
            cluster = create_cluster(
                config,
                image=image,
                kubeconfig_path=kubeconfig,
                wait=wait,
                status=status,
                provider=provider,
            )
        finally:
            run.steps = dict(status.timings)
        run.create_seconds = time.monotonic() - start
        progress(f"{run.cluster}: created in {run.create_seconds:.1f}s")
        if memory:
            ready = time.monotonic()
            nodes = [n.name for n in cluster.nodes]
            run.memory.append(
                MemorySample("ready", 0.0, [sample_node_memory(engine, n) for n in nodes])
            )
            if idle > 0:
                progress(f"{run.cluster}: idling {idle:.0f}s before the second memory sample")
                time.sleep(max(0.0, idle - (time.monotonic() - ready)))
                run.memory.append(
                    MemorySample(
                        "idle",
                        time.monotonic() - ready,
                        [sample_node_memory(engine, n) for n in nodes],
                    )
                )
    finally:
        # Always, also after a failed or interrupted create (which cleans up itself; deleting
        # a cluster that is gone is a no-op) and after Ctrl-C during the idle wait.
        run.delete_seconds = delete(provider, run.cluster, kubeconfig, status)
    run.ok = True
    progress(f"{run.cluster}: deleted in {run.delete_seconds:.1f}s")


# --- summary ------------------------------------------------------------------------------------
@dataclass
class Stat:
    median: float
    min: float
    max: float
    n: int


def stat(values: Sequence[float]) -> Stat | None:
    if not values:
        return None
    return Stat(statistics.median(values), min(values), max(values), len(values))


def summarize(shape: Shape, runs: Sequence[Run]) -> dict[str, Any]:
    ok = [r for r in runs if r.shape == shape.label and r.ok]
    step_names: list[str] = []
    for r in ok:
        step_names += [s for s in r.steps if s not in step_names and not s.startswith("Deleting")]
    steps = {name: stat([r.steps[name] for r in ok if name in r.steps]) for name in step_names}
    memory: dict[str, dict[str, Stat | None]] = {}
    for when in ("ready", "idle"):
        samples = [m for r in ok for m in r.memory if m.when == when]
        if samples:
            memory[when] = {
                what: stat([v / MIB for m in samples if (v := m.total(what)) is not None])
                for what in ("usage", "working_set", "rss", "peak", "engine_stats")
            }
            memory[when]["seconds_after_ready"] = stat([m.seconds_after_ready for m in samples])
    return {
        "shape": shape.label,
        "control_planes": shape.control_planes,
        "workers": shape.workers,
        "runs": len([r for r in runs if r.shape == shape.label]),
        "ok": len(ok),
        "steps": steps,
        "create_total": stat([r.create_seconds for r in ok if r.create_seconds is not None]),
        "delete": stat([r.delete_seconds for r in ok if r.delete_seconds is not None]),
        "memory_mib": memory,
        "other_containers_max": max(
            (r.other_containers for r in ok if r.other_containers is not None), default=None
        ),
        "load_average_median": (
            stat([r.load_average for r in ok if r.load_average is not None]) or Stat(0, 0, 0, 0)
        ).median,
    }


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = [c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(cells)]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths))
        + "|"
    )
    return [line(header), rule, *(line(r) for r in rows)]


def _fmt(value: Stat | None, digits: int = 1) -> list[str]:
    if value is None:
        return ["-", "-", "-"]
    return [f"{value.median:.{digits}f}", f"{value.min:.{digits}f}", f"{value.max:.{digits}f}"]


def render(report: dict[str, Any]) -> str:
    env = report["environment"]
    image_id = (env["image_id"] or "?").removeprefix("sha256:")[:12]
    out = [
        f"nestkube create benchmark, {report['date']}: {env['provider']} {env['engine_version']}"
        f" ({'rootless' if env['rootless'] else 'rootful'}), Kubernetes "
        f"{env['kubernetes_version']}, {env['cpus']} CPUs, cgroup {env['cgroup']}, "
        f"{report['runs_per_shape']} run(s) per shape",
        f"node image {env['image']} ({image_id}, {env['image_size_mb']} MB),"
        f" nestkube {report['nestkube_version']} ({report['nestkube_revision'] or 'no git'})",
        "",
    ]
    for s in report["summary"]:
        shape = Shape(s["shape"], s["control_planes"], s["workers"])
        others = "-" if s["other_containers_max"] is None else s["other_containers_max"]
        out.append(
            f"Shape {shape.label} ({shape.describe()}): {s['ok']}/{s['runs']} runs ok, times in "
            f"seconds; other containers running at run start: max {others}, "
            f"1-min load average at run start: median {s['load_average_median']:.2f}"
        )
        rows = [[name, *_fmt(v, 2)] for name, v in s["steps"].items()]
        rows.append(["create total (wall clock)", *_fmt(s["create_total"])])
        rows.append(["delete", *_fmt(s["delete"])])
        out += _table(["step", "median", "min", "max"], rows)
        out.append("")
        if s["memory_mib"]:
            out.append(
                f"Memory of the {shape.label} cluster's node containers (MiB, median [min-max])"
            )
            header = ["sampled", "usage", "working set", "rss", "cgroup peak", "engine stats"]
            rows = []
            for when, values in s["memory_mib"].items():
                after = values["seconds_after_ready"]
                label = "when Ready" if when == "ready" else f"Ready + {after.median:.0f}s idle"
                cells = [label]
                for what in ("usage", "working_set", "rss", "peak", "engine_stats"):
                    v = values[what]
                    cells.append("-" if v is None else f"{v.median:.0f} [{v.min:.0f}-{v.max:.0f}]")
                rows.append(cells)
            out += _table(header, rows)
            out.append("")
    failed = [r for r in report["runs"] if not r["ok"]]
    for r in failed:
        out.append(f"FAILED {r['cluster']}: {r['error']}")
    return "\n".join(out).rstrip() + "\n"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Stat):
        return asdict(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def source_revision() -> str | None:
    """The git commit nestkube was imported from, '+dirty' if src/ has changes (best effort)."""
    root = Path(nestkube.__file__).resolve().parents[2]
    if not shutil.which("git") or not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def cgroup_mode() -> str:
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return "v2"
    return "v1 (hybrid)" if (CGROUP_ROOT / "unified").is_dir() else "v1"


# --- main ---------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/create.py",
        description="Time nestkube create/delete; measure a single-node cluster's memory.",
    )
    parser.add_argument("--runs", type=int, default=3, help="creates per shape (default 3)")
    parser.add_argument("--provider", choices=["podman", "docker"], default=None)
    parser.add_argument(
        "--shapes",
        type=parse_shapes,
        default=parse_shapes("single,1+2"),
        help="comma-separated: 'single' or CONTROL_PLANES+WORKERS (default single,1+2)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument(
        "--save", metavar="FILE", type=Path, help="also write the JSON report to FILE"
    )
    parser.add_argument("--image", default=DEFAULT_IMAGE, help=f"node image ({DEFAULT_IMAGE})")
    parser.add_argument(
        "--idle",
        type=float,
        default=30.0,
        help="seconds after Ready for the second memory sample (default 30; 0: only at Ready)",
    )
    parser.add_argument(
        "--memory-all", action="store_true", help="sample memory of multi-node shapes too"
    )
    parser.add_argument(
        "--no-memory", action="store_true", help="do not sample memory (no idle wait)"
    )
    parser.add_argument("--wait", type=float, default=300.0, help="Ready timeout per create")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="hide nestkube's per-step progress"
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    try:
        provider = get_provider(args.provider)
    except NestkubeError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    if not provider.image_exists(args.image):
        print(
            f"bench: node image {args.image} not found in {provider.info.name}; build it with "
            f"`nestkube build node-image --provider {provider.info.name} --offline`",
            file=sys.stderr,
        )
        return 2
    k8s_version = provider.image_labels(args.image).get(LABEL_K8S_VERSION, "?")
    image_id = provider.image_id(args.image)
    image_size = _engine(
        provider.info.binary, "image", "inspect", "--format", "{{.Size}}", args.image
    )
    revision = source_revision()
    prefix = f"bench-{secrets.token_hex(3)}"
    started = datetime.datetime.now(datetime.UTC)
    shapes: list[Shape] = args.shapes
    runs: list[Run] = []
    interrupted = False
    with tempfile.TemporaryDirectory(prefix="nestkube-bench-") as tmp:
        kubeconfig = str(Path(tmp) / "kubeconfig")
        # Belt and braces: the explicit path is passed everywhere, but nothing in this process
        # may fall back to ~/.kube/config either.
        os.environ["KUBECONFIG"] = kubeconfig
        try:
            for i in range(1, args.runs + 1):
                for shape in shapes:
                    run = Run(shape.label, i, f"{prefix}-{shape.slug}-{i}")
                    runs.append(run)
                    progress(
                        f"{shape.label} run {i}/{args.runs}: creating {run.cluster} "
                        f"({shape.describe()}) on {provider.info.name}"
                    )
                    memory = not args.no_memory and (shape.nodes == 1 or args.memory_all)
                    try:
                        one_run(
                            provider,
                            shape,
                            run,
                            prefix=prefix,
                            image=args.image,
                            kubeconfig=kubeconfig,
                            wait=args.wait,
                            idle=args.idle,
                            memory=memory,
                            quiet=args.quiet,
                        )
                    except Exception as exc:  # recorded; the other runs still go ahead
                        run.error = f"{type(exc).__name__}: {exc}"
                        progress(f"{run.cluster}: FAILED: {exc}")
        except KeyboardInterrupt:
            interrupted = True
            progress("interrupted: cleaning up and reporting the runs that finished")
        finally:
            # Anything of ours still there (an interrupt between create and delete, say).
            with contextlib.suppress(NestkubeError):
                for name in provider.list_clusters():
                    if name.startswith(prefix + "-"):
                        progress(f"removing leftover cluster {name}")
                        delete(provider, name, kubeconfig, Status(quiet=True))
    for run in runs:
        if not run.ok and run.error is None:
            run.error = "interrupted"
    report = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "duration_seconds": round((datetime.datetime.now(datetime.UTC) - started).total_seconds()),
        "nestkube_version": nestkube.__version__,
        "nestkube_revision": revision,
        "runs_per_shape": args.runs,
        "interrupted": interrupted,
        "environment": {
            "provider": provider.info.name,
            "engine_version": provider.info.version,
            "rootless": provider.info.rootless,
            "kubernetes_version": k8s_version,
            "image": args.image,
            "image_id": image_id,
            "image_size_mb": (
                round(int(image_size.strip()) / 1e6)
                if image_size and image_size.strip().isdigit()
                else None
            ),
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
            "cgroup": cgroup_mode(),
            "memory_total_mib": os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // MIB,
        },
        "summary": [summarize(shape, runs) for shape in shapes],
        "runs": [asdict(r) for r in runs],
    }
    document = json.dumps(_jsonable(report), indent=2) + "\n"
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(document)
    if args.json:
        sys.stdout.write(document)
    else:
        sys.stdout.write(render(report))
    if interrupted:
        return 130
    return 0 if all(r.ok for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
