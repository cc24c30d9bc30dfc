"""The kind-format node image's recipe: its manifests, staged files, labels and node scripts.

The scripts run with sh in scratch directories (their paths move under environment variables,
and kubectl, ip and iptables are recording fakes), so nothing on the host is touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
import tomllib
from pathlib import Path

import pytest
import yaml

from nestkube import storage
from nestkube.host import HostFacts
from nestkube.images import kind_format
from nestkube.images.kind_format import (
    CIDR_PLACEHOLDER,
    KIND_FILES,
    KIND_POD_SUBNET_FIELD,
    KIND_TEMPLATE_MARKER,
    POD_NETWORK_IMAGE,
    cni_manifest,
    is_kind_format,
)
from nestkube.images.node_image import NODE_FILES
from nestkube.kit.kind_tool import CGROUP_V1_KUBELET_PATCH, kind_build, kind_setup
from nestkube.providers.base import ProviderInfo
from nestkube.providers.facts import EngineFacts

PRELOADED = ["registry.k8s.io/etcd:3.7.0-0", "registry.k8s.io/pause:3.10.1"]


def _docs(text: str) -> list[dict[str, object]]:
    # kind fills in the Go template field before applying; do the same.
    filled = text.replace(KIND_POD_SUBNET_FIELD, "10.244.0.0/16")
    return [d for d in yaml.safe_load_all(filled) if d]


def test_cni_manifest_is_templated_by_kind_and_names_only_the_preloaded_image() -> None:
    text = cni_manifest()
    assert KIND_TEMPLATE_MARKER in text  # else kind applies {{ .PodSubnet }} literally
    docs = _docs(text)
    kinds = [d["kind"] for d in docs]
    assert kinds == ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet"]
    role = docs[1]
    # nestkube-netd lists Nodes and watches them.
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]}
    ]
    spec = docs[3]["spec"]["template"]["spec"]  # type: ignore[index]
    assert spec["hostNetwork"] is True
    (container,) = spec["containers"]
    assert container["image"] == POD_NETWORK_IMAGE
    assert container["imagePullPolicy"] == "Never"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["POD_SUBNET"] == "10.244.0.0/16"
    assert env["PLACEHOLDER"] == CIDR_PLACEHOLDER
    assert "/kind/bin/nestkube-pod-network" in container["command"][-1]


def test_storage_manifest_is_nestkubes_default_storage_class() -> None:
    docs = [d for d in yaml.safe_load_all(storage.manifests()) if d]
    classes = [d for d in docs if d["kind"] == "StorageClass"]
    assert [c["metadata"]["name"] for c in classes] == [storage.STORAGE_CLASS]


@pytest.mark.skipif(not storage.BUSYBOX.is_file(), reason="needs busybox-static")
def test_pod_network_image_is_busybox_with_chroot(tmp_path: Path) -> None:
    archive = kind_format.pod_network_archive(tmp_path / "pod-network.tar")
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        assert manifest[0]["RepoTags"] == [POD_NETWORK_IMAGE]


def test_staged_files_and_containerd_config(tmp_path: Path) -> None:
    in_dir, hashes = kind_format._stage(tmp_path / "a", PRELOADED)
    for name in (
        "install.sh",
        "preload-images.sh",
        "entrypoint.sh",
        "pod-network.sh",
        "kubelet-cgroups.sh",
    ):
        assert (in_dir / name).is_file()
    config = tomllib.loads((in_dir / "containerd.toml").read_text())
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == "registry.k8s.io/pause:3.10.1"
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is True
    conflist = json.loads((in_dir / "bridge.conflist").read_text())
    assert conflist["plugins"][0]["ipam"]["ranges"] == [[{"subnet": CIDR_PLACEHOLDER}]]
    # The build key is by content: staging again elsewhere gives the same hashes.
    _, again = kind_format._stage(tmp_path / "b", PRELOADED)
    assert again == hashes


def test_staging_refuses_an_image_without_pause(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="no pause image"):
        kind_format._stage(tmp_path, ["registry.k8s.io/etcd:3.7.0-0"])


def test_format_label() -> None:
    assert is_kind_format({kind_format.LABEL_FORMAT: "kind"})
    assert not is_kind_format({})


# --- node scripts ------------------------------------------------------------------------------
NETD = NODE_FILES / "nestkube-netd"


def _fake(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def test_entrypoint_prepares_cgroup_v1_roots(tmp_path: Path) -> None:
    root = tmp_path / "root"
    cgroup = root / "sys/fs/cgroup"
    for hierarchy in ("cpu,cpuacct", "cpuset", "memory", "systemd"):
        (cgroup / hierarchy).mkdir(parents=True)
    (cgroup / "cpu").symlink_to("cpu,cpuacct")
    (cgroup / "cpuset/cpuset.cpus").write_text("0-1\n")
    (cgroup / "cpuset/cpuset.mems").write_text("0\n")
    (root / "etc/containerd").mkdir(parents=True)
    config = root / "etc/containerd/config.toml"
    config.write_text("[x]\n  restrict_oom_score_adj = false\n")
    _fake(tmp_path, "next", 'echo "next $*"\n')
    proc = subprocess.run(
        ["sh", str(KIND_FILES / "entrypoint.sh"), "a", "b"],
        env={**os.environ, "NESTKUBE_ROOT": str(root), "NESTKUBE_NEXT": str(tmp_path / "next")},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert proc.stdout == "next a b\n"
    for hierarchy in ("cpu,cpuacct", "cpuset", "memory", "systemd"):
        for group in ("kubelet", "kubelet.slice"):
            assert (cgroup / hierarchy / group).is_dir()
    assert not (cgroup / "cpu/kubelet").resolve().parent.is_symlink()
    assert (cgroup / "cpuset/kubelet/cpuset.cpus").read_text() == "0-1\n"
    # containerd clamps oom_score_adj exactly where lowering it fails here.
    can_lower = subprocess.run(["sh", "-c", "echo -999 >/proc/self/oom_score_adj"]).returncode == 0
    want = "false" if can_lower else "true"
    assert f"restrict_oom_score_adj = {want}" in config.read_text()


def test_kubelet_cgroups_on_v2_delegates_controllers(tmp_path: Path) -> None:
    # The kernel gives every new group a cgroup.controllers; the scratch tree has them ready.
    for group in ("", "kubelet", "kubelet.slice"):
        (tmp_path / group).mkdir(exist_ok=True)
        (tmp_path / group / "cgroup.controllers").write_text("cpu memory pids\n")
    subprocess.run(
        ["sh", str(KIND_FILES / "kubelet-cgroups.sh")],
        env={**os.environ, "NESTKUBE_CGROUP": str(tmp_path)},
        timeout=30,
        check=True,
    )
    # A regular file keeps only the last write; the kernel's accumulates them.
    for group in ("", "kubelet", "kubelet.slice"):
        assert (tmp_path / group / "cgroup.subtree_control").read_text() == "+pids\n"


def test_pod_network_runs_netd_on_the_assigned_pod_cidr(tmp_path: Path) -> None:
    """The kind-format pod network is nestkube-netd: the launcher makes its inputs from the
    pod CIDR the controller manager assigned, and one pass of netd writes the CNI config, a
    route to each peer that has a CIDR and an address, and the masquerade rule once."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    table = "cp||10.244.0.0/24|10.89.0.2\nw1||10.244.1.0/24|10.89.0.3\nw2|||\n"
    _fake(
        bin_dir,
        "kubectl",
        'case "$*" in *"config view"*) echo x ;; *" get node cp "*) printf 10.244.0.0/24 ;;\n'
        '  *" get nodes "*) printf "%b" "$NODES" ;; esac\n',
    )
    _fake(bin_dir, "ip", f'echo "ip $*" >>{calls}\n')
    # -C (check) fails: the rule is not there yet, so it is appended.
    _fake(bin_dir, "iptables", f'echo "iptables $*" >>{calls}\ncase "$*" in *-C*) exit 1;; esac\n')
    template = tmp_path / "bridge.conflist"
    template.write_text(json.dumps({"subnet": CIDR_PLACEHOLDER}))
    conf = tmp_path / "net.d/10.conflist"
    run = tmp_path / "run"
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "NODE_NAME": "cp",
        "POD_SUBNET": "10.244.0.0/16",
        "TOKEN": "t",
        "NODES": table,
        "RUN": str(run),
        "TEMPLATE": str(template),
        "PLACEHOLDER": CIDR_PLACEHOLDER,
        "CONF": str(conf),
        "NETD": str(NETD),
        "ONCE": "1",
    }
    subprocess.run(["sh", str(KIND_FILES / "pod-network.sh")], env=env, timeout=30, check=True)
    assert json.loads(conf.read_text()) == {"subnet": "10.244.0.0/24"}
    lines = calls.read_text().splitlines()
    assert "ip route replace 10.244.1.0/24 via 10.89.0.3" in lines
    assert not any("w2" in line for line in lines)
    appended = [line for line in lines if " -A " in line]
    assert len(appended) == 1 and "-s 10.244.0.0/24 ! -d 10.244.0.0/16" in appended[0]
    assert "    token: t" in (run / "netd.kubeconfig").read_text().splitlines()
    assert (run / "pod-network.env").read_text() == (
        "NODE_NAME=cp\nPOD_CIDR=10.244.0.0/24\nPOD_SUBNET=10.244.0.0/16\n"
    )


