"""Argument parsers of BuildKit's ``line_parsers.go``, shared by both line paths.

Each keyword's arguments are read by one of these once the keyword and the
flags are split off: a JSON array or shell text, a blank-separated list,
``name=value`` words or the legacy ``KEY value`` pair, HEALTHCHECK's type
word. They work on decoded text and raise :class:`LineError` for the two
hard errors a line can have.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

from minikit.frontend.gotext import GO_SPACES, quote, trim_space

# regexp.MustCompile(`[\t\v\f\r ]+`) in parser.go.
BLANKS = re.compile(r"[\t\v\f\r ]+")
_SURROGATE = re.compile("[\ud800-\udfff]")

NOT_STRING_ARRAY = (
    "when using JSON array syntax, arrays must be comprised of strings only"
)

# The parser that each keyword's arguments go through.
EXEC_KEYWORDS = frozenset({"run", "cmd", "entrypoint", "shell"})
LIST_KEYWORDS = frozenset({"add", "copy", "volume"})
STRING_KEYWORDS = frozenset({"maintainer", "user", "workdir", "stopsignal"})
WORDS_KEYWORDS = frozenset({"from", "expose"})
NAMEVAL_KEYWORDS = frozenset({"env", "label"})


class LineError(ValueError):
    """An instruction line that BuildKit's parser rejects, with a hint for the user.

    ``word`` is the part of the line at fault, for the error's column.
    """

    def __init__(
        self, message: str, hint: str | None = None, word: str | None = None
    ) -> None:
        super().__init__(message)
        self.hint = hint
        self.word = word


class BracedValueError(LineError):
    """An ENV or LABEL word split on a blank inside ``${...}``.

    BuildKit's word splitter ignores braces, so ``ENV X=${Y:?Y is unset}``
    fails with "can't find =". ``triples`` contains the pairs read with each
    ``${...}`` kept whole; the converter expands them first and reports an
    expansion error (such as the ``:?`` message) when there is one, and this
    error otherwise.
    """

    def __init__(self, error: LineError, triples: list[str]) -> None:
        super().__init__(str(error), error.hint, error.word)
        self.triples = triples


@dataclass(slots=True)
class Shape:
    """The parsed structure of one instruction line, before line numbers."""

    keyword: str
    flags: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    json: bool = False
    sub: Shape | None = None
    original: str = ""
    # An ENV/LABEL error that the converter reports after expansion.
    deferred_error: LineError | None = None


class _NotJSON(ValueError):
    pass


def _go_number(text: str) -> float:
    # Go decodes JSON numbers into float64 and fails on an overflow, which
    # makes the line fall back to shell form.
    value = float(text)
    if math.isinf(value):
        raise _NotJSON(text)
    return value


def _reject_constant(text: str) -> float:
    raise _NotJSON(text)


def parse_json_array(rest: str) -> list[str] | None:
    """Return the strings of a JSON array, or None when ``rest`` is not one.

    Raise :class:`LineError` for a valid array that contains a non-string.
    """
    text = rest.lstrip(GO_SPACES)
    if not text.startswith("["):
        return None
    try:
        value = json.loads(
            text,
            parse_float=_go_number,
            parse_int=_go_number,
            parse_constant=_reject_constant,
        )
    except (ValueError, RecursionError):
        # NOTE: an array nested deeper than Python's recursion limit falls
        # back to shell form, where Go would reject it as a non-string array.
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(item, str) for item in value):
        raise LineError(
            NOT_STRING_ARRAY,
            hint='quote every element, as in ["echo", "1"]',
            word=text.split(None, 1)[0],
        )
    # Go's decoder turns invalid UTF-8 and lone surrogate escapes into U+FFFD.
    return [_SURROGATE.sub("\ufffd", item) for item in value]


def maybe_json(rest: str) -> tuple[list[str], bool]:
    """Parse RUN/CMD/ENTRYPOINT/SHELL arguments: JSON array, else one string."""
    if rest == "":
        return [], False
    items = parse_json_array(rest)
    if items is not None:
        return items, True
    return [rest], False


def maybe_json_list(rest: str) -> tuple[list[str], bool]:
    """Parse ADD/COPY/VOLUME arguments: JSON array, else blank-separated words."""
    items = parse_json_array(rest)
    if items is not None:
        return items, True
    return blank_split(rest), False


def blank_split(rest: str) -> list[str]:
    """Split FROM/EXPOSE arguments on blanks, ignoring quotes."""
    if rest == "":
        return []
    return BLANKS.split(rest)


def name_values(words: list[str], rest: str, keyword: str) -> list[str]:
    """Build ENV/LABEL triples (key, value, delimiter) from quote-aware words.

    ``rest`` is the trimmed argument text, used for the legacy ``KEY value``
    form, which splits once on blanks and keeps everything after the key.
    """
    if not words:
        return []
    if "=" not in words[0]:
        parts = BLANKS.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise LineError(
                f"{keyword} must have two arguments",
                hint=f"give a value: {keyword} NAME=value",
                word=parts[0],
            )
        return [parts[0], parts[1], ""]
    triples: list[str] = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            error = LineError(
                f"Syntax error - can't find = in {quote(word)}. "
                "Must be of the form: name=value",
                hint="write every word as name=value, and quote a value with "
                'blanks, as in NAME="a b"',
                word=word,
            )
            merged = _join_braced_words(words)
            if merged is None:
                raise error
            raise BracedValueError(error, name_values(merged, rest, keyword))
        triples += (key, value, "=")
    return triples


def set_name_values(shape: Shape, words: list[str], rest: str, keyword: str) -> None:
    """Set ``shape.args`` to the ENV/LABEL triples, deferring a braced-value error."""
    try:
        shape.args = name_values(words, rest, keyword)
    except BracedValueError as exc:
        shape.args = exc.triples
        shape.deferred_error = exc


def _join_braced_words(words: list[str]) -> list[str] | None:
    """Rejoin words split inside ``${...}``; None if that leaves a word without ``=``."""
    joined: list[str] = []
    depth = 0
    for word in words:
        if depth > 0:
            joined[-1] += " " + word
        else:
            joined.append(word)
        depth += word.count("${") - word.count("}")
        depth = max(depth, 0)
    if len(joined) == len(words) or any("=" not in word for word in joined):
        return None
    return joined


def strip_args(rest: str) -> str:
    """Return ``strings.TrimSpace`` of the text after the flags."""
    return trim_space(rest)
