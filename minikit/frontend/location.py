"""Error locations in a Dockerfile: line, column and the span to underline.

Every parse and conversion error names a 1-based line and column. When the
fault is one word (a flag, a value, a heredoc opener), the column is where
that word first appears in the instruction's lines and the span covers it.
Otherwise the error points at the instruction's keyword.
"""

from __future__ import annotations

from minikit.errors import SourceLocation


def find_word(
    lines: tuple[str, ...], start: int, end: int, word: str
) -> tuple[int, int] | None:
    """Return the line and 1-based column of ``word`` in lines ``start..end``."""
    if not word:
        return None
    last = min(max(end, start), len(lines))
    for number in range(start, last + 1):
        column = lines[number - 1].find(word)
        if column >= 0:
            return number, column + 1
    return None


def keyword_column(lines: tuple[str, ...], line: int) -> tuple[int, int]:
    """Return the 1-based start and end column of the first word on ``line``."""
    if not 1 <= line <= len(lines):
        return 1, 2
    text = lines[line - 1].rstrip("\r")
    stripped = text.lstrip()
    if not stripped:
        return 1, 2
    start = len(text) - len(stripped) + 1
    word = stripped.split(maxsplit=1)[0]
    return start, start + len(word)


def instruction_location(
    filename: str,
    lines: tuple[str, ...],
    start: int,
    end: int | None = None,
    word: str | tuple[str | None, ...] | None = None,
) -> SourceLocation:
    """Return the location of ``word`` in an instruction, or of its keyword.

    ``start`` and ``end`` are the instruction's first and last physical
    lines. ``word`` may be a tuple of candidates, tried in order. The span
    under the column covers the word up to the end of its line, or the
    keyword when no word is found.
    """
    last = end if end is not None else start
    candidates = word if isinstance(word, tuple) else (word,)
    found = None
    for candidate in candidates:
        found = find_word(lines, start, last, candidate) if candidate else None
        if found is not None:
            break
    if found is not None:
        line, column = found
        text = lines[line - 1].rstrip("\r")
        end_column = min(column + len(candidate or ""), len(text) + 1)
        end_column = max(end_column, column + 1)
    else:
        line = start
        column, end_column = keyword_column(lines, start)
    return SourceLocation(
        filename,
        line,
        end_line=max(last, line),
        column=column,
        end_column=end_column,
        lines=lines,
    )
