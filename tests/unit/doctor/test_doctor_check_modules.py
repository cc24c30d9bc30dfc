"""Each doctor check lives in the module its id names: `kernel.version` in checks/kernel.py."""

from __future__ import annotations

from nestkube.doctor.checks import CHECKS


def test_every_check_lives_in_the_module_its_id_names() -> None:
    misplaced = {
        check_id: check.__module__
        for check_id, check in CHECKS.items()
        if check.__module__ != f"nestkube.doctor.checks.{check_id.split('.', 1)[0]}"
    }
    assert misplaced == {}
