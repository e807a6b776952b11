"""Error reports: what failed, the Dockerfile lines around it, and a hint."""

from __future__ import annotations

from typing import IO, Any

from minikit.errors import ExecError, MinikitError, SourceLocation

# Lines of context shown above the offending line.
CONTEXT_LINES = 2


def render_error(error: MinikitError, stream: IO[str], renderer: Any = None) -> None:
    """Write ``error`` as BuildKit does: step output, Dockerfile snippet, ERROR line, hint."""
    if isinstance(error, ExecError) and error.output_tail:
        stream.write("------\n")
        for line in error.output_tail:
            stream.write(f" {line}\n")
        stream.write("------\n")
    location = error.location
    if location is not None and location.lines:
        stream.write(_snippet(location))
    prefix = "ERROR: "
    if location is not None:
        where = f"{location.filename}:{location.line}"
        if location.column:
            where += f":{location.column}"
        prefix += f"{where}: "
    stream.write(f"{prefix}{error.message}\n")
    if error.hint:
        stream.write(f"hint: {error.hint}\n")


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
        text = lines[number - 1].rstrip("\r")
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
