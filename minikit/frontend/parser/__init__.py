"""The Dockerfile parser: text in, instructions out, with BuildKit's rules.

:func:`parse` reads a Dockerfile into a :class:`ParseResult`, and
:func:`dump` renders it in the format of BuildKit's ``AST.Dump()``.
"""

from __future__ import annotations

from pathlib import Path

from minikit.errors import DockerfileParseError
from minikit.frontend.location import instruction_location
from minikit.frontend.parser.dump import dump
from minikit.frontend.parser.model import (
    Heredoc,
    Instruction,
    ParseResult,
    ParseWarning,
)
from minikit.frontend.parser.reader import read

__all__ = [
    "Heredoc",
    "Instruction",
    "ParseResult",
    "ParseWarning",
    "debug_parse",
    "dump",
    "parse",
]


def parse(data: bytes | str, filename: str = "Dockerfile") -> ParseResult:
    """Parse a Dockerfile; raise ``DockerfileParseError`` with the line on failure.

    Bytes are decoded as UTF-8, keeping undecodable bytes; ``filename`` only
    names the file in error locations.
    """
    return read(data, filename)


def debug_parse(path: Path) -> str:
    """Return the AST dump of the Dockerfile at ``path``.

    Raise the error that BuildKit's parser raises for an ENV or LABEL word
    split inside ``${...}``, which only the converter reports otherwise.
    """
    result = parse(path.read_bytes(), filename=str(path))
    for instruction in result.instructions:
        error = instruction.deferred_error
        if error is not None:
            location = instruction_location(
                result.filename,
                result.lines,
                instruction.start_line,
                instruction.end_line,
                error.word,
            )
            raise DockerfileParseError(str(error), hint=error.hint, location=location)
    return dump(result)
