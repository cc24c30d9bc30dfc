"""What only rootful nerdctl's clusters are checked for: the engine is rootful and built from
modules, and export logs. nerdctl's clusters are the shared ones (support.SharedClusters); the
scenarios every engine runs (a Service by DNS name, a loaded image in every node, delete
leaving nothing) are in their own modules.

nerdctl and its containerd are built from Go modules and started for the session by the
``nerdctl`` fixture (conftest.py, engines.host_nerdctl); the node image is built in nerdctl
itself. Rootless nerdctl needs cgroup v2 delegation, which this host lacks: unit tests only.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import VARIANTS, SharedClusters, nk, uses

from nestkube.providers.nerdctl import NerdctlProvider

pytestmark = pytest.mark.e2e

NERDCTL = VARIANTS["nerdctl"]


def test_nerdctl_is_rootful_and_built_from_modules(nerdctl: NerdctlProvider) -> None:
    assert not nerdctl.info.rootless
    assert nerdctl.info.version.lstrip("v").startswith("2.")


@uses("nerdctl-single")
def test_nerdctl_export_logs(
    request: pytest.FixtureRequest, shared_clusters: SharedClusters, tmp_path: Path
) -> None:
    shared_clusters.get(request, NERDCTL, "single")
    node = f"{NERDCTL.single}-control-plane"
    out_dir = tmp_path / "logs"
    proc = nk("export", "logs", str(out_dir), "--name", NERDCTL.single)
    assert proc.stdout.strip() == str(out_dir)
    assert "Started" in (out_dir / node / "kubelet.log").read_text()
    for name in ("journal.log", "containerd.log", "ctr-images.txt", "inspect.json"):
        assert (out_dir / node / name).stat().st_size > 0, name
    assert (out_dir / "nerdctl-info.txt").read_text().strip()
