"""Self-hosted GitHub Actions runners on a cluster: ARC's runner scale sets, installed with Helm.

``model`` is the ``RunnerSet`` file, ``render`` turns it into Helm values and manifests,
``credentials`` reads the tokens it points at, ``tools`` wraps helm and kubectl, and ``ops``
applies, removes and reports.
"""

from nestkube.runners.model import (
    MODES,
    RunnerDoc,
    RunnerFile,
    RunnerSetDoc,
    default_file,
    load,
    save,
)
from nestkube.runners.ops import RunnersError, down, status_report, up
from nestkube.runners.render import node_mounts

__all__ = [
    "MODES",
    "RunnerDoc",
    "RunnerFile",
    "RunnerSetDoc",
    "RunnersError",
    "default_file",
    "down",
    "load",
    "node_mounts",
    "save",
    "status_report",
    "up",
]
