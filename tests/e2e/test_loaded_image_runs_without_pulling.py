"""Scenario, on every engine: `nestkube load image` puts an image that only the engine (or
another engine) holds into every node of a cluster, a pod runs it with imagePullPolicy Never,
and loading it again skips every node. Into Docker from Podman, into Podman from Docker, into
rootful nerdctl from nerdctl, into CRI-O nodes from Podman."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from engines import busybox_loaded_into
from support import (
    SharedClusters,
    Variant,
    nk,
    ready_nodes,
    run_pod_never_pull,
    scenario_kubectl,
    variants,
)

from nestkube.providers.engine import CliProvider

pytestmark = pytest.mark.e2e

# Target variant -> (the engine fixture the image is made in, the cluster's shape).
SOURCES = {
    "docker": ("podman_engine", "multi"),
    "podman": ("docker", "single"),
    "nerdctl": ("nerdctl", "multi"),
    "crio": ("podman_engine", "multi"),
}
CASES = [p for v in SOURCES for p in variants(SOURCES[v][1], only=(v,))]


@pytest.mark.parametrize("variant", CASES)
def test_a_loaded_image_runs_without_pulling(
    variant: Variant,
    request: pytest.FixtureRequest,
    shared_clusters: SharedClusters,
    tmp_path: Path,
) -> None:
    source_fixture, shape = SOURCES[variant.id]
    cluster = shared_clusters.get(request, variant, shape)
    kubectl = scenario_kubectl(request, variant, cluster, shared_clusters.kubeconfig)
    nodes = ready_nodes(kubectl)
    assert nodes == sorted(n.name for n in cluster.nodes)
    source: CliProvider = request.getfixturevalue(source_fixture)
    target: CliProvider = request.getfixturevalue(variant.engine_fixture)
    marker = f"built-with-{source.info.name}"
    with busybox_loaded_into(source, tmp_path, f"into-{variant.id}", marker=marker) as (tag, _):
        if source.info.name != target.info.name:
            assert not target.image_exists(tag)
        start = time.monotonic()
        first = nk("load", "image", tag, "--name", cluster.name)
        print(f"load into {len(nodes)} {variant.id} nodes: {time.monotonic() - start:.1f}s")
        assert "skipped" not in first.stderr
        # On every worker (the control plane of a single node).
        for node in nodes[1:] or nodes:
            assert run_pod_never_pull(kubectl, tag, node).strip() == marker, node
        second = nk("load", "image", tag, "--name", cluster.name)
        for node in nodes:
            assert f"image {tag} already present on node {node}, skipped" in second.stderr
