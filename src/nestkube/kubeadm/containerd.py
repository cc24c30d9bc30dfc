"""Render containerd's config for a node, with user patches.

containerd 1.x reads config ``version = 2`` (one CRI plugin); containerd 2.x reads ``version = 3``,
where the CRI settings are split between the images and runtime plugins. Both are rendered from
the same settings, so a node's behaviour does not depend on which containerd its image holds.

TOML patches (``containerdConfigPatches``) merge into the rendered config: tables merge
recursively, everything else (scalars, arrays) replaces. RFC 6902 patches
(``containerdConfigPatchesJSON6902``) then edit the config as if it were a JSON document.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from typing import Any

import tomli_w

from nestkube.errors import ConfigError
from nestkube.kubeadm.config import CGROUP_DRIVERS
from nestkube.kubeadm.patches import apply_json_patch, parse_json_patch

CRI_PLUGIN = "io.containerd.grpc.v1.cri"
CRI_IMAGES_PLUGIN = "io.containerd.cri.v1.images"
CRI_RUNTIME_PLUGIN = "io.containerd.cri.v1.runtime"
CONFIG_VERSIONS = (2, 3)
TOML_LABEL = "containerdConfigPatches"
JSON6902_LABEL = "containerdConfigPatchesJSON6902"


def render_containerd_config(
    *,
    restrict_oom_score_adj: bool,
    cgroup_driver: str,
    sandbox_image: str,
    snapshotter: str = "overlayfs",
    disable_apparmor: bool = True,
    patches: Sequence[str] = (),
    json6902: Sequence[str] = (),
    config_version: int = 2,
) -> str:
    """containerd's ``config.toml`` for a node container.

    ``restrict_oom_score_adj`` must be set wherever lowering oom_score_adj is forbidden
    (rootless engines, and hosts whose CAP_SYS_RESOURCE is ineffective): the kubelet asks
    for -998 for critical pods and runc fails every sandbox otherwise.

    ``disable_apparmor`` defaults to True: AppArmor profiles are not namespaced, so a
    containerd in a node container would load its profile into the host kernel (or fail
    when the node image has no apparmor_parser). Pods that name an AppArmor profile other
    than ``unconfined`` are then refused by containerd.

    ``config_version`` is 2 for containerd 1.x and 3 for containerd 2.x (see
    :func:`config_version_for`).
    """
    if cgroup_driver not in CGROUP_DRIVERS:
        raise ConfigError(
            f"unknown cgroup driver {cgroup_driver!r} (expected one of {', '.join(CGROUP_DRIVERS)})"
        )
    if config_version not in CONFIG_VERSIONS:
        raise ConfigError(f"unsupported containerd config version {config_version}")
    runc = {
        "runtime_type": "io.containerd.runc.v2",
        "options": {"SystemdCgroup": cgroup_driver == "systemd"},
    }
    runtime_settings: dict[str, Any] = {
        "restrict_oom_score_adj": restrict_oom_score_adj,
        "disable_apparmor": disable_apparmor,
        # Node containers often get a cgroup tree without the hugetlb controller.
        "tolerate_missing_hugetlb_controller": True,
    }
    config: dict[str, Any]
    if config_version == 2:
        config = {
            "version": 2,
            "plugins": {
                CRI_PLUGIN: {
                    "sandbox_image": sandbox_image,
                    **runtime_settings,
                    "containerd": {
                        "snapshotter": snapshotter,
                        "default_runtime_name": "runc",
                        # Preloaded images cannot be pulled again (there may be no registry),
                        # so their compressed layers must stay in the content store.
                        "discard_unpacked_layers": False,
                        "runtimes": {"runc": runc},
                    },
                    "cni": {"bin_dir": "/opt/cni/bin", "conf_dir": "/etc/cni/net.d"},
                }
            },
        }
    else:
        config = {
            "version": 3,
            "plugins": {
                CRI_IMAGES_PLUGIN: {
                    "snapshotter": snapshotter,
                    "discard_unpacked_layers": False,
                    "pinned_images": {"sandbox": sandbox_image},
                },
                CRI_RUNTIME_PLUGIN: {
                    **runtime_settings,
                    "containerd": {"default_runtime_name": "runc", "runtimes": {"runc": runc}},
                    "cni": {"bin_dirs": ["/opt/cni/bin"], "conf_dir": "/etc/cni/net.d"},
                },
            },
        }
    for i, text in enumerate(patches):
        label = f"{TOML_LABEL}[{i}]"
        try:
            patch = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{label}: not valid TOML: {' '.join(str(e).split())}") from None
        config = merge_tables(config, patch)
    for i, text in enumerate(json6902):
        label = f"{JSON6902_LABEL}[{i}]"
        result = apply_json_patch(config, parse_json_patch(text, label), label)
        if not isinstance(result, dict):
            raise ConfigError(f"{label}: the patched config is no longer a table")
        _check_writable(result, label)
        config = result
    return tomli_w.dumps(config)


def merge_tables(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Merge TOML table ``patch`` into ``base``: tables recursively, other values replace."""
    out = dict(base)
    for key, value in patch.items():
        old = out.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            out[key] = merge_tables(old, value)
        else:
            out[key] = value
    return out


def _check_writable(config: dict[str, Any], label: str) -> None:
    try:
        tomli_w.dumps(config)
    except (TypeError, ValueError) as e:
        # TOML has no null: a JSON patch can add one, and tomli_w says so only by type.
        raise ConfigError(f"{label}: the result cannot be written as TOML: {e}") from None


def config_version_for(containerd_version: str) -> int:
    """The config version a containerd release reads best: 3 from containerd 2.0 on."""
    major = containerd_version.lstrip("v").split(".", 1)[0]
    return 3 if major.isdigit() and int(major) >= 2 else 2
