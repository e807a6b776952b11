"""The line reader: physical lines in, instructions out.

This pass does what the grammar cannot: parser directives, the escape token,
continuation lines, comment and blank lines inside continuations, the byte
order mark, the line length limit and heredoc bodies. It follows BuildKit's
``parser.Parse`` step by step, and it runs in one pass over the lines.
"""

from __future__ import annotations

import re

from minikit.errors import DockerfileParseError, SourceLocation
from minikit.frontend.location import instruction_location
from minikit.frontend.parser.arguments import LineError, Shape
from minikit.frontend.gotext import (
    GO_SPACES,
    decode,
    encode,
    go_lower,
    trim_space,
)
from minikit.frontend.parser.heredoc import heredocs_from_line
from minikit.frontend.parser.line import parse_line
from minikit.frontend.parser.model import (
    Heredoc,
    Instruction,
    ParseResult,
    ParseWarning,
)

# bufio.Scanner's default buffer: a line of 64 KiB or more cannot be read.
MAX_LINE_BYTES = 65535
# Chars per line below which no line can reach the byte limit (4 bytes a char).
_SAFE_LINE_CHARS = (MAX_LINE_BYTES + 1) // 4

# RE2's \s is [\t\n\f\r ]; the key is ASCII and matched case-insensitively.
_DIRECTIVE = re.compile(
    r"#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\Z"
)
_KNOWN_DIRECTIVES = frozenset({"syntax", "escape", "check"})
_HEREDOC_KEYWORDS = frozenset({"add", "copy", "run"})
EMPTY_CONTINUATION_RULE = "NoEmptyContinuation"


def continuation_regex(escape_token: str) -> re.Pattern[str]:
    """Return BuildKit's line continuation regex for ``escape_token``.

    The token continues a line when only blanks follow it and the character
    before it is not another token, so ``foo\\\\`` (an escaped backslash) ends
    the instruction. The flip side, kept from BuildKit: ``foo\\\\\\`` does not
    continue either.
    """
    token = re.escape(escape_token)
    return re.compile(f"(?:([^{token}]){token}|^{token})[ \\t]*\\Z")


