"""The report as text (one line per check, fixes indented below) and as stable JSON."""

from __future__ import annotations

from collections.abc import Sequence

from nestkube._version import __version__
from nestkube.doctor.apply import Applied
from nestkube.doctor.context import DoctorContext
from nestkube.doctor.model import Finding, Fix, count

SCHEMA_VERSION = 1
_LABEL = {"ok": "ok", "warn": "WARN", "fail": "FAIL", "skip": "skip"}
_COLOUR = {"ok": "green", "warn": "yellow", "fail": "red", "skip": "bright_black"}


def fix_lines(fix: Fix) -> list[str]:
    """A fix as lines to print under its finding."""
    out: list[str] = []
    who = " (as root)" if fix.needs_root else ""
    if fix.kind == "command":
        out.append(f"fix: {fix.command}")
    elif fix.kind == "file":
        verb = "merge into" if fix.action == "merge" else "write"
        out.append(f"fix: {verb} {fix.path}{who}:")
        out += [f"    {ln}" for ln in fix.content.rstrip("\n").splitlines()]
        if fix.then:
            out.append(f"then: {fix.then}")
    elif fix.kind == "nix":
        out.append("fix: add to /etc/nixos/configuration.nix:")
        out += [f"    {ln}" for ln in fix.content.rstrip("\n").splitlines()]
        if fix.then:
            out.append(f"then: {fix.then}")
    if fix.note:
        out.append(f"note: {fix.note}")
    return out


def one_line_fix(fix: Fix) -> str:
    """A fix squeezed onto one line, for error messages."""
    if fix.kind == "command":
        text = fix.command
    elif fix.kind == "file":
        body = "; ".join(ln for ln in fix.content.splitlines() if ln.strip())
        text = f"{'merge into' if fix.action == 'merge' else 'write'} {fix.path}: {body}"
        text += f", then {fix.then}" if fix.then else ""
    elif fix.kind == "nix":
        text = "add to configuration.nix: " + " ".join(fix.content.split())
    else:
        text = fix.note
    return text


def text_report(
    ctx: DoctorContext,
    findings: Sequence[Finding],
    applied: Sequence[Applied] = (),
    *,
    colour: bool = False,
    fix_requested: bool = False,
) -> str:
    mode = "rootless" if ctx.rootless else "rootful"
    lines = [f"nestkube doctor: {ctx.provider} ({mode}) as {ctx.user.name} (uid {ctx.user.uid})"]
    if fix_requested and not applied:
        lines.append("--fix: nothing safe to apply here; fixes below are for you to run")
    for a in applied:
        if a.changed and not a.path.startswith("/"):
            lines.append(f"fixed {a.finding_id}: ran {a.path}")
        elif a.changed:
            saved = f" (previous copy: {a.backup})" if a.backup else ""
            lines.append(f"fixed {a.finding_id}: updated {a.path}{saved}")
        else:
            lines.append(f"fixed {a.finding_id}: {a.path} already right, unchanged")
    width = max((len(f.id) for f in findings), default=0)
    for f in findings:
        label = f"{_LABEL[f.status]:<4}"
        if colour:
            label = f"\x1b[{_ansi(_COLOUR[f.status])}m{label}\x1b[0m"
        lines.append(f"{label}  {f.id:<{width}}  {f.summary}")
        if f.status in ("warn", "fail"):
            extra = fix_lines(f.fix)
        elif f.status == "ok" and f.fix.note:
            # An ok that comes with a note (a workaround nestkube applies by itself).
            extra = [f"note: {f.fix.note}"]
        else:
            extra = []
        if extra:
            if f.auto_fixable and extra:
                extra[0] += "   [nestkube doctor --fix applies this]"
            pad = " " * (width + 8)
            lines += [pad + ln for ln in extra]
    totals = count(findings)
    lines.append(
        f"{totals['ok']} ok, {totals['warn']} warn, {totals['fail']} fail, {totals['skip']} skip"
    )
    return "\n".join(lines) + "\n"


def _ansi(name: str) -> str:
    return {"green": "32", "yellow": "33", "red": "31", "bright_black": "90"}[name]


def json_report(
    ctx: DoctorContext, findings: Sequence[Finding], applied: Sequence[Applied] = ()
) -> dict[str, object]:
    """The documented JSON shape (docs/doctor.md). Keys are only ever added, never renamed."""
    e = ctx.engine
    return {
        "schema_version": SCHEMA_VERSION,
        "nestkube_version": __version__,
        "provider": ctx.provider,
        "rootless": ctx.rootless,
        "user": {"name": ctx.user.name, "uid": ctx.user.uid, "home": ctx.user.home},
        "engine": {
            "binary": e.binary,
            "reachable": e.info_ok,
            "version": e.version or None,
            "rootless": e.rootless,
            "storage_driver": e.storage_driver or None,
            "data_root": ctx.data_dir,
        },
        "host": {
            "os": ctx.os_release.get("PRETTY_NAME", ""),
            "nixos": ctx.nixos,
            "kernel": ctx.kernel_release,
            "cgroup": ctx.host.cgroup_mode,
        },
        "findings": [f.to_json() for f in findings],
        "fixes_applied": [a.to_json() for a in applied],
        "summary": count(findings),
    }
