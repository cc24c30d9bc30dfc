"""The CNCF distribution registry, built from its Go module by the kit's module builder
(``nestkube registry create`` runs it in a container; see :mod:`nestkube.images.registry_image`)."""

from __future__ import annotations

from nestkube.kit.gomod import GoModuleBuild

REGISTRY_MODULE = "github.com/distribution/distribution/v3"
REGISTRY_VERSION = "v3.1.2"
REGISTRY_BUILD = GoModuleBuild(
    name="distribution",
    module=REGISTRY_MODULE,
    version=REGISTRY_VERSION,
    commands={"registry": f"{REGISTRY_MODULE}/cmd/registry"},
    # What `registry --version` prints; unset, it says "v0.0.0+unknown".
    variables={f"{REGISTRY_MODULE}/version.version": REGISTRY_VERSION},
)