# --- kind itself -------------------------------------------------------------------------------
def test_kind_build_is_kinds_own_module() -> None:
    build = kind_build()
    assert (build.module, build.version) == ("sigs.k8s.io/kind", "v0.33.0")
    assert dict(build.commands) == {"kind": "sigs.k8s.io/kind"}


def test_kind_setup_on_a_restricted_cgroup_v1_host(tmp_path: Path) -> None:
    host = HostFacts(nofile_hard=20000, nproc_hard=96365)
    info = ProviderInfo("podman", "podman", "4.3.1", False, host, runtime="runc")
    setup = kind_setup(info, tmp_path, cgroup_v2=False)
    assert setup.env["KIND_EXPERIMENTAL_PROVIDER"] == "podman"
    conf = tomllib.loads(Path(setup.env["CONTAINERS_CONF"]).read_text())
    assert conf["engine"]["runtime"] == "runc"
    assert conf["containers"]["default_ulimits"] == ["nofile=16384:16384", "nproc=32768:32768"]
    config = yaml.safe_load(setup.config(control_planes=1, workers=2))
    assert [n["role"] for n in config["nodes"]] == ["control-plane", "worker", "worker"]
    assert config["kubeadmConfigPatches"] == [CGROUP_V1_KUBELET_PATCH + "\n"]
    assert any("failCgroupV1" in w for w in setup.workarounds)


