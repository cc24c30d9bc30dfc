"""iptables modules (loaded, built in, no module support) and the sysctl checks."""

from __future__ import annotations

from pathlib import Path

from doctor_fixtures import FakeHost, check, context, podman_info

ALL = ("ip_tables", "iptable_nat", "ip6_tables", "ip6table_nat")


def test_modules_loaded(tmp_path: Path) -> None:
    f = check(context(FakeHost.healthy(tmp_path)), "kernel.iptables-modules")
    assert f.status == "ok" and f.summary.endswith(": loaded")


def test_module_missing_rootless_fails_with_modules_load_file(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.proc_modules("ip_tables", "ip6_tables", "overlay")
    h.kernel_config(CONFIG_IP_NF_NAT="m", CONFIG_IP6_NF_NAT="m", CONFIG_MODULES="y")
    f = check(context(h), "kernel.iptables-modules")
    assert f.status == "fail"
    assert f.summary.startswith("iptable_nat ip6table_nat not loaded")
    assert f.fix.kind == "file" and f.fix.path == "/etc/modules-load.d/nestkube.conf"
    assert f.fix.content == "ip_tables\niptable_nat\nip6_tables\nip6table_nat\n"
    assert f.fix.then == "sudo systemctl restart systemd-modules-load.service"
    assert "modprobe -a ip_tables" in f.fix.note


def test_module_missing_rootful_warns(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.proc_modules("ip_tables")
    ctx = context(h, uid=0, info=podman_info(rootless=False))
    f = check(ctx, "kernel.iptables-modules")
    assert f.status == "warn" and "iptable_nat ip6_tables ip6table_nat" in f.summary


def test_module_fix_on_nixos(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.nixos()
    h.proc_modules("overlay")
    f = check(context(h), "kernel.iptables-modules")
    assert f.fix.kind == "nix"
    assert f.fix.content == (
        'boot.kernelModules = [ "ip_tables" "iptable_nat" "ip6_tables" "ip6table_nat" ];'
    )


def test_module_built_in_seen_in_sys_module(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.proc_modules("overlay")
    for m in ALL:
        h.p(f"/sys/module/{m}").mkdir(parents=True)
    f = check(context(h), "kernel.iptables-modules")
    assert f.status == "ok" and "built into the kernel" in f.summary


def test_no_proc_modules_config_says_built_in(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.remove("/proc/modules")
    h.kernel_config(
        CONFIG_MODULES="n",
        CONFIG_IP_NF_IPTABLES="y",
        CONFIG_IP_NF_NAT="y",
        CONFIG_IP6_NF_IPTABLES="y",
        CONFIG_IP6_NF_NAT="y",
    )
    ctx = context(h)
    assert not ctx.modules.proc_modules
    f = check(ctx, "kernel.iptables-modules")
    assert f.status == "ok" and "built into the kernel" in f.summary


def test_no_proc_modules_and_nothing_else_assumes_built_in(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.remove("/proc/modules")
    f = check(context(h), "kernel.iptables-modules")
    assert f.status == "ok" and "assumed built in" in f.summary


def test_no_module_support_and_config_lacks_nat(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.remove("/proc/modules")
    h.kernel_config(CONFIG_IP_NF_IPTABLES="y", CONFIG_IP_NF_NAT="n", CONFIG_IP6_NF_IPTABLES="y")
    f = check(context(h), "kernel.iptables-modules")
    assert f.status == "fail" and "kernel built without iptable_nat" in f.summary


def test_kernel_config_from_boot(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.remove("/proc/modules")
    h.write(
        "/boot/config-6.1.0-18-amd64",
        "CONFIG_IP_NF_IPTABLES=y\nCONFIG_IP_NF_NAT=y\nCONFIG_IP6_NF_IPTABLES=y\n"
        "# CONFIG_IP6_NF_NAT is not set\n",
    )
    f = check(context(h), "kernel.iptables-modules")
    assert f.status == "fail" and "ip6table_nat" in f.summary


def test_inotify_low_warns_with_sysctl_file(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.sysctl("fs.inotify.max_user_watches", 8192)
    h.sysctl("fs.inotify.max_user_instances", 128)
    f = check(context(h), "sysctl.inotify")
    assert f.status == "warn" and "max_user_watches=8192" in f.summary
    assert f.fix.path == "/etc/sysctl.d/90-nestkube-inotify.conf"
    assert f.fix.content == (
        "fs.inotify.max_user_watches = 524288\nfs.inotify.max_user_instances = 512\n"
    )


def test_inotify_only_instances_low_on_nixos(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    h.nixos()
    h.sysctl("fs.inotify.max_user_instances", 128)
    f = check(context(h), "sysctl.inotify")
    assert f.fix.kind == "nix"
    assert f.fix.content == 'boot.kernel.sysctl = {\n  "fs.inotify.max_user_instances" = 512;\n};'


def test_low_host_ports_rootless(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    f = check(context(h, host_ports=[443, 80, 8080]), "sysctl.unprivileged-ports")
    assert f.status == "fail" and "host port(s) 80 443 below" in f.summary
    assert f.fix.content == "net.ipv4.ip_unprivileged_port_start = 80\n"
    h.sysctl("net.ipv4.ip_unprivileged_port_start", 80)
    assert check(context(h, host_ports=[80, 443]), "sysctl.unprivileged-ports").status == "ok"


def test_low_host_ports_rootful_and_none_asked(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    rootful = context(h, uid=0, info=podman_info(rootless=False), host_ports=[80])
    assert check(rootful, "sysctl.unprivileged-ports").status == "ok"
    f = check(context(h, host_ports=[8080]), "sysctl.unprivileged-ports")
    assert f.status == "skip"


def test_dmesg_restrict(tmp_path: Path) -> None:
    h = FakeHost.healthy(tmp_path)
    assert check(context(h), "sysctl.dmesg-restrict").status == "ok"
    h.sysctl("kernel.dmesg_restrict", 1)
    f = check(context(h), "sysctl.dmesg-restrict")
    assert f.status == "warn" and "OOM kills" in f.summary
    assert f.fix.content == "kernel.dmesg_restrict = 0\n"
    f = check(context(h, uid=0, info=podman_info(rootless=False)), "sysctl.dmesg-restrict")
    assert f.status == "ok" and "root can read" in f.summary
