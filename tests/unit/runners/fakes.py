"""Fake ``helm`` and ``kubectl`` executables on PATH that record each call and answer from a table.

They are real files run by the real :func:`nestkube._exec.run`, so the tests see exactly the
argument lists, stdin and values files the product hands to the tools (and can check that a
values file was private and removed afterwards).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

_SCRIPT = """#!{python}
import json, os, stat, sys
argv = sys.argv[1:]
entry = {{"tool": os.path.basename(sys.argv[0]), "argv": argv}}
if "-f" in argv and argv[argv.index("-f") + 1] == "-":
    entry["stdin"] = sys.stdin.read()
if "--values" in argv:
    path = argv[argv.index("--values") + 1]
    entry["values_path"] = path
    entry["values_mode"] = stat.S_IMODE(os.stat(path).st_mode)
    entry["dir_mode"] = stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode)
    with open(path) as fh:
        entry["values"] = fh.read()
with open(os.environ["FAKE_TOOLS_LOG"], "a") as fh:
    fh.write(json.dumps(entry) + "\\n")
with open(os.environ["FAKE_TOOLS_ANSWERS"]) as fh:
    answers = json.load(fh)
for answer in answers:
    if answer["tool"] == entry["tool"] and all(w in argv for w in answer["match"]):
        sys.stdout.write(answer.get("stdout", ""))
        sys.stderr.write(answer.get("stderr", ""))
        sys.exit(answer.get("rc", 0))
if "list" in argv and entry["tool"] == "helm":
    sys.stdout.write("[]")
elif "get" in argv:
    sys.stdout.write('{{"items": []}}')
"""


@dataclass
class FakeTools:
    directory: Path
    answers: list[dict[str, Any]] = field(default_factory=list)
    # Contexts whose nodes `up` made share their mounts (privileged runners).
    shared: list[str] = field(default_factory=list)
    # Cache roots whose mount into the nodes `up` checked.
    mount_checked: list[str] = field(default_factory=list)

    @property
    def log(self) -> Path:
        return self.directory / "calls.jsonl"

    def answer(
        self, tool: str, match: list[str], stdout: str = "", rc: int = 0, stderr: str = ""
    ) -> None:
        """The first answer whose tool matches and whose words are all in argv is used."""
        self.answers.insert(
            0, {"tool": tool, "match": match, "stdout": stdout, "rc": rc, "stderr": stderr}
        )
        (self.directory / "answers.json").write_text(json.dumps(self.answers))

    def calls(self, tool: str | None = None) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        entries = [json.loads(line) for line in self.log.read_text().splitlines()]
        return [e for e in entries if tool is None or e["tool"] == tool]


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeTools:
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    for name in ("helm", "kubectl"):
        script = bindir / name
        script.write_text(_SCRIPT.format(python=sys.executable))
        script.chmod(0o755)
    fake = FakeTools(bindir)
    (bindir / "answers.json").write_text("[]")
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_TOOLS_LOG", str(fake.log))
    monkeypatch.setenv("FAKE_TOOLS_ANSWERS", str(bindir / "answers.json"))
    monkeypatch.delenv("NESTKUBE_HELM", raising=False)
    # The nodes are the engine's, not helm's or kubectl's: recorded, never touched here.
    monkeypatch.setattr(
        "nestkube.runners.ops.share_node_mounts",
        lambda where, status: fake.shared.append(where.context),
    )
    monkeypatch.setattr(
        "nestkube.runners.ops.check_cache_mount",
        lambda where, root: fake.mount_checked.append(str(root)),
    )
    return fake
