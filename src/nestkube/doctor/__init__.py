"""`nestkube doctor`: check the host for what clusters need, say exactly how to fix it.

Library use::

    report = diagnose(provider="podman", rootless=True)
    findings = preflight(provider_info, nodes=3, host_ports=[80, 443])
    raise_on_failures(findings)   # HostError with the first failure's words and fix
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nestkube.doctor.apply import Applied, apply_fixes, apply_root_fixes
from nestkube.doctor.checks import CHECKS, PREFLIGHT, run_checks
from nestkube.doctor.context import DoctorContext, gather_context
from nestkube.doctor.model import Finding, Fix, Status, count, failures
from nestkube.doctor.render import fix_lines, json_report, one_line_fix, text_report
from nestkube.errors import HostError
from nestkube.host import HostFacts
from nestkube.providers.base import ProviderInfo, ProviderName
from nestkube.providers.facts import Runner, parse_info

__all__ = [
    "CHECKS",
    "Applied",
    "DoctorContext",
    "Finding",
    "Fix",
    "PreflightError",
    "Report",
    "Status",
    "count",
    "diagnose",
    "gather_context",
    "json_report",
    "preflight",
    "raise_on_failures",
    "run_checks",
    "text_report",
]


@dataclass(frozen=True)
class Report:
    context: DoctorContext
    findings: list[Finding]
    applied: list[Applied]

    @property
    def failed(self) -> bool:
        return bool(failures(self.findings))


def diagnose(
    *,
    provider: ProviderName | None = None,
    rootless: bool | None = None,
    nodes: int = 1,
    host_ports: Sequence[int] = (),
    fix: bool = False,
    sudo: bool = False,
    interactive: bool = False,
    root: Path = Path("/"),
    env: Mapping[str, str] | None = None,
    runner: Runner | None = None,
    host: HostFacts | None = None,
    context: DoctorContext | None = None,
) -> Report:
    """Probe, check, and with ``fix`` apply the safe fixes and check again; with ``sudo`` too,
    the root fixes :func:`~nestkube.doctor.apply.root_applicable` allows, through sudo."""
    ctx = context or gather_context(
        provider=provider,
        rootless=rootless,
        nodes=nodes,
        host_ports=host_ports,
        root=root,
        env=env,
        runner=runner,
        host=host,
    )
    findings = run_checks(ctx)
    if not fix:
        return Report(ctx, findings, [])
    applied = apply_fixes(findings, ctx)
    if sudo:
        applied += apply_root_fixes(findings, ctx, interactive=interactive)
    if any(a.changed for a in applied):
        # Fixes only change files: re-read them, and keep what commands said (the engine's
        # info, systemd's version, ZFS properties) rather than asking again.
        fresh = gather_context(
            provider=ctx.provider,
            rootless=ctx.requested_rootless,
            nodes=ctx.nodes,
            host_ports=ctx.host_ports,
            root=Path(ctx.root),
            host=ctx.host,
            env=dict(ctx.env) if env is None else env,
            uid=ctx.user.uid,
            engine=ctx.engine,
            run_commands=False,
        )
        ctx = replace(
            fresh,
            requested_provider=ctx.requested_provider,
            systemd_version=ctx.systemd_version,
            zfs=ctx.zfs,
        )
        findings = run_checks(ctx)
    return Report(ctx, findings, applied)


def preflight(
    info: ProviderInfo,
    *,
    nodes: int,
    host_ports: Sequence[int] = (),
    engine_info: Mapping[str, Any] | None = None,
    root: Path = Path("/"),
    env: Mapping[str, str] | None = None,
) -> list[Finding]:
    """The checks that can stop `create cluster`, for this provider and mode.

    Runs no command: it reads files and the facts already in ``info`` (and the engine's
    info JSON if the caller has it), so it costs a few milliseconds.
    """
    facts = info.facts if engine_info is None else parse_info(info.name, engine_info, info.binary)
    ctx = gather_context(
        provider=info.name,
        rootless=info.rootless,
        nodes=nodes,
        host_ports=host_ports,
        root=root,
        host=info.host,
        env=env,
        engine=facts,
        run_commands=False,
    )
    return run_checks(ctx, PREFLIGHT)


class PreflightError(HostError):
    """A host check failed before any node was created; ``findings`` holds the failures."""

    def __init__(self, message: str, findings: Sequence[Finding]) -> None:
        super().__init__(message)
        self.findings = list(findings)
        # The CLI prints ``detail`` below the one-line message: every failure with its fix.
        lines = []
        for f in self.findings:
            lines.append(f"{f.id}: {f.summary}")
            lines += [f"  {ln}" for ln in fix_lines(f.fix)]
        self.detail = "\n".join(lines)


def raise_on_failures(findings: Sequence[Finding]) -> None:
    """Raise :class:`PreflightError` (a HostError) naming the first failure and its fix."""
    failed = failures(findings)
    if not failed:
        return
    first = failed[0]
    message = f"{first.summary} [{first.id}]"
    fix = one_line_fix(first.fix)
    if fix:
        message += f"; fix: {fix}"
    if len(failed) > 1:
        others = ", ".join(f.id for f in failed[1:])
        message += f" (also failing: {others}; run `nestkube doctor` for all fixes)"
    raise PreflightError(message, failed)
