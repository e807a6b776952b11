"""ONBUILD triggers of a base: parsed and run first in the stage built on it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minikit.errors import DockerfileError

if TYPE_CHECKING:
    from minikit.frontend.convert.converter import Converter
    from minikit.frontend.convert.state import StageState

_FORBIDDEN = {"ONBUILD", "FROM", "MAINTAINER"}


def parse_trigger(text: str, conv: "Converter", state: "StageState") -> list[Any]:
    """Parse one trigger (an instruction, with heredoc bodies after a newline)."""
    from minikit.frontend.instructions import parse_command
    from minikit.frontend.parser import parse

    source = state.base_pinned or f"stage {state.name}"
    filename = f"ONBUILD trigger of {source}"
    result = parse(text, filename)
    commands = []
    for instruction in result.instructions:
        if instruction.keyword.upper() in _FORBIDDEN:
            raise DockerfileError(
                f"{instruction.keyword.upper()} isn't allowed as an ONBUILD trigger",
                hint=f"the base image {source} carries an invalid ONBUILD trigger",
            )
        commands.append(parse_command(instruction, filename, result.lines))
    return commands
