"""One engine choice for every command and the doctor: the asked-for engine, else the first
installed one (in ENGINES order) that answers."""

from __future__ import annotations

import pytest

from nestkube.errors import ProviderError
from nestkube.providers import choose_engine, engine_candidates
from nestkube.providers.facts import ProviderName


def test_candidates_are_the_named_engine_else_the_installed_ones_in_order() -> None:
    installed = {"nerdctl", "docker"}
    assert engine_candidates(None, {}, installed.__contains__) == ["docker", "nerdctl"]
    env = {"NESTKUBE_PROVIDER": "podman"}
    assert engine_candidates(None, env, installed.__contains__) == ["podman"]
    assert engine_candidates("nerdctl", env, installed.__contains__) == ["nerdctl"]


def test_the_first_engine_that_answers_is_chosen() -> None:
    asked: list[str] = []

    def answer(name: ProviderName) -> str:
        asked.append(name)
        if name == "podman":
            raise ProviderError("podman: no answer")
        return f"{name} facts"

    assert choose_engine(["podman", "docker", "nerdctl"], answer) == ("docker", "docker facts")
    assert asked == ["podman", "docker"]


def test_when_none_answers_the_error_is_every_engines() -> None:
    def answer(name: ProviderName) -> str:
        raise ProviderError(f"{name}: no answer")

    with pytest.raises(ProviderError) as raised:
        choose_engine(["podman", "docker"], answer)
    assert str(raised.value) == "podman: no answer; docker: no answer"
