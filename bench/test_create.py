"""Unit tests of the benchmark's parsers (no engine needed): pytest bench/test_create.py."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from create import (
    MemorySample,
    NodeMemory,
    Shape,
    memory_cgroup_dir,
    parse_engine_stats,
    parse_shapes,
    parse_size,
    read_cgroup_memory,
    stat,
)

PODMAN_ID = "bd0f16f40ca3a530f518766b24b97cc7a3982bc378aa969b537d39458c2d8f20"


def test_shapes() -> None:
    assert parse_shapes("single,1+2") == [Shape("single", 1, 0), Shape("1+2", 1, 2)]
    assert parse_shapes("3+0")[0].slug == "3p0"
    for bad in ("", "two", "0+2", "single,single"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_shapes(bad)


def test_sizes() -> None:
    assert parse_size("761.1MB") == 761_100_000
    assert parse_size("1.5GiB") == 1536 * 1024 * 1024
    assert parse_size("512B") == 512
    assert parse_size("12 kB") == 12_000
    assert parse_size("lots") is None


def test_engine_stats() -> None:
    podman = '[{"name": "n", "mem_usage": "761.1MB / 25.28GB", "pids": "135"}]'
    docker = '{"Name": "n", "MemUsage": "430.2MiB / 23.54GiB"}\n'
    assert parse_engine_stats("podman", podman) == 761_100_000
    assert parse_engine_stats("docker", docker) == int(430.2 * 1024 * 1024)
    assert parse_engine_stats("podman", "not json") is None


def test_cgroup_dir_v1_walks_up_from_init_scope(tmp_path: Path) -> None:
    proc = (
        f"9:name=systemd:/libpod_parent/libpod-{PODMAN_ID}/init.scope\n"
        f"4:memory:/libpod_parent/libpod-{PODMAN_ID}/init.scope\n"
        f"0::/libpod_parent/libpod-{PODMAN_ID}/init.scope\n"
    )
    assert memory_cgroup_dir(proc, PODMAN_ID, tmp_path) == (
        tmp_path / "memory" / "libpod_parent" / f"libpod-{PODMAN_ID}"
    )
    docker = "4:memory:/docker/abc123/init.scope\n"
    assert memory_cgroup_dir(docker, "abc123", tmp_path) == tmp_path / "memory/docker/abc123"
    # No component names the container: only init.scope is dropped.
    assert memory_cgroup_dir(docker, "zzz", tmp_path) == tmp_path / "memory/docker/abc123"


def test_cgroup_dir_v2(tmp_path: Path) -> None:
    proc = "0::/system.slice/docker-abc123.scope/init.scope\n"
    assert memory_cgroup_dir(proc, "abc123", tmp_path) is None  # no cgroup2 mounted there
    (tmp_path / "cgroup.controllers").write_text("memory\n")
    assert memory_cgroup_dir(proc, "abc123", tmp_path) == (
        tmp_path / "system.slice" / "docker-abc123.scope"
    )


def test_read_cgroup_v1(tmp_path: Path) -> None:
    (tmp_path / "memory.usage_in_bytes").write_text("1000\n")
    (tmp_path / "memory.max_usage_in_bytes").write_text("1500\n")
    (tmp_path / "memory.stat").write_text("cache 5\ntotal_rss 600\ntotal_inactive_file 300\n")
    sample = NodeMemory("n")
    read_cgroup_memory(tmp_path, sample)
    assert (sample.usage, sample.peak, sample.rss, sample.working_set) == (1000, 1500, 600, 700)


def test_totals_and_stats() -> None:
    sample = MemorySample("ready", 0.0, [NodeMemory("a", usage=1), NodeMemory("b", usage=2)])
    assert sample.total("usage") == 3
    assert sample.total("peak") is None
    summary = stat([3.0, 1.0, 2.0])
    assert summary is not None and (summary.median, summary.min, summary.max) == (2.0, 1.0, 3.0)
    assert stat([]) is None
