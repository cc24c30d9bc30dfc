"""Deleting nodes on a busy host: Podman's `rm --force` can give up on a container it killed."""

from __future__ import annotations

import pytest

from nestkube.errors import CommandError
from nestkube.providers.base import Node

from .fakes import FakeEngine
from .test_engine_calls import provider, ps_line

GAVE_UP = (
    "Error: cannot remove container 0123 as it could not be stopped: "
    "given PIDs did not die within timeout"
)


def nodes() -> list[Node]:
    return [Node("c-control-plane", "control-plane", "c"), Node("c-worker", "worker", "c")]


def test_what_rm_left_is_removed_again(fake_engine: FakeEngine) -> None:
    removals: list[list[str]] = []

    def rm(argv: list[str]) -> tuple[int, str, str] | None:
        if argv[1] != "rm":
            return None
        removals.append(argv[4:])
        return (125, "", GAVE_UP) if len(removals) == 1 else (0, "", "")

    fake_engine.handlers.append(rm)
    fake_engine.on(["ps"], out=ps_line("c-worker", "c", "exited"))
    provider().delete_nodes(nodes())
    assert removals == [["c-control-plane", "c-worker"], ["c-worker"]]


def test_a_second_failure_is_the_error(fake_engine: FakeEngine) -> None:
    fake_engine.on(["rm"], code=125, err=GAVE_UP)
    fake_engine.on(["ps"], out=ps_line("c-worker", "c"))
    with pytest.raises(CommandError, match="did not die"):
        provider().delete_nodes(nodes())
    assert len(fake_engine.commands("rm")) == 2
