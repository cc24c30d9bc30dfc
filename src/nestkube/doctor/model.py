"""What a check returns: a verdict, one line saying why, and the exact fix."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "warn", "fail", "skip"]
FixKind = Literal["command", "file", "nix", "none"]
# "write": the file must hold exactly ``content``. "merge": merge ``content`` (TOML) into it.
FileAction = Literal["write", "merge"]

STATUSES: tuple[Status, ...] = ("ok", "warn", "fail", "skip")


@dataclass(frozen=True)
class Fix:
    """The exact change that resolves a finding.

    ``command`` is one shell command line (with ``sudo`` when it needs root and the user is
    not root). ``file`` is a path and its content, plus an optional command to run after.
    ``nix`` is a configuration.nix snippet (NixOS: /etc is generated, so edits there do not
    last). ``none`` means nothing to do or nothing nestkube can suggest; ``note`` explains.
    """

    kind: FixKind = "none"
    command: str = ""
    path: str = ""
    content: str = ""
    action: FileAction = "write"
    then: str = ""
    note: str = ""
    needs_root: bool = False

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"kind": self.kind}
        if self.kind == "command":
            out["command"] = self.command
        elif self.kind == "file":
            out["path"] = self.path
            out["content"] = self.content
            out["action"] = self.action
            out["then"] = self.then
        elif self.kind == "nix":
            out["snippet"] = self.content
            out["then"] = self.then
        out["needs_root"] = self.needs_root
        out["note"] = self.note
        return out


NO_FIX = Fix()


@dataclass(frozen=True)
class Finding:
    """One check's verdict on this host."""

    id: str
    status: Status
    summary: str
    fix: Fix = NO_FIX
    # Only safe, reversible changes to the current user's own files may be applied by --fix.
    auto_fixable: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "status": self.status,
            "summary": self.summary,
            "fix": self.fix.to_json(),
            "auto_fixable": self.auto_fixable,
        }


def ok(check_id: str, summary: str, fix: Fix = NO_FIX) -> Finding:
    return Finding(check_id, "ok", summary, fix)


def warn(check_id: str, summary: str, fix: Fix = NO_FIX, *, auto: bool = False) -> Finding:
    return Finding(check_id, "warn", summary, fix, auto)


def fail(check_id: str, summary: str, fix: Fix = NO_FIX, *, auto: bool = False) -> Finding:
    return Finding(check_id, "fail", summary, fix, auto)


def skip(check_id: str, summary: str) -> Finding:
    return Finding(check_id, "skip", summary)


def count(findings: Iterable[Finding]) -> dict[str, int]:
    """How many findings have each status, every status present (stable JSON keys)."""
    totals: dict[str, int] = dict.fromkeys(STATUSES, 0)
    for f in findings:
        totals[f.status] += 1
    return totals


def failures(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.status == "fail"]


def worst(a: Status, b: Status) -> Status:
    """The more severe of two statuses (skip counts as least severe)."""
    order = {"skip": 0, "ok": 1, "warn": 2, "fail": 3}
    return a if order[a] >= order[b] else b
