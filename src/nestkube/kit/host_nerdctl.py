"""A host nerdctl built from Go modules, for the nerdctl provider where no package has it.

Debian packages neither nerdctl nor containerd 2. This set is nerdctl at its pinned release
(kit/releases.py) on the containerd, runc and CNI plugins of the default Kubernetes release's
node runtime: the same cached builds the node image uses, plus the two CNI plugins nerdctl's
bridge networks chain (firewall, tuning). The end-to-end tests run it with a private root
(tests/e2e/engines.py); ``python -m nestkube.kit.host_nerdctl install`` (what
scripts/install-nerdctl.sh runs) installs it for users.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from nestkube.kit.gomod import build_module
from nestkube.kit.releases import (
    DEFAULT_KUBERNETES_VERSION,
    HOST_CNI_PLUGINS,
    cni_plugins_build,
    containerd_build,
    nerdctl_build,
    runc_build,
    runtime_for,
)
from nestkube.kit.toolchain import modules_toolchain
from nestkube.status import SILENT, Status

CONTAINERD_COMMANDS = ("containerd", "containerd-shim-runc-v2", "ctr")
# containerd's CRI plugins serve a kubelet; a host engine for nerdctl has none.
CRI_PLUGINS = (
    "io.containerd.grpc.v1.cri",
    "io.containerd.cri.v1.images",
    "io.containerd.cri.v1.runtime",
)


@dataclass(frozen=True)
class HostNerdctl:
    nerdctl: Path
    containerd_dir: Path  # containerd, containerd-shim-runc-v2, ctr
    runc: Path
    cni_dir: Path
    versions: dict[str, str]


def build_host_nerdctl(status: Status = SILENT) -> HostNerdctl:
    """nerdctl, containerd, runc and the CNI plugins, from the kit's cache or built now."""
    toolchain = modules_toolchain()
    runtime = runtime_for(DEFAULT_KUBERNETES_VERSION)
    nerdctl = build_module(nerdctl_build(), toolchain, status)
    containerd = build_module(containerd_build(runtime), toolchain, status)
    runc = build_module(runc_build(runtime), toolchain, status)
    cni = build_module(cni_plugins_build(runtime, HOST_CNI_PLUGINS), toolchain, status)
    return HostNerdctl(
        nerdctl=nerdctl.path("nerdctl"),
        containerd_dir=containerd.directory,
        runc=runc.path("runc"),
        cni_dir=cni.directory,
        versions={
            "nerdctl": nerdctl.build.version,
            "containerd": runtime.containerd,
            "runc": runtime.runc,
            "cni-plugins": runtime.cni_plugins,
        },
    )


def containerd_config(*, root: Path, state: Path, address: Path) -> str:
    """containerd's config.toml for a host engine with its own root, state and socket."""
    config = {
        "version": 3,
        "root": str(root),
        "state": str(state),
        "disabled_plugins": list(CRI_PLUGINS),
        "grpc": {"address": str(address)},
        "ttrpc": {"address": f"{address}.ttrpc"},
    }
    return tomli_w.dumps(config)


def nerdctl_toml(*, address: Path, data_root: Path, cni_path: Path, netconf: Path) -> str:
    """nerdctl.toml (read from $NERDCTL_TOML) that points nerdctl at one containerd."""
    return tomli_w.dumps(
        {
            "address": str(address),
            "data_root": str(data_root),
            "cni_path": str(cni_path),
            "cni_netconfpath": str(netconf),
        }
    )


def install(prefix: Path, etc: Path, status: Status = SILENT) -> list[Path]:
    """Copy the set into ``prefix``/bin and ``prefix``/libexec/cni; nerdctl.toml into ``etc``.

    containerd keeps its defaults (/var/lib/containerd, /run/containerd); nerdctl.toml only
    tells nerdctl where the CNI plugins are.
    """
    host = build_host_nerdctl(status)
    bin_dir, cni_dir = prefix / "bin", prefix / "libexec" / "cni"
    bin_dir.mkdir(parents=True, exist_ok=True)
    cni_dir.mkdir(parents=True, exist_ok=True)
    sources = [host.nerdctl, host.runc, *(host.containerd_dir / c for c in CONTAINERD_COMMANDS)]
    written = [Path(shutil.copy2(src, bin_dir / src.name)) for src in sources]
    written += [Path(shutil.copy2(p, cni_dir / p.name)) for p in sorted(host.cni_dir.iterdir())]
    toml = etc / "nerdctl" / "nerdctl.toml"
    if not toml.exists():
        toml.parent.mkdir(parents=True, exist_ok=True)
        toml.write_text(tomli_w.dumps({"cni_path": str(cni_dir)}))
        written.append(toml)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nestkube.kit.host_nerdctl")
    sub = parser.add_subparsers(dest="command", required=True)
    inst = sub.add_parser("install", help="build nerdctl, containerd, runc, CNI plugins; install")
    inst.add_argument("--prefix", type=Path, default=Path("/usr/local"))
    inst.add_argument("--etc", type=Path, default=Path("/etc"))
    args = parser.parse_args(argv)
    for path in install(args.prefix, args.etc, Status(verbosity=1)):
        print(path)
    print(
        f"start containerd (e.g. `{args.prefix}/bin/containerd &`, or as a service), "
        "then `nerdctl info`; nestkube uses it with --provider nerdctl",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
