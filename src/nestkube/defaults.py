"""Defaults the CLI's help shows, and names the doctor shares, in a module that imports nothing.

The CLI builds every command's help when it starts; reading these from their owners (the kit,
the conformance runner) would import those, and every command would pay for it. The owners
re-export them from here, so each is still written once. The doctor runs before every
create, so it reads the runners' names here rather than importing `nestkube.runners`.
"""

from __future__ import annotations

# The Kubernetes release nestkube builds and boots by default (nestkube.kit.releases).
DEFAULT_KUBERNETES_VERSION = "v1.37.2"
# ginkgo's --focus when none is given (nestkube.conformance.run).
CONFORMANCE_FOCUS = r"\[Conformance\]"
# The runners' definitions file, under the user's config home ($XDG_CONFIG_HOME or
# ~/.config) (nestkube.runners.model; the doctor looks there too).
RUNNERS_FILE = "nestkube/runners.yaml"
# A helm to use instead of the one on PATH (nestkube.runners.tools; the doctor checks it).
HELM_ENV = "NESTKUBE_HELM"
