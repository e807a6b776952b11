"""The parse tree of a Dockerfile: one :class:`Instruction` per logical line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from minikit.frontend.parser.arguments import LineError


@dataclass
class Heredoc:
    """A here-document attached to a RUN, COPY or ADD instruction."""

    name: str  # the delimiter word, unquoted
    content: str  # the raw body with its final newline; the terminator is excluded
    file_descriptor: int = 0  # 3 for 3<<EOF, else 0
    expand: bool = True  # False when any part of the delimiter was quoted
    chomp: bool = False  # True for <<-, whose leading tabs are stripped on use


@dataclass
class Instruction:
    """One Dockerfile instruction as BuildKit's parser produces it.

    ``args`` contains the values that BuildKit's AST dump prints: one string for
    shell form, the elements of a JSON array, ``(key, value, delimiter)``
    triples for ENV and LABEL, the type word then the command for
    HEALTHCHECK, and ``[""]`` for an unknown keyword. ONBUILD has no args;
    its trigger is in ``sub``.
    """

    keyword: str  # lowercased: "run", or "foo" for an unknown keyword
    original: str  # the joined line, continuation tokens removed
    flags: list[str]  # leading --flags with quotes removed
    args: list[str]
    json: bool  # exec (JSON array) form
    sub: Instruction | None
    heredocs: list[Heredoc]
    start_line: int  # 1-based first physical line
    end_line: int  # 1-based last physical line, heredoc bodies included
    prev_comment: list[str]  # comment lines directly above, without "#"
    raw_keyword: str = ""  # the keyword as written, e.g. "Run"
    # An ENV/LABEL word split inside ${...}: BuildKit rejects the line, and the
    # converter raises this unless expanding the value fails first.
    deferred_error: LineError | None = None

    def __post_init__(self) -> None:
        if not self.raw_keyword:
            self.raw_keyword = self.keyword


@dataclass
class ParseWarning:
    """A problem the parser found but accepted, such as an empty continuation line."""

    rule: str
    message: str
    line: int


@dataclass
class ParseResult:
    """A parsed Dockerfile and what the parser learned about it."""

    instructions: list[Instruction]
    escape_token: str  # "\\" or "`"
    directives: dict[str, tuple[str, int]]  # name -> (value, 1-based line)
    warnings: list[ParseWarning]
    filename: str
    lines: tuple[str, ...] = field(repr=False)  # the source split on "\n"
