"""Defaults the CLI's help shows, in a module that imports nothing.

The CLI builds every command's help when it starts; reading these from their owners (the kit,
the conformance runner) would import those, and every command would pay for it. The owners
re-export them from here, so each is still written once.
"""

from __future__ import annotations

# The Kubernetes release nestkube builds and boots by default (nestkube.kit.releases).
DEFAULT_KUBERNETES_VERSION = "v1.37.2"
# ginkgo's --focus when none is given (nestkube.conformance.run).
CONFORMANCE_FOCUS = r"\[Conformance\]"
