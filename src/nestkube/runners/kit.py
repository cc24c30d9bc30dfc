"""ARC's controller (helm is in :mod:`nestkube.kit.helm`), built from its Go module by the
kit's module builder.

ARC is pinned here, once: the module version, the charts inside that module, and the image
tag the controller chart expects all follow from :data:`ARC_VERSION`. The Go module proxy
serves ``github.com/actions/actions-runner-controller`` at only a few versions; v0.27.6 is the
newest one that it serves and whose module holds the ``gha-runner-scale-set`` charts
(0.6.1). v0.28 and later answer 403, and v0.9.3 (served too) predates those charts.
"""

from __future__ import annotations

from pathlib import Path

from nestkube.kit.gomod import GoBinaries, GoModuleBuild, build_module, module_dir
from nestkube.kit.helm import HELM_BUILD as HELM_BUILD
from nestkube.kit.helm import HELM_MODULE as HELM_MODULE
from nestkube.kit.helm import HELM_VERSION as HELM_VERSION
from nestkube.kit.toolchain import GoToolchain, modules_toolchain
from nestkube.status import SILENT, Status

ARC_MODULE = "github.com/actions/actions-runner-controller"
ARC_VERSION = "v0.27.6"
# The charts' version (Chart.yaml) in that module; also the controller image's tag, since
# the controller chart defaults image.tag to its appVersion.
ARC_CHART_VERSION = "0.6.1"
ARC_BUILD = GoModuleBuild(
    name="arc",
    module=ARC_MODULE,
    version=ARC_VERSION,
    # The controller starts listener pods from its own image and runs this listener binary
    # in them, so the image carries both (the names ARC's own image uses).
    commands={
        "manager": ARC_MODULE,
        "github-runnerscaleset-listener": f"{ARC_MODULE}/cmd/githubrunnerscalesetlistener",
    },
    variables={f"{ARC_MODULE}/build.Version": ARC_CHART_VERSION},
)
# Where the module keeps ARC's charts (each with its CRDs under crds/).
ARC_CHARTS_DIR = "charts"


def helm_binary(status: Status = SILENT, toolchain: GoToolchain | None = None) -> Path:
    """A helm built from its module (cached by content)."""
    built = build_module(HELM_BUILD, toolchain or modules_toolchain(), status)
    return built.path("helm")


def arc_binaries(status: Status = SILENT, toolchain: GoToolchain | None = None) -> GoBinaries:
    return build_module(ARC_BUILD, toolchain or modules_toolchain(), status)


def arc_module_dir(toolchain: GoToolchain | None = None) -> Path:
    """ARC's module files in Go's module cache (downloaded if needed): its charts and CRDs."""
    return module_dir(ARC_BUILD, toolchain or modules_toolchain())


def arc_chart_dir(toolchain: GoToolchain | None = None) -> Path:
    """The module's charts folder: what ``runners up --chart-dir`` takes."""
    return arc_module_dir(toolchain) / ARC_CHARTS_DIR
