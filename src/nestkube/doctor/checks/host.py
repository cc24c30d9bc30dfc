"""The host itself: its OS, and on restricted hosts (CI VMs, sandboxes, nested containers)
what is missing and what nestkube does about it. These checks explain workarounds rather than
hide them."""

from __future__ import annotations

from nestkube.doctor import fixes
from nestkube.doctor.context import DoctorContext
from nestkube.doctor.model import Finding, Fix, fail, ok, skip, warn
from nestkube.images import runc_wrapper
from nestkube.kubeadm import proxy
from nestkube.providers.base import ProviderInfo, rlimit_args
from nestkube.providers.podman import crun_refuses

# What engines ask for by default (Podman: 1048576 for nofile; nestkube asks the same).
ENGINE_RLIMIT = 1 << 20
# Below these a node's etcd, API server and kubelet run out within minutes.
MIN_NOFILE = 4096
MIN_NPROC = 4096
CAPFILTER_PATH = "/usr/local/libexec/nestkube-runc-capfilter"
CAPFILTER_RUNTIME = "nestkube-runc"
RUNC_NAMES = {"runc", "io.containerd.runc.v2", "io.containerd.runtime.v1.linux"}


def check_os(ctx: DoctorContext) -> Finding:
    name = ctx.os_release.get("PRETTY_NAME") or ctx.os_release.get("NAME") or "unknown Linux"
    if ctx.nixos:
        return ok("host.os", f"{name}: fixes are given as configuration.nix snippets")
    return ok("host.os", f"{name}, kernel {ctx.kernel_release or 'unknown'}")


def check_proxy(ctx: DoctorContext) -> Finding:
    """Which HTTP proxy `create cluster` gives the nodes' runtime and kubelet (a config's
    ``proxy`` keys take precedence over the environment read here)."""
    found = proxy.from_environment(ctx.env)
    return ok("host.proxy", f"nodes' proxy: {proxy.describe(found)}")


def capability_filter(runc: str) -> str:
    """The capability filter for ``runc``: nestkube's runc wrapper (images/nestkube-runc),
    which removes the capabilities outside its bounding set, then execs ``runc``.

    `docker run --privileged` asks runc for every capability the daemon knows; runc fails
    ("unable to apply caps") when one is outside the bounding set. Podman asks only for what
    the bounding set holds, so it needs no wrapper.
    """
    header = (
        "# Written from `nestkube doctor` (check host.capabilities). To undo: remove this file\n"
        f"# and the {CAPFILTER_RUNTIME} runtime from the daemon's configuration.\n"
    )
    return runc_wrapper.text(runc, header)


def _capfilter_fix(ctx: DoctorContext) -> Fix:
    runc = ctx.binary("runc") or "/usr/bin/runc"
    if ctx.provider == "docker":
        then = (
            f"chmod 0755 {CAPFILTER_PATH} && dockerd --add-runtime "
            f"{CAPFILTER_RUNTIME}={CAPFILTER_PATH} --default-runtime {CAPFILTER_RUNTIME}"
        )
        note = (
            "or put the same runtime and default-runtime in /etc/docker/daemon.json and "
            "restart dockerd"
        )
    else:
        then = f"chmod 0755 {CAPFILTER_PATH}"
        note = f"then give nerdctl --runtime {CAPFILTER_PATH} (nestkube passes no such flag)"
    return fixes.root_file(ctx, CAPFILTER_PATH, capability_filter(runc), then=then, note=note)


def check_capabilities(ctx: DoctorContext) -> Finding:
    missing = sorted(ctx.host.missing_capabilities)
    broken = sorted(ctx.host.ineffective_capabilities)
    if not missing and not broken:
        return ok("host.capabilities", "capability bounding set complete")
    parts = []
    if missing:
        parts.append(f"{' '.join(missing)} missing from the bounding set")
    if broken:
        parts.append(f"{' '.join(broken)} present but ineffective")
    what = "; ".join(parts)
    if not missing or ctx.provider == "podman":
        how = (
            "podman --privileged asks only for capabilities the host has"
            if ctx.provider == "podman"
            else "privileged nodes still start"
        )
        # Nothing for the user to do: reported as ok, with the note saying so.
        return ok(
            "host.capabilities",
            f"{what}: {how}; node workloads that need them fail",
            Fix(note="nestkube runs privileged nodes without them; nothing to change here"),
        )
    runtime = ctx.engine.default_runtime
    if runtime and runtime not in RUNC_NAMES:
        return warn(
            "host.capabilities",
            f"{what}: {ctx.provider}'s default runtime is {runtime}; nestkube assumes it drops "
            "them (plain runc fails 'unable to apply caps')",
        )
    unknown = "" if runtime else " (could not tell which runtime the engine uses)"
    verdict = fail if runtime else warn
    return verdict(
        "host.capabilities",
        f"{what}: `{ctx.provider} run --privileged` fails here with 'unable to apply caps'"
        f"{unknown}; {ctx.provider} needs a runtime wrapper that drops them",
        _capfilter_fix(ctx),
    )


