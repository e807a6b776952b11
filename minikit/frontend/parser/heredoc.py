"""Heredoc detection: which words of an instruction open a here-document.

BuildKit word-splits the whole joined line with its shell lexer (raw quotes,
raw escapes, unset variables kept, always the backslash as escape token) and
tests each word against ``^(\\d*)<<(-?)\\s*([^<]*)$``. A quote anywhere in
the delimiter turns expansion off; ``<<-`` strips leading tabs.
"""

from __future__ import annotations

import re

from minikit.errors import ShellExpansionError
from minikit.frontend.parser.arguments import LineError
from minikit.frontend.parser.model import Heredoc
from minikit.frontend.shell import Lexer

# RE2's \d and \s are ASCII-only, and its \s has no \v.
_HEREDOC_WORD = re.compile(r"([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)\Z")
_OPENER_ONLY = re.compile(r"[0-9]*<<-?\Z")
_LEADING_TABS = re.compile(r"^\t+", re.MULTILINE)
_MAX_FD = 2**64 - 1

_line_lexer = Lexer("\\", raw_quotes=True, raw_escapes=True, skip_unset_env=True)
_name_lexer = Lexer("\\", skip_unset_env=True)
_raw_name_lexer = Lexer("\\", raw_quotes=True, skip_unset_env=True)


def heredocs_from_line(line: str) -> list[Heredoc]:
    """Return the heredocs that ``line`` opens, in order, with empty bodies.

    A line that the lexer cannot split opens none, as in BuildKit; a
    delimiter that cannot be lexed raises :class:`LineError`.
    """
    try:
        words = _line_lexer.process_words(line, {})
    except ShellExpansionError:
        return []
    docs: list[Heredoc] = []
    for word in _glue_openers(words):
        doc = parse_heredoc(word)
        if doc is not None:
            docs.append(doc)
    return docs


def _glue_openers(words: list[str]) -> list[str]:
    # A bare "<<" (or "<<-", "3<<") takes the next word as its delimiter, so
    # "cat << EOF" opens a heredoc as "cat <<EOF" does.
    glued: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        following = words[index + 1] if index + 1 < len(words) else "<"
        if _OPENER_ONLY.match(word) and "<" not in following:
            word = word + " " + words[index + 1]
            index += 1
        glued.append(word)
        index += 1
    return glued


def parse_heredoc(word: str) -> Heredoc | None:
    """Return the heredoc that ``word`` opens, or None if it opens none."""
    match = _HEREDOC_WORD.match(word)
    if match is None:
        return None
    digits, dash, rest = match.groups()
    if rest == "":
        return None
    try:
        names = _name_lexer.process_words(rest, {})
        if len(names) != 1:
            return None
        raw_names = _raw_name_lexer.process_words(rest, {})
    except ShellExpansionError as exc:
        raise LineError(
            str(exc), hint="quote the heredoc delimiter in full", word=rest
        ) from None
    if len(raw_names) != 1:
        raise LineError(
            f"internal lexing of heredoc produced inconsistent results: {rest}",
            hint="write the delimiter as one word, such as <<EOF or <<'EOF'",
            word=rest,
        )
    name = names[0]
    raw = raw_names[0]
    expand = _count_quotes(name) == _count_quotes(raw)
    descriptor = min(int(digits), _MAX_FD) if digits else 0
    return Heredoc(name, "", descriptor, expand, dash == "-")


def _count_quotes(text: str) -> int:
    return text.count("'") + text.count('"')


def chomp_heredoc_content(content: str) -> str:
    """Strip leading tabs from every line of ``content``, as ``<<-`` requests."""
    return _LEADING_TABS.sub("", content)
