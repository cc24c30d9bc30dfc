"""Benchmark the kit: a cold and a warm build of one release's binaries and node image.

    python bench/kit.py [--version v1.37.2] [--provider podman] [--json] [--save FILE]

Cold means nothing cached at all: the run gets its own empty XDG cache and its own empty Go
module and build caches (``GOMODCACHE``, ``GOCACHE``), so every module is fetched and every
package compiled, as on a fresh machine. Warm repeats the same build with those caches filled.
Each phase is timed with the step durations nestkube's :class:`~nestkube.status.Status`
records (each module fetch and build, the debootstrap base, the image steps).

The node image is built under a throwaway tag (``localhost/nestkube/bench-node:...``) and
removed afterwards, so the user's images are never replaced; the temporary caches are removed
at the end, also on failure and on Ctrl-C or SIGTERM. The base image keeps its content name, so
when the engine already has it, the cold run does not re-import it (the report says so).

Only the standard library and nestkube itself are used: ``.venv/bin/python bench/kit.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from nestkube.images.node_image import build_node_image
from nestkube.kit.base_image import base_image_name
from nestkube.kit.kubernetes import build_from_modules
from nestkube.kit.releases import DEFAULT_KUBERNETES_VERSION
from nestkube.kit.toolchain import modules_toolchain
from nestkube.providers import get_provider
from nestkube.providers.base import Provider
from nestkube.status import Status

CACHE_VARS = ("XDG_CACHE_HOME", "GOMODCACHE", "GOCACHE")


@contextmanager
def private_caches(root: Path) -> Iterator[dict[str, str]]:
    """Point nestkube's and Go's caches at empty folders under ``root`` for the duration."""
    saved = {var: os.environ.get(var) for var in CACHE_VARS}
    paths = {var: str(root / var.lower()) for var in CACHE_VARS}
    for path in paths.values():
        Path(path).mkdir(parents=True)
    os.environ.update(paths)
    try:
        yield paths
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def _remove_tree(path: Path) -> None:
    # Go's module cache is read-only by design; make it writable so it can be removed.
    for sub in path.rglob("*"):
        if sub.is_dir() and not sub.is_symlink():
            sub.chmod(0o755)
    shutil.rmtree(path, ignore_errors=True)


def one_build(provider: Provider, version: str, image: str, status: Status) -> dict[str, Any]:
    """Kit and node image of ``version``; returns wall time and nestkube's step times."""
    start = time.monotonic()
    binaries = build_from_modules(version, status)
    kit_seconds = time.monotonic() - start
    built = build_node_image(provider, binaries, image=image, pull_missing=False, status=status)
    total = time.monotonic() - start
    return {
        "kit_seconds": round(kit_seconds, 1),
        "image_seconds": round(total - kit_seconds, 1),
        "total_seconds": round(total, 1),
        "image_reused": built.reused,
        "image_size_mb": round((built.size_bytes or 0) / 1e6),
        "steps": [{"name": name, "seconds": round(sec, 1)} for name, sec in status.timings.items()],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    provider = get_provider(args.provider)
    image = f"localhost/nestkube/bench-node:{args.version}-{secrets.token_hex(3)}"
    base_present = provider.image_exists(base_image_name())
    toolchain = modules_toolchain()
    root = Path(tempfile.mkdtemp(prefix="nestkube-bench-kit-"))
    result: dict[str, Any] = {
        "version": args.version,
        "provider": provider.info.name,
        "go": toolchain.version,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "base_image_already_in_engine": base_present,
    }
    try:
        with private_caches(root):
            for phase in ("cold", "warm"):
                print(f"bench: {phase} build of {args.version}", file=sys.stderr, flush=True)
                status = Status(quiet=args.quiet)
                result[phase] = one_build(provider, args.version, image, status)
    finally:
        provider.remove_image(image)
        _remove_tree(root)
    return result


def print_tables(result: dict[str, Any]) -> None:
    print(
        f"kit for Kubernetes {result['version']} on {result['provider']} "
        f"({result['cpus']} CPUs, {result['go']})"
    )
    for phase in ("cold", "warm"):
        data = result[phase]
        print(
            f"\n{phase}: total {data['total_seconds']:.0f}s = kit {data['kit_seconds']:.0f}s "
            f"+ node image {data['image_seconds']:.0f}s ({data['image_size_mb']} MB)"
        )
        for step in data["steps"]:
            print(f"  {step['seconds']:8.1f}s  {step['name']}")
    if result["base_image_already_in_engine"]:
        print("\n(the debootstrap base image was already in the engine: its import was skipped)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", default=DEFAULT_KUBERNETES_VERSION)
    parser.add_argument("--provider", default=None, help="podman or docker (default: as nestkube)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--save", type=Path, help="also write the JSON document here")
    parser.add_argument("-q", "--quiet", action="store_true", help="hide per-step progress")
    args = parser.parse_args(argv)

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    try:
        result = run(args)
    except KeyboardInterrupt:
        print("bench: interrupted; temporary caches and the bench image removed", file=sys.stderr)
        return 130
    if args.save:
        args.save.write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_tables(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