def test_kind_setup_on_cgroup_v2_needs_no_kubelet_patch(tmp_path: Path) -> None:
    info = ProviderInfo("podman", "podman", "5.2.3", False, HostFacts())
    setup = kind_setup(info, tmp_path, cgroup_v2=True)
    assert "kubeadmConfigPatches" not in setup.config()
    assert "runtime" not in Path(setup.env["CONTAINERS_CONF"]).read_text()


def test_kind_setup_on_podman_cni_runs_kind_on_a_private_netavark(tmp_path: Path) -> None:
    facts = EngineFacts(provider="podman", info_ok=True, version="4.3.1", network_backend="cni")
    info = ProviderInfo.decided(facts, HostFacts(), runtime="runc")
    helpers = tmp_path / "netavark"
    setup = kind_setup(info, tmp_path / "work", cgroup_v2=True, netavark=lambda: helpers)
    conf = tomllib.loads(Path(setup.env["CONTAINERS_CONF"]).read_text())
    assert conf["network"]["network_backend"] == "netavark"
    # Its own network directory: the host's CNI networks and nestkube's stay as they are.
    assert Path(conf["network"]["network_config_dir"]).is_dir()
    assert conf["network"]["network_config_dir"].startswith(str(tmp_path / "work"))
    assert conf["engine"]["helper_binaries_dir"][0] == str(helpers)
    assert "/usr/lib/podman" in conf["engine"]["helper_binaries_dir"]
    assert conf["engine"]["runtime"] == "runc"
    assert any("netavark" in w for w in setup.workarounds)


def test_kind_setup_leaves_a_netavark_podman_alone(tmp_path: Path) -> None:
    facts = EngineFacts(
        provider="podman", info_ok=True, version="5.2.3", network_backend="netavark"
    )
    info = ProviderInfo.decided(facts, HostFacts())

    def never() -> Path:
        raise AssertionError("netavark helpers fetched for a netavark Podman")

    setup = kind_setup(info, tmp_path, cgroup_v2=True, netavark=never)
    assert "network" not in tomllib.loads(Path(setup.env["CONTAINERS_CONF"]).read_text())
