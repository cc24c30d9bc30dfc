"""`doctor --fix`: apply the few fixes that are safe to make without asking.

Only findings marked auto-fixable are touched, and only files inside the user's own home.
Each change is idempotent (a file already right is left alone, byte for byte) and
reversible (the first change to an existing file keeps a ``.nestkube-backup`` copy beside it).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import tempfile
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from nestkube import _exec
from nestkube.doctor.context import DoctorContext
from nestkube.doctor.model import Finding, Fix
from nestkube.errors import CommandError, HostError

BACKUP_SUFFIX = ".nestkube-backup"


@dataclass(frozen=True)
class Applied:
    finding_id: str
    path: str
    changed: bool
    backup: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.finding_id,
            "path": self.path,
            "changed": self.changed,
            "backup": self.backup,
        }


def apply_fixes(findings: Iterable[Finding], ctx: DoctorContext) -> list[Applied]:
    """Apply every auto-fixable fix of a warn or fail finding; report what changed."""
    root = Path(ctx.root)
    home = ctx.user.home.rstrip("/") + "/"
    done = []
    for f in findings:
        if not f.auto_fixable or f.status not in ("warn", "fail") or f.fix.kind != "file":
            continue
        # Re-check here: auto_fixable is a promise the check made, this is where it is kept.
        if ctx.user.uid == 0 or not f.fix.path.startswith(home) or ".." in f.fix.path:
            raise HostError(f"refusing to auto-fix {f.id}: {f.fix.path} is not in {home}")
        target = root / f.fix.path.lstrip("/")
        if f.fix.action == "merge":
            changed, backup = merge_toml(target, f.fix.content)
        else:
            changed, backup = write_file(target, f.fix.content)
        shown = "/" + str(Path(backup).relative_to(root)) if backup else ""
        done.append(Applied(f.id, f.fix.path, changed, shown))
    return done


def write_file(path: Path, content: str) -> tuple[bool, str]:
    try:
        if path.read_text() == content:
            return False, ""
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise HostError(f"cannot read {path}: {exc}") from exc
    backup = _backup(path)
    _atomic_write(path, content)
    return True, backup


def merge_toml(path: Path, content: str) -> tuple[bool, str]:
    """Set each ``[table] key = value`` of ``content`` in the TOML file at ``path``.

    The file is edited as text so the user's comments and layout survive; the result is
    parsed again and must hold every wanted value, or nothing is written.
    """
    want = tomllib.loads(content)
    try:
        text = path.read_text()
    except FileNotFoundError:
        text = ""
    except OSError as exc:
        raise HostError(f"cannot read {path}: {exc}") from exc
    try:
        current = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HostError(f"{path} is not valid TOML ({exc}); fix it by hand first") from exc
    if _holds(current, want):
        return False, ""
    new = text
    for table, values in want.items():
        if not isinstance(values, dict):
            raise ValueError("merge_toml wants [table] key = value content only")
        for key, value in values.items():
            new = _set_key(new, table, key, value)
    try:
        ok = _holds(tomllib.loads(new), want)
    except tomllib.TOMLDecodeError:
        ok = False
    if not ok:
        raise HostError(
            f"cannot merge into {path} safely (unusual layout); add by hand:\n{content}"
        )
    backup = _backup(path)
    _atomic_write(path, new)
    return True, backup


def _holds(current: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    for table, values in want.items():
        have = current.get(table)
        if not isinstance(have, dict) or not isinstance(values, dict):
            return False
        if any(have.get(k) != v for k, v in values.items()):
            return False
    return True


def _set_key(text: str, table: str, key: str, value: object) -> str:
    line = tomli_w.dumps({key: value}).strip()
    lines = text.splitlines()
    header = re.compile(rf"^\s*\[\s*{re.escape(table)}\s*\]\s*(#.*)?$")
    any_header = re.compile(r"^\s*\[")
    assign = re.compile(rf"^\s*{re.escape(key)}\s*=")
    start = next((i for i, ln in enumerate(lines) if header.match(ln)), None)
    if start is None:
        sep = "" if not text else ("\n" if text.endswith("\n") else "\n\n")
        return f"{text}{sep}[{table}]\n{line}\n"
    end = next((i for i in range(start + 1, len(lines)) if any_header.match(lines[i])), len(lines))
    for i in range(start + 1, end):
        if assign.match(lines[i]):
            lines[i] = line
            break
    else:
        lines.insert(start + 1, line)
    return "\n".join(lines) + "\n"


def _backup(path: Path) -> str:
    if not path.exists():
        return ""
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    if not backup.exists():
        shutil.copy2(path, backup)
    return str(backup)


def _atomic_write(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(content)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- fixes that need root, applied only with --sudo ---------------------------------------

# Where a root fix may write: drop-in directories whose files nestkube's checks name whole.
# Boot loader, kernel command line and package changes are never applied, only printed.
ROOT_FILE_DIRS = (
    "/etc/modules-load.d/",
    "/etc/sysctl.d/",
    "/etc/systemd/system/user@.service.d/",
)
# The commands a root fix may run (each part of an && chain must start with one of these).
ROOT_COMMANDS = (
    "loginctl enable-linger ",
    "modprobe ",
    "sysctl --system",
    "systemctl daemon-reload",
    "systemctl restart systemd-modules-load.service",
)


def root_applicable(fix: Fix) -> bool:
    """Whether ``--sudo`` may apply ``fix``: a drop-in file or an allow-listed command."""
    if not fix.needs_root or fix.kind not in ("file", "command"):
        return False
    if fix.kind == "file":
        if ".." in fix.path or not fix.path.startswith(ROOT_FILE_DIRS) or fix.action != "write":
            return False
        return all(_allowed(p) for p in _parts(fix.then))
    return all(_allowed(p) for p in _parts(fix.command)) and bool(_parts(fix.command))


def _parts(chain: str) -> list[list[str]]:
    parts = []
    for part in chain.split("&&"):
        argv = shlex.split(part)
        if argv[:1] == ["sudo"]:
            argv = argv[1:]
        if argv:
            parts.append(argv)
    return parts


def _allowed(argv: list[str]) -> bool:
    line = shlex.join(argv)
    return any(line == c.strip() or line.startswith(c) for c in ROOT_COMMANDS)


def apply_root_fixes(
    findings: Iterable[Finding], ctx: DoctorContext, *, interactive: bool = False
) -> list[Applied]:
    """Apply the root fixes ``--sudo`` may make, through sudo unless already root.

    sudo runs non-interactively (``-n``) unless ``interactive``, so a run without a terminal
    fails at once instead of waiting for a password nobody types.
    """
    sudo = [] if ctx.user.uid == 0 else (["sudo"] if interactive else ["sudo", "-n"])
    root = Path(ctx.root)
    done = []
    for f in findings:
        if f.status not in ("warn", "fail") or not root_applicable(f.fix):
            continue
        fix = f.fix
        if fix.kind == "file":
            target = root / fix.path.lstrip("/")
            try:
                current: str | None = target.read_text()
            except OSError:
                current = None
            if current == fix.content:
                done.append(Applied(f.id, fix.path, False))
                continue
            backup = ""
            if current is not None:
                backup = fix.path + BACKUP_SUFFIX
                _root_run([*sudo, "cp", "-p", "-n", str(target), str(root / backup.lstrip("/"))])
            _root_run([*sudo, "mkdir", "-p", str(target.parent)])
            _root_run([*sudo, "tee", str(target)], input=fix.content)
            for argv in _parts(fix.then):
                _root_run([*sudo, *argv])
            done.append(Applied(f.id, fix.path, True, backup))
        else:
            for argv in _parts(fix.command):
                _root_run([*sudo, *argv])
            done.append(Applied(f.id, _plain(fix.command), True))
    return done


def _plain(chain: str) -> str:
    return " && ".join(shlex.join(argv) for argv in _parts(chain))


def _root_run(argv: list[str], input: str | None = None) -> None:
    try:
        _exec.run(argv, input=input, timeout=120, what=f"doctor --sudo: {shlex.join(argv)}")
    except CommandError as exc:
        raise HostError(f"could not apply a root fix: {exc}") from exc
