"""ONBUILD triggers of a base: parsed and run first in the stage built on it.

Like BuildKit, each trigger must parse to exactly one instruction, and its
location becomes the FROM line of the stage that runs it, so errors and
source maps point into the Dockerfile being built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minikit.errors import DockerfileError

if TYPE_CHECKING:
    from minikit.frontend.convert.converter import Converter
    from minikit.frontend.convert.state import StageState

_FORBIDDEN = {"ONBUILD", "FROM", "MAINTAINER"}


def parse_trigger(text: str, conv: Converter, state: StageState) -> list[Any]:
    """Parse one trigger (an instruction, with heredoc bodies after a newline)."""
    from minikit.frontend.instructions import parse_command
    from minikit.frontend.parser import parse

    stage = conv.infos[state.index].stage
    source = state.base_pinned or f"stage {state.name}"
    try:
        result = parse(text, conv.filename)
    except DockerfileError as exc:
        raise _trigger_error(exc.message, stage, source, exc.hint) from None
    if len(result.instructions) != 1:
        raise _trigger_error(
            "onbuild trigger should be a single expression", stage, source
        )
    instruction = result.instructions[0]
    if instruction.keyword.upper() in _FORBIDDEN:
        raise _trigger_error(
            f"{instruction.keyword.upper()} isn't allowed as an ONBUILD trigger",
            stage,
            source,
        )
    instruction.start_line = stage.location.start_line
    instruction.end_line = stage.location.end_line
    try:
        return [parse_command(instruction, conv.filename, conv.lines)]
    except DockerfileError as exc:
        raise _trigger_error(exc.message, stage, source, exc.hint) from None


def _trigger_error(
    message: str, stage: Any, source: str, hint: str | None = None
) -> DockerfileError:
    return DockerfileError(
        f"failed to run ONBUILD trigger of {source}: {message}",
        hint=hint
        or "fix the ONBUILD instruction of the base image, or build on another base",
        location=stage.source_location(),
    )
