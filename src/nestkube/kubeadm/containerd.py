"""Render containerd's config (``version = 2``) for a node, with user patches.

Every node gets config version 2, also where it runs containerd 2: containerd 2 migrates it at
start-up (checked with ``containerd config dump`` in the end-to-end tests), so the patches users
write for kind (``[plugins."io.containerd.grpc.v1.cri"]``) work on every node image.

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
) -> str:
    """containerd's ``config.toml`` for a node container.

    ``restrict_oom_score_adj`` must be set wherever lowering oom_score_adj is forbidden
    (rootless engines, and hosts whose CAP_SYS_RESOURCE is ineffective): the kubelet asks
    for -998 for critical pods and runc fails every sandbox otherwise.

    ``disable_apparmor`` defaults to True: AppArmor profiles are not namespaced, so a
    containerd in a node container would load its profile into the host kernel (or fail
    when the node image has no apparmor_parser). Pods that name an AppArmor profile other
    than ``unconfined`` are then refused by containerd.
    """
    if cgroup_driver not in CGROUP_DRIVERS:
        raise ConfigError(
            f"unknown cgroup driver {cgroup_driver!r} (expected one of {', '.join(CGROUP_DRIVERS)})"
        )
    config: dict[str, Any] = {
        "version": 2,
        "plugins": {
            CRI_PLUGIN: {
                "sandbox_image": sandbox_image,
                "restrict_oom_score_adj": restrict_oom_score_adj,
                "disable_apparmor": disable_apparmor,
                # Node containers often get a cgroup tree without the hugetlb controller.
                "tolerate_missing_hugetlb_controller": True,
                "containerd": {
                    "snapshotter": snapshotter,
                    "default_runtime_name": "runc",
                    # Preloaded images cannot be pulled again (there may be no registry), so
                    # their compressed layers must stay in the content store.
                    "discard_unpacked_layers": False,
                    "runtimes": {
                        "runc": {
                            "runtime_type": "io.containerd.runc.v2",
                            "options": {"SystemdCgroup": cgroup_driver == "systemd"},
                        }
                    },
                },
                "cni": {"bin_dir": "/opt/cni/bin", "conf_dir": "/etc/cni/net.d"},
            }
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
