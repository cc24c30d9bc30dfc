"""nerdctl has no `import` (checked against nerdctl v2.0.4): a root filesystem tar is loaded
as the one layer of an image archive."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from nestkube.providers.base import ProviderInfo
from nestkube.providers.nerdctl import NerdctlProvider

from .fakes import RESTRICTED_HOST, FakeEngine


def test_import_rootfs_loads_a_one_layer_archive(fake_engine: FakeEngine, tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs.tar"
    with tarfile.open(rootfs, "w") as tar:
        data = b"bookworm\n"
        info = tarfile.TarInfo("etc/debian_version")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    seen: dict[str, object] = {}

    def capture(argv: list[str]) -> tuple[int, str, str] | None:
        if argv[1:2] == ["load"]:
            with tarfile.open(argv[argv.index("--input") + 1]) as tar:
                manifest = tar.extractfile("manifest.json")
                assert manifest is not None
                seen["manifest"] = json.loads(manifest.read())
            return 0, "", ""
        return None

    fake_engine.handlers.insert(0, capture)
    provider = NerdctlProvider(ProviderInfo("nerdctl", "nerdctl", "v2.0.4", False, RESTRICTED_HOST))
    provider.import_rootfs(rootfs, "localhost/nestkube/debian-base:x")
    assert fake_engine.commands("import") == []
    assert [c[1] for c in fake_engine.calls] == ["load"]
    manifest = seen["manifest"]
    assert isinstance(manifest, list)
    assert manifest[0]["RepoTags"] == ["localhost/nestkube/debian-base:x"]
    assert len(manifest[0]["Layers"]) == 1