class _Reader:
    """The state of one parse: position, escape token, directives, comments."""

    def __init__(self, text: str, filename: str) -> None:
        self.filename = filename
        self.source_lines = tuple(text.split("\n"))
        lines = list(self.source_lines)
        self.final_newline = lines[-1] == ""
        if self.final_newline:
            lines.pop()
        if lines and lines[0].startswith("\ufeff"):
            lines[0] = lines[0][1:]
        self.lines = lines
        self.index = 0
        self.current = 0
        self.escape_token = "\\"
        self.continuation = continuation_regex("\\")
        self.directives: dict[str, tuple[str, int]] = {}
        self.directives_done = False
        self.warnings: list[ParseWarning] = []
        self.instructions: list[Instruction] = []

    def location(
        self, line: int, end_line: int | None = None, word: str | None = None
    ) -> SourceLocation:
        return instruction_location(
            self.filename, self.source_lines, line, end_line, word
        )

    def error(
        self,
        message: str,
        line: int,
        end_line: int | None = None,
        hint: str | None = None,
        word: str | None = None,
    ) -> DockerfileParseError:
        return DockerfileParseError(
            message, hint=hint, location=self.location(line, end_line, word)
        )

    def run(self) -> ParseResult:
        self.check_line_lengths()
        comments: list[str] = []
        while self.index < len(self.lines):
            raw = self.lines[self.index]
            self.index += 1
            self.current += 1
            stripped = raw.lstrip(GO_SPACES)
            is_comment = stripped.startswith("#")
            if is_comment:
                comments = _collect_comment(comments, raw)
            if not self.directives_done and self.read_directive(stripped.rstrip("\r")):
                comments.pop()
            if is_comment:
                continue
            if self.read_instruction(stripped.rstrip("\r"), comments):
                comments = []
        if not self.instructions:
            raise self.error(
                "file with no instructions",
                max(self.current, 1),
                hint="add at least one instruction, such as FROM",
            )
        return ParseResult(
            self.instructions,
            self.escape_token,
            self.directives,
            self.warnings,
            self.filename,
            self.source_lines,
        )

    def check_line_lengths(self) -> None:
        for number, line in enumerate(self.lines, start=1):
            if len(line) < _SAFE_LINE_CHARS:
                continue
            if len(encode(line)) > MAX_LINE_BYTES:
                raise self.error(
                    "dockerfile line greater than max allowed size of "
                    f"{MAX_LINE_BYTES}",
                    number,
                    hint="split the line with continuations or move data into a file",
                )

    def read_directive(self, line: str) -> bool:
        """Record a parser directive on ``line``; return True if it was one."""
        match = _DIRECTIVE.match(line)
        key = match.group(1).lower() if match else ""
        if key not in _KNOWN_DIRECTIVES:
            self.directives_done = True
            return False
        assert match is not None
        if key in self.directives:
            raise self.error(
                f"only one {key} parser directive can be used",
                self.current,
                hint=f"remove the extra '# {key}=' line",
                word=match.group(1),
            )
        value = match.group(2)
        if key == "escape":
            self.set_escape_token(value)
        self.directives[key] = (value, self.current)
        return True

    def set_escape_token(self, value: str) -> None:
        if value not in ("`", "\\"):
            raise self.error(
                f"invalid escape token '{value}' does not match ` or \\",
                self.current,
                hint="use '# escape=\\' or '# escape=`'",
                word=value,
            )
        self.escape_token = value
        self.continuation = continuation_regex(value)

    def trim_continuation(self, line: str) -> tuple[str, bool]:
        """Strip a trailing continuation token; return the line and whether it ended."""
        if not line or line[-1] not in (self.escape_token, " ", "\t"):
            return line, True
        match = self.continuation.search(line)
        if match is None:
            return line, True
        return line[: match.start()] + (match.group(1) or ""), False

    def read_instruction(self, first: str, comments: list[str]) -> bool:
        """Read the instruction that starts on ``first``; False for a blank line."""
        start_line = self.current
        text, ended = self.trim_continuation(first)
        if ended and not text:
            return False
        line = text if ended else self.join_continuation(text)
        try:
            shape = parse_line(line, self.escape_token)
        except LineError as exc:
            raise self.error(
                str(exc), start_line, self.current, exc.hint, exc.word
            ) from None
        deferred = shape.sub.deferred_error if shape.sub is not None else None
        if deferred is not None:
            # An ONBUILD trigger is not expanded here, so nothing can come first.
            raise self.error(
                str(deferred), start_line, self.current, deferred.hint, deferred.word
            )
        heredocs = self.read_heredocs(shape, line, start_line)
        self.instructions.append(
            _instruction(shape, heredocs, start_line, self.current, comments)
        )
        return True

    def join_continuation(self, text: str) -> str:
        """Append continuation lines to ``text`` until one does not continue."""
        parts = [text]
        has_empty_line = False
        ended = False
        while not ended and self.index < len(self.lines):
            raw = self.lines[self.index]
            self.index += 1
            self.current += 1
            content = raw.rstrip("\r")
            stripped = content.lstrip(GO_SPACES)
            if stripped.startswith("#"):
                continue
            if not stripped:
                has_empty_line = True
                continue
            content, ended = self.trim_continuation(content)
            parts.append(content)
        line = "".join(parts)
        if has_empty_line:
            message = "Empty continuation line found in: " + line
            self.warnings.append(
                ParseWarning(EMPTY_CONTINUATION_RULE, message, self.current)
            )
        return line

    def read_heredocs(self, shape: Shape, line: str, start_line: int) -> list[Heredoc]:
        if "<<" not in line or not _can_contain_heredoc(shape):
            return []
        try:
            docs = heredocs_from_line(line)
        except LineError as exc:
            raise self.error(
                str(exc), start_line, self.current, exc.hint, exc.word
            ) from None
        for doc in docs:
            doc.content = self.read_heredoc_body(doc, start_line)
        return docs

    def read_heredoc_body(self, doc: Heredoc, start_line: int) -> str:
        body: list[str] = []
        last = len(self.lines) - 1
        while self.index < len(self.lines):
            raw = self.lines[self.index]
            self.index += 1
            self.current += 1
            candidate = raw.rstrip("\r")
            if doc.chomp:
                candidate = candidate.lstrip("\t")
            if candidate == doc.name:
                return "".join(body)
            body.append(raw)
            if self.index - 1 < last or self.final_newline:
                body.append("\n")
        raise self.error(
            "unterminated heredoc",
            start_line,
            self.current,
            hint=f"end the heredoc with a line that holds only {doc.name!r}, "
            "with no blanks before it (or tabs only, after <<-)",
            word="<<",
        )


def _collect_comment(comments: list[str], raw: str) -> list[str]:
    # BuildKit drops the first byte of the line (normally the "#") and trims.
    if raw[:1].isascii():
        text = trim_space(raw[1:])
    else:
        text = trim_space(decode(encode(raw)[1:]))
    if text == "":
        return []
    comments.append(text)
    return comments


def _can_contain_heredoc(shape: Shape) -> bool:
    node = shape
    if go_lower(node.keyword) == "onbuild" and node.sub is not None:
        node = node.sub
    return go_lower(node.keyword) in _HEREDOC_KEYWORDS and not node.json


def _instruction(
    shape: Shape, heredocs: list[Heredoc], start: int, end: int, comments: list[str]
) -> Instruction:
    sub = None
    if shape.sub is not None:
        sub = _instruction(shape.sub, [], start, end, [])
    return Instruction(
        go_lower(shape.keyword),
        shape.original,
        shape.flags,
        shape.args,
        shape.json,
        sub,
        heredocs,
        start,
        end,
        comments,
        shape.keyword,
        shape.deferred_error,
    )


def read(data: bytes | str, filename: str) -> ParseResult:
    """Parse Dockerfile ``data`` (bytes are decoded as UTF-8)."""
    text = decode(bytes(data)) if not isinstance(data, str) else data
    return _Reader(text, filename).run()