def check_oom(ctx: DoctorContext) -> Finding:
    if ctx.host.can_lower_oom_score_adj:
        return ok("host.oom-score-adj", "oom_score_adj can be lowered")
    plan = (
        "nestkube sets containerd's restrict_oom_score_adj = true in every node so pods still start"
    )
    if ctx.user.uid != 0:
        return ok(
            "host.oom-score-adj",
            f"oom_score_adj cannot be lowered (normal for a non-root user); {plan}",
        )
    return ok(
        "host.oom-score-adj",
        "oom_score_adj cannot be lowered, even by root (CAP_SYS_RESOURCE missing or "
        f"ineffective): the kubelet's -998 would fail every pod sandbox; {plan}",
        Fix(note="nothing to change: the workaround is automatic"),
    )


def check_rlimits(ctx: DoctorContext) -> Finding:
    nofile, nproc = ctx.host.nofile_hard, ctx.host.nproc_hard
    now = f"hard limits nofile={nofile} nproc={nproc}"
    if nofile < MIN_NOFILE or nproc < MIN_NPROC:
        return fail(
            "host.rlimits",
            f"{now}: below {MIN_NOFILE}, too few for a node's etcd, API server and kubelet",
            Fix(
                note="raise the hard limits of the session running nestkube "
                "(/etc/security/limits.d, or LimitNOFILE=/LimitNPROC= of its systemd unit)"
            ),
        )
    if nofile >= ENGINE_RLIMIT and nproc >= ENGINE_RLIMIT:
        return ok("host.rlimits", now)
    harmless = _rlimits_harmless(ctx)
    if harmless:
        return ok("host.rlimits", f"{now}; {harmless}")
    info = ProviderInfo(ctx.provider, ctx.engine.binary or "", "", ctx.rootless, ctx.host)
    flags = " ".join(rlimit_args(info, ENGINE_RLIMIT))
    return ok(
        "host.rlimits",
        f"{now}, below the {ENGINE_RLIMIT} the engine asks for and not raisable here "
        f"(setrlimit would fail); nestkube passes {flags}",
        Fix(note="nothing to change: nestkube stays under the ceiling by itself"),
    )


def _rlimits_harmless(ctx: DoctorContext) -> str:
    """Why hard limits below the engine's request do not bite here, or "" when they do.

    They bite only where the process that sets a node's limits cannot go above them: a
    daemon engine sets them with its own limits, root with a working CAP_SYS_RESOURCE may
    raise them, and rootless Podman clamps its defaults to the user's hard limits.
    """
    if ctx.provider != "podman":
        return f"{ctx.provider}'s daemon sets node limits with its own limits, not these"
    if ctx.rootless:
        return "rootless Podman clamps its defaults to these"
    lacking = ctx.host.missing_capabilities | ctx.host.ineffective_capabilities
    if ctx.user.uid == 0 and "CAP_SYS_RESOURCE" not in lacking:
        return "root with CAP_SYS_RESOURCE raises them as needed"
    return ""


def check_runtime(ctx: DoctorContext) -> Finding:
    e = ctx.engine
    runtime = e.default_runtime
    if not runtime:
        return skip("host.oci-runtime", "engine runtime unknown (see engine.present)")
    mode = ctx.host.cgroup_mode
    refuses = crun_refuses(mode, ctx.rootless, ctx.host.cgroup2_controllers)
    if e.provider != "podman" or not refuses:
        if e.provider == "podman" and mode != "v2":
            return ok(
                "host.oci-runtime",
                f"rootless podman runs {runtime} without cgroups of its own on {mode} cgroups",
            )
        return ok("host.oci-runtime", f"{e.provider} uses {runtime}")
    if runtime == "runc":
        return ok("host.oci-runtime", f"podman uses runc, which handles {mode} cgroups")
    if ctx.binary("runc"):
        return ok(
            "host.oci-runtime",
            f"podman's default runtime {runtime} refuses {mode} cgroups; nestkube passes "
            f"--runtime runc ({ctx.binary('runc')})",
            Fix(note="nothing to change: nestkube picks runc for every node by itself"),
        )
    return fail(
        "host.oci-runtime",
        f"podman's default runtime {runtime} refuses {mode} cgroups and runc is not installed",
        fixes.install(ctx, "runc"),
    )
