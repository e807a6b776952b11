"""Split one joined instruction line into keyword, flags and arguments.

The Lark grammar in ``grammar/dockerfile.lark`` defines this structure for
every line. Most lines are simple enough that a few regexes give exactly the
same result, so :func:`parse_line` tries that fast path first. It hands the
line to the grammar when the line has something the fast path does not
model: a quote or backslash inside a flag, quotes or escapes in ENV, LABEL or
ARG words, or bytes that BuildKit reads one by one (flags or a HEALTHCHECK
type outside ASCII, undecodable bytes).
"""

from __future__ import annotations

import re

from minikit.frontend.parser import arguments
from minikit.frontend.parser.arguments import Shape
from minikit.frontend.gotext import GO_SPACE_CLASS, go_lower, trim_space

_KEYWORD_SEP = re.compile(r"[\t\v\f\r ]+")
_SIMPLE_FLAG = re.compile(r"--[^\t\n\v\f\r \"'\\]*")
_FLAG_BLANKS = re.compile(r"[\t\n\v\f\r ]*")
_WORD_BLANKS = re.compile("[" + GO_SPACE_CLASS + "]+")
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_HEALTH_TYPE_END = re.compile(r"[\t\n\v\f\r ]")
_HEALTH_CMD_START = re.compile(r"[^\t\n\v\f\r ]")

# Lines that took the grammar path, for tests and measurements.
grammar_lines = 0
# Tests set this to False to send every line through the grammar.
use_fast_path = True


def parse_line(line: str, escape_token: str) -> Shape:
    """Parse the joined text of one instruction, as ``newNodeFromLine`` does."""
    text = trim_space(line)
    if text == "":
        # A line made only of continuation tokens: BuildKit keeps it as an
        # instruction with an empty keyword, which the typed layer rejects.
        return Shape("", args=[""], original=line)
    shape = _fast_line(text, escape_token) if use_fast_path else None
    if shape is None:
        from minikit.frontend.parser import grammar

        global grammar_lines
        grammar_lines += 1
        shape = grammar.parse_with_grammar(text, escape_token)
    shape.original = line
    return shape


def _fast_line(text: str, escape_token: str) -> Shape | None:
    """Parse ``text`` with regexes, or return None to ask for the grammar."""
    ascii_only = text.isascii()
    if not ascii_only and _UNDECODABLE.search(text):
        return None
    found = _KEYWORD_SEP.search(text)
    if found is None:
        return _dispatch(text, [], "", escape_token, ascii_only)
    keyword = text[: found.start()]
    rest = text[found.end() :]
    flags: list[str] = []
    if rest.startswith("--"):
        if not ascii_only:
            return None
        split = _split_simple_flags(rest)
        if split is None:
            return None
        flags, rest = split
    return _dispatch(keyword, flags, trim_space(rest), escape_token, ascii_only)


def _split_simple_flags(rest: str) -> tuple[list[str], str] | None:
    """Split leading flags that have no quotes or backslashes."""
    flags: list[str] = []
    pos = 0
    while rest.startswith("--", pos):
        end = _SIMPLE_FLAG.match(rest, pos).end()  # type: ignore[union-attr]
        if end < len(rest) and rest[end] not in "\t\n\v\f\r ":
            return None
        word = rest[pos:end]
        if word == "--":
            return flags, rest[end:]
        flags.append(word)
        pos = _FLAG_BLANKS.match(rest, end).end()  # type: ignore[union-attr]
    return flags, rest[pos:]


def _dispatch(
    keyword: str, flags: list[str], args: str, escape_token: str, ascii_only: bool
) -> Shape | None:
    name = go_lower(keyword)
    shape = Shape(keyword, flags)
    if name in arguments.EXEC_KEYWORDS:
        shape.args, shape.json = arguments.maybe_json(args)
    elif name in arguments.LIST_KEYWORDS:
        shape.args, shape.json = arguments.maybe_json_list(args)
    elif name in arguments.STRING_KEYWORDS:
        shape.args = [args] if args else []
    elif name in arguments.WORDS_KEYWORDS:
        shape.args = arguments.blank_split(args)
    elif name in arguments.NAMEVAL_KEYWORDS or name == "arg":
        words = _plain_words(args, escape_token)
        if words is None:
            return None
        if name == "arg":
            shape.args = words
        else:
            arguments.set_name_values(shape, words, args, name.upper())
    elif name == "healthcheck":
        return _health(shape, args) if ascii_only else None
    elif name == "onbuild":
        return _onbuild(shape, args, escape_token)
    else:
        shape.args = [""]
    return shape


def _plain_words(args: str, escape_token: str) -> list[str] | None:
    """Split words that hold no quote and no escape token, else return None."""
    if "'" in args or '"' in args or escape_token in args:
        return None
    return [word for word in _WORD_BLANKS.split(args) if word]


def _health(shape: Shape, args: str) -> Shape:
    if args == "":
        return shape
    end = _HEALTH_TYPE_END.search(args)
    if end is None:
        shape.args = [args]
        return shape
    command = args[end.start() :]
    start = _HEALTH_CMD_START.search(command)
    command = command[start.start() :] if start else ""
    items, shape.json = arguments.maybe_json(command)
    shape.args = [args[: end.start()], *items]
    return shape


def _onbuild(shape: Shape, args: str, escape_token: str) -> Shape | None:
    if args == "":
        return shape
    sub = _fast_line(args, escape_token)
    if sub is None:
        return None
    sub.original = args
    shape.sub = sub
    return shape
