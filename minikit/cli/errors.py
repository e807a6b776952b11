"""Error reports: what failed, the Dockerfile lines around it, and a hint."""

from __future__ import annotations

import re
from typing import IO, Any

from minikit.errors import ExecError, MinikitError, SourceLocation

# Lines of context shown above the offending line.
CONTEXT_LINES = 2
# Lone surrogates: undecodable bytes kept by a ``surrogateescape`` decode.
_SURROGATES = re.compile("[\ud800-\udfff]")
# Control characters that would garble a terminal if a snippet showed them.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


def render_error(error: MinikitError, stream: IO[str], renderer: Any = None) -> None:
    """Write ``error`` as BuildKit does: step output, Dockerfile snippet, ERROR line, hint.

    Characters that ``stream`` cannot encode are written as replacement
    characters, so a report about odd bytes never fails itself.
    """
    parts = []
    if isinstance(error, ExecError) and error.output_tail:
        parts.append("------\n")
        parts.extend(f" {line}\n" for line in error.output_tail)
        parts.append("------\n")
    location = error.location
    if location is not None and location.lines:
        parts.append(_snippet(location))
    prefix = "ERROR: "
    if location is not None:
        where = f"{location.filename}:{location.line}"
        if location.column:
            where += f":{location.column}"
        prefix += f"{where}: "
    parts.append(f"{prefix}{error.message}\n")
    if error.hint:
        parts.append(f"hint: {error.hint}\n")
    stream.write(printable("".join(parts), stream))


def printable(text: str, stream: IO[str]) -> str:
    """Return ``text`` with what ``stream`` cannot encode replaced (U+FFFD or ``?``)."""
    text = _SURROGATES.sub("\ufffd", text)
    encoding = getattr(stream, "encoding", None)
    if not encoding:
        return text
    return text.encode(encoding, "replace").decode(encoding)


def _snippet(location: SourceLocation) -> str:
    lines = location.lines
    first = max(1, location.line - CONTEXT_LINES)
    last = min(len(lines), location.end_line or location.line)
    if last < location.line:
        last = location.line
    width = len(str(last))
    out = [f"{location.filename}:{location.line}", "-" * 20]
    for number in range(first, last + 1):
        if number > len(lines):
            break
        text = _CONTROL.sub("\ufffd", lines[number - 1].rstrip("\r"))
        marker = (
            ">>>"
            if location.line <= number <= (location.end_line or location.line)
            else "   "
        )
        out.append(f" {number:>{width}} | {marker} {text}")
        if number == location.line and location.column:
            span = max(
                1, (location.end_column or location.column + 1) - location.column
            )
            out.append(
                f" {'':>{width}} |     {' ' * (location.column - 1)}{'^' * span}"
            )
    out.append("-" * 20)
    return "\n".join(out) + "\n"
