"""The rootless tests pass from a checkout the rootless test user cannot read (a clone in a
0700 directory, as under root's home): the user runs nestkube from a venv of its own, made
from a wheelhouse of the checkout, never from the checkout itself."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from support import REPO


def test_rootless_tests_pass_from_a_clone_in_a_private_directory() -> None:
    private = Path(tempfile.mkdtemp(prefix="nestkube-private."))
    try:
        assert private.stat().st_mode & 0o777 == 0o700
        clone = private / "nestkube"
        subprocess.run(
            ["git", "clone", "--quiet", "--local", str(REPO), str(clone)],
            check=True,
            timeout=120,
        )
        tests = [
            "tests/e2e/test_rootless_podman.py",
            "tests/e2e/test_doctor_host.py::test_rootless_podman_verdicts_match_the_host",
            "tests/e2e/test_doctor_host.py::test_rootless_fix_twice_changes_nothing_the_second_time",
        ]
        # This interpreter's nestkube and pytest, the clone's tests and source for the user.
        env = {**os.environ, "PYTHONPATH": str(clone / "src")}
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        assert "4 passed" in proc.stdout, proc.stdout[-2000:]
    finally:
        subprocess.run(["rm", "-rf", str(private)], check=False, timeout=300)
