"""Kubernetes versions as comparable values, and the kubeadm config API each one speaks."""

from __future__ import annotations

import re
from dataclasses import dataclass

from nestkube.errors import ConfigError

_VERSION_RE = re.compile(
    r"^v?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)

KUBEADM_V1BETA2 = "kubeadm.k8s.io/v1beta2"
KUBEADM_V1BETA3 = "kubeadm.k8s.io/v1beta3"
KUBEADM_V1BETA4 = "kubeadm.k8s.io/v1beta4"


@dataclass(frozen=True)
class KubeVersion:
    """A parsed ``vMAJOR.MINOR.PATCH[-PRE]``; build metadata is dropped, as semver ignores it."""

    major: int
    minor: int
    patch: int
    pre: tuple[int | str, ...] = ()

    def _key(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        # A release sorts after its own pre-releases; numeric identifiers sort before
        # alphanumeric ones (semver 2.0 rules), so "rc.10" > "rc.9" and "alpha" < "beta".
        pre_key = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in self.pre)
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre_key)

    def __lt__(self, other: KubeVersion) -> bool:
        return self._key() < other._key()

    def __le__(self, other: KubeVersion) -> bool:
        return self._key() <= other._key()

    def __gt__(self, other: KubeVersion) -> bool:
        return self._key() > other._key()

    def __ge__(self, other: KubeVersion) -> bool:
        return self._key() >= other._key()

    def at_least(self, major: int, minor: int) -> bool:
        """Whether this version belongs to minor release ``major.minor`` or a later one.

        Compares the minor release only, so ``1.23.0-rc.1`` counts as 1.23: API and flag
        changes land before a minor's first release candidate.
        """
        return (self.major, self.minor) >= (major, minor)

    def __str__(self) -> str:
        text = f"v{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            text += "-" + ".".join(str(p) for p in self.pre)
        return text


def parse_version(text: str) -> KubeVersion:
    """Parse ``"v1.20.2"`` or ``"1.29.0-rc.1"``; anything else raises :class:`ConfigError`."""
    match = _VERSION_RE.match(text.strip())
    if match is None:
        raise ConfigError(f"not a Kubernetes version: {text!r} (expected e.g. v1.29.0)")
    pre: tuple[int | str, ...] = ()
    if match["pre"]:
        pre = tuple(int(p) if p.isdigit() else p for p in match["pre"].split("."))
    return KubeVersion(int(match["major"]), int(match["minor"]), int(match["patch"]), pre)


def as_version(version: str | KubeVersion) -> KubeVersion:
    return version if isinstance(version, KubeVersion) else parse_version(version)


def kubeadm_api_version(version: str | KubeVersion) -> str:
    """The kubeadm config ``apiVersion`` nestkube renders for ``version``."""
    v = as_version(version)
    if not v.at_least(1, 23):
        return KUBEADM_V1BETA2
    if not v.at_least(1, 36):
        return KUBEADM_V1BETA3
    return KUBEADM_V1BETA4
