"""Plain conversion of plain command-line values, so running a command needs no pydantic.

typer (0.29) converts every parameter through a pydantic TypeAdapter built when the command
runs; importing pydantic and building the adapters costs more than the whole of
`nestkube get clusters` may take. nestkube's parameters are mostly strings, integers, flags
and choices: a value that converts plainly (a string, an integer in range, a flag, a choice) is
converted here to what typer would give, and everything else — a bad value, a path, a list, a
float — goes to typer's own conversion, so results and error messages stay typer's. A string
option with a ``parser`` (``--provider``'s) is handed to that parser here too: typer would
wrap it in a pydantic adapter.
If typer's internals are not the shape this expects, nothing is patched. pyproject.toml pins
typer to the minor this is tested on (TESTED_TYPER); a unit test holds the two together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

_INTEGER = re.compile(r"-?[0-9]+")
# The typer minor whose private conversion this patches and the tests check.
TESTED_TYPER = "0.29"


def install() -> bool:
    """Route plain parameters through :func:`plain_value`; whether typer could be patched."""
    try:
        from typer import _coercion, core
        from typer._click.exceptions import BadParameter
        from typer._param_types import coerce_cli_choice
    except ImportError:
        return False
    parameter: Any = getattr(core, "_TyperParameter", None)
    runtime: Any = getattr(_coercion, "RuntimeParam", None)
    build: Any = getattr(_coercion, "build_runtime_param", None)
    original: Any = getattr(parameter, "get_runtime_param", None)
    if parameter is None or runtime is None or build is None or original is None:
        return False
    if getattr(original, "_nestkube_plain", False):
        return True

    @dataclass(frozen=True)
    class PlainParam(runtime):  # type: ignore[misc]
        """Converts plain values itself; hands anything else to typer's conversion."""

        descriptor: Any = None

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                done, result = plain_value(value, self.annotation, self.parameter_info)
            except BadParameter as exc:
                # The parser's own message, with the option it is about named.
                raise BadParameter(exc.message, ctx=ctx, param=param) from None
            if not done and isinstance(self.annotation, type) and issubclass(self.annotation, Enum):
                try:
                    result = coerce_cli_choice(
                        value,
                        choices=tuple(self.annotation),
                        case_sensitive=self.parameter_info.case_sensitive,
                        ctx=ctx,
                    )
                    done = True
                except ValueError:
                    pass
            if done:
                return result
            return build(self.descriptor)._coerce_value(value, param=param, ctx=ctx)

    def get_runtime_param(self: Any) -> Any:
        descriptor = self.type_descriptor
        if self._runtime_param is None and is_plain(
            descriptor.annotation, descriptor.parameter_info
        ):
            self._runtime_param = PlainParam(
                parameter_info=descriptor.parameter_info,
                annotation=descriptor.annotation,
                descriptor=descriptor,
            )
        return original(self)

    get_runtime_param._nestkube_plain = True  # type: ignore[attr-defined]
    parameter.get_runtime_param = get_runtime_param
    return True


def is_plain(annotation: Any, info: Any) -> bool:
    """Whether values of ``annotation`` (with typer's ParameterInfo ``info``) may be plain."""
    if getattr(info, "parser", None) is not None:
        return annotation is str
    if getattr(info, "clamp", False):
        return False
    if annotation in (str, int, bool):
        return True
    return isinstance(annotation, type) and issubclass(annotation, Enum)


def plain_value(value: Any, annotation: Any, info: Any) -> tuple[bool, Any]:
    """(True, converted) when ``value`` converts plainly to ``annotation``, else (False, None).

    A ``parser`` of ``info`` converts a string itself; what it raises is the error.
    """
    parser = getattr(info, "parser", None)
    if parser is not None:
        return (True, parser(value)) if isinstance(value, str) else (False, None)
    if annotation is str and isinstance(value, str):
        return True, value
    if annotation is bool and isinstance(value, bool):
        return True, value
    if annotation is int:
        if isinstance(value, str) and _INTEGER.fullmatch(value):
            number = int(value)
        elif type(value) is int:
            number = value
        else:
            return False, None
        low, high = getattr(info, "min", None), getattr(info, "max", None)
        if (low is not None and number < low) or (high is not None and number > high):
            return False, None
        return True, number
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        for member in annotation:
            if value is member:
                return True, member
    return False, None
