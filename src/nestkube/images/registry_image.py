"""The registry's image: the CNCF distribution registry built from its Go module by the kit
(:mod:`nestkube.kit.registry`), in an image of its own with nothing else but its config and
the host's CA bundle (for a pull-through cache of an https upstream).

The image is written as an archive with no engine (:mod:`nestkube.oci.archive`) and loaded;
its tag is the content key of the binary and the config, so it is built once per engine.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from nestkube._version import __version__
from nestkube.cache import content_key, file_sha256
from nestkube.images.node_image import LABEL_BUILD_KEY, LABEL_BUILDER, LABEL_COMPONENTS
from nestkube.kit.gomod import build_module
from nestkube.kit.registry import REGISTRY_BUILD
from nestkube.kit.toolchain import modules_toolchain
from nestkube.kubeadm.registries import REGISTRY_PORT
from nestkube.oci.archive import ImageSpec, Layer, write_image_archive
from nestkube.providers.base import ImageProvider
from nestkube.status import SILENT, Status

REPOSITORY = "localhost/nestkube/registry"
RECIPE = "registry-1"
CONFIG_PATH = "/etc/distribution/config.yml"
STORAGE = "/var/lib/registry"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# Logs every request at info level ("response completed" with its URI), which is how a
# mirror's use is seen (`nestkube registry logs` / `podman logs`).
CONFIG = f"""\
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {STORAGE}
  delete:
    enabled: true
http:
  addr: :{REGISTRY_PORT}
"""
ENTRYPOINT = ["/bin/registry", "serve", CONFIG_PATH]


@dataclass(frozen=True)
class RegistryImage:
    image: str
    version: str
    reused: bool


def ensure_registry_image(provider: ImageProvider, status: Status = SILENT) -> RegistryImage:
    """The registry image in this engine, built (and its binary compiled) when absent."""
    binaries = build_module(REGISTRY_BUILD, modules_toolchain(), status)
    binary = binaries.path("registry")
    ca = CA_BUNDLE if CA_BUNDLE.is_file() else None
    key = content_key(
        [RECIPE, file_sha256(binary), CONFIG, ENTRYPOINT, file_sha256(ca) if ca else ""]
    )
    target = f"{REPOSITORY}:{REGISTRY_BUILD.version}-{key[:12]}"
    if provider.image_exists(target):
        return RegistryImage(target, REGISTRY_BUILD.version, reused=True)
    with (
        status.step(f"Building the registry image {target}"),
        tempfile.TemporaryDirectory(prefix="nestkube-registry-") as tmp,
    ):
        config = Path(tmp) / "config.yml"
        config.write_text(CONFIG)
        layer = (
            Layer()
            .add_file("/bin/registry", binary)
            .add_file(CONFIG_PATH, config, 0o644)
            .add_dir(STORAGE)
            .add_dir("/tmp", 0o1777)
        )
        if ca is not None:
            layer.add_file("/etc/ssl/certs/ca-certificates.crt", ca, 0o644)
        labels = {
            LABEL_COMPONENTS: f"distribution={REGISTRY_BUILD.version}",
            LABEL_BUILD_KEY: key,
            LABEL_BUILDER: __version__,
        }
        archive = Path(tmp) / "registry.tar"
        write_image_archive(
            ImageSpec(tags=[target], layers=[layer], entrypoint=ENTRYPOINT, labels=labels),
            archive,
        )
        provider.load_image_archive(archive)
    return RegistryImage(target, REGISTRY_BUILD.version, reused=False)
