"""Scenario, on every engine: `nestkube delete cluster` removes a single-node and a multi-node
cluster whole (containers, volumes, network, kubeconfig entries), and deleting a cluster that
is not there succeeds. It deletes the engine's shared clusters, so it runs after every other
test of that engine (stage 2)."""

from __future__ import annotations

import pytest
from support import SharedClusters, Variant, engine_leftovers, nk, variants

from nestkube import kubeconfig

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("variant", variants("single", "multi", stage=2))
def test_delete_leaves_nothing(
    variant: Variant, request: pytest.FixtureRequest, shared_clusters: SharedClusters
) -> None:
    path = str(shared_clusters.kubeconfig)
    for shape, name in (("single", variant.single), ("multi", variant.multi)):
        shared_clusters.get(request, variant, shape)
        assert kubeconfig.has_entries(name, path)
        assert engine_leftovers(variant.engine, name)["containers"]
        delete = ("delete", "cluster", "--name", name, "--provider", variant.engine)
        nk(*delete, "--kubeconfig", path)
        assert engine_leftovers(variant.engine, name) == {
            "containers": [],
            "volumes": [],
            "networks": [],
        }, name
        assert not kubeconfig.has_entries(name, path)
        # Deleting a cluster that does not exist succeeds.
        assert nk(*delete, "--kubeconfig", path).returncode == 0
