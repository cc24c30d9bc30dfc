"""helm, built from its Go module by the kit's module builder (``nestkube runners`` installs
ARC with it; the doctor checks for it). Here, below both, so the doctor need not import
:mod:`nestkube.runners`."""

from __future__ import annotations

from nestkube.kit.gomod import GoModuleBuild

HELM_MODULE = "helm.sh/helm/v3"
HELM_VERSION = "v3.22.0"
HELM_BUILD = GoModuleBuild(
    name="helm",
    module=HELM_MODULE,
    version=HELM_VERSION,
    commands={"helm": f"{HELM_MODULE}/cmd/helm"},
    # What `helm version` prints; unset, it says "v3.x-unreleased"-like defaults.
    variables={f"{HELM_MODULE}/internal/version.version": HELM_VERSION},
)
