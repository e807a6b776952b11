"""Variable expansion and word splitting with the semantics of BuildKit's shell lexer.

The rules follow BuildKit's ``frontend/dockerfile/shell/lex.go``. They cover
quotes, the escape token, ``$name`` and ``${name}``, and the POSIX modifiers
``-``, ``+`` and ``?`` with or without ``:``. They also cover prefix and
suffix removal (``#``, ``##``, ``%``, ``%%``), pattern replacement (``/`` and
``//``) and BuildKit's error texts. Names are letters, digits and ``_``. A
leading digit starts a positional parameter, and ``@ * # ? - $ ! 0`` are
one-character special parameters; neither kind is ever set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from minikit.errors import ShellExpansionError
from minikit.frontend.gotext import GO_SPACE_CLASS, quote
from minikit.frontend.shell import pattern as shell_pattern

_SPECIAL_PARAMETERS = "@*#?-$!0"
_GO_SPACE = re.compile("[" + GO_SPACE_CLASS + "]+")
_INVALID_BYTE = re.compile("[\udc80-\udcff]")
# Go prints a missing rune (end of input) as U+FFFD in "%s" of string(rune).
_END_OF_INPUT = "\ufffd"
# Characters of an over-long word that an error message quotes.
_SHOWN_WORD_CHARS = 60


class _SyntaxError(Exception):
    """An expansion failure inside the processor, before the caller's wrapping."""


class _Words:
    """Word splitting state: whitespace from unquoted text separates words."""

    __slots__ = ("current", "in_word", "words")

    def __init__(self) -> None:
        self.current: list[str] = []
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch.isspace() and _is_go_space(ch):
            if self.in_word and self.current:
                self.words.append("".join(self.current))
                self.current = []
                self.in_word = False
            return
        self.current.append(ch)
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw(self, text: str) -> None:
        if text:
            self.current.append(text)
        self.in_word = True

    def finish(self) -> list[str]:
        if self.current:
            self.words.append("".join(self.current))
            self.current = []
            self.in_word = False
        return self.words


def _is_go_space(ch: str) -> bool:
    # str.isspace() also accepts U+001C..U+001F, which Go does not.
    return not ("\x1c" <= ch <= "\x1f")


class _Processor:
    """One pass over one word, holding the scan position and what it found."""

    def __init__(self, lexer: Lexer, source: str, env: Mapping[str, str]) -> None:
        self.lexer = lexer
        self.src = source
        self.pos = 0
        self.env = env
        self.raw_escapes = lexer.raw_escapes
        self.matches: set[str] = set()
        self.unmatched: set[str] = set()

    def run(self) -> tuple[str, list[str]]:
        return self.process_until(None, self.raw_escapes)

    def process_until(
        self, stop: str | None, raw_escapes: bool
    ) -> tuple[str, list[str]]:
        """Process characters until ``stop`` (consumed) or, for None, the end."""
        saved = self.raw_escapes
        self.raw_escapes = raw_escapes
        try:
            return self._scan(stop)
        finally:
            self.raw_escapes = saved

    def _scan(self, stop: str | None) -> tuple[str, list[str]]:
        src = self.src
        escape = self.lexer.escape_token
        quotes = "" if self.lexer.skip_process_quotes else "'\""
        result: list[str] = []
        words = _Words()
        while self.pos < len(src):
            ch = src[self.pos]
            if ch == stop:
                self.pos += 1
                return "".join(result), words.finish()
            if ch == "$":
                text = self.dollar()
                result.append(text)
                words.add_string(text)
                continue
            if ch in quotes:
                text = self.single_quote() if ch == "'" else self.double_quote()
                result.append(text)
                words.add_raw(text)
                continue
            self.pos += 1
            if ch == escape:
                if self.raw_escapes:
                    words.add_raw(ch)
                    result.append(ch)
                if self.pos >= len(src):
                    break
                ch = src[self.pos]
                self.pos += 1
                words.add_raw(ch)
            else:
                words.add_char(ch)
            result.append(ch)
        if stop is not None:
            raise _SyntaxError(
                f"unexpected end of statement while looking for matching {stop}"
            )
        return "".join(result), words.finish()

    def single_quote(self) -> str:
        src = self.src
        raw = self.lexer.raw_quotes
        self.pos += 1
        out = ["'"] if raw else []
        while True:
            if self.pos >= len(src):
                raise _SyntaxError(
                    "unexpected end of statement while looking for matching "
                    "single-quote"
                )
            ch = src[self.pos]
            self.pos += 1
            if ch == "'":
                if raw:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def double_quote(self) -> str:
        src = self.src
        raw = self.lexer.raw_quotes
        escape = self.lexer.escape_token
        self.pos += 1
        out = ['"'] if raw else []
        while True:
            if self.pos >= len(src):
                raise _SyntaxError(
                    "unexpected end of statement while looking for matching "
                    "double-quote"
                )
            ch = src[self.pos]
            if ch == '"':
                self.pos += 1
                if raw:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            self.pos += 1
            if ch == escape:
                if self.raw_escapes:
                    out.append(ch)
                if self.pos >= len(src):
                    continue
                following = src[self.pos]
                if following in ('"', "$", escape):
                    ch = following
                    self.pos += 1
            out.append(ch)

    def dollar(self) -> str:
        src = self.src
        self.pos += 1
        if self.pos >= len(src) or src[self.pos] != "{":
            name = self.name()
            if name == "":
                return "$"
            value = self.lookup(name)
            if value is None:
                return "$" + name if self.lexer.skip_unset_env else ""
            return value
        self.pos += 1
        if self.pos >= len(src):
            raise _SyntaxError("syntax error: missing '}'")
        if src[self.pos] in "{}:":
            raise _SyntaxError("syntax error: bad substitution")
        name = self.name()
        return self.braced(name)

    def braced(self, name: str) -> str:
        ch = self.next_char()
        if ch == "}":
            value = self.lookup(name)
            if value is None:
                return "${" + name + "}" if self.lexer.skip_unset_env else ""
            return value
        if ch == "" and name:
            # NOTE: BuildKit reports "unsupported modifier (\ufffd)" here; the
            # missing brace is the real cause, so the message names it.
            raise _SyntaxError("syntax error: missing '}'")
        if ch == ":":
            modifier = self.next_char()
            return self.modifier(
                name, ":" + (modifier or _END_OF_INPUT), modifier, True
            )
        if ch in ("+", "-", "?", "#", "%"):
            return self.modifier(name, ch, ch, False)
        if ch == "/":
            return self.substitute(name)
        raise _SyntaxError(
            f"unsupported modifier ({ch or _END_OF_INPUT}) in substitution"
        )

    def modifier(self, name: str, spelled: str, op: str, null_is_unset: bool) -> str:
        trims = op in ("#", "%")
        if null_is_unset and trims:
            raise _SyntaxError(f"unsupported modifier ({spelled}) in substitution")
        word = self.operand("}", trims)
        value = self.lookup(name)
        if value is None and self.lexer.skip_unset_env:
            return "${" + name + spelled + word + "}"
        unset_or_null = value is None or (null_is_unset and value == "")
        if op == "-":
            return word if unset_or_null else str(value)
        if op == "+":
            return "" if unset_or_null else word
        if op == "?":
            return self.required(name, value, word, null_is_unset)
        if trims:
            return self.trim(op, word, value or "")
        raise _SyntaxError(f"unsupported modifier ({spelled}) in substitution")

    def required(
        self, name: str, value: str | None, word: str, null_is_unset: bool
    ) -> str:
        if value is None:
            raise _SyntaxError(f"{name}: {word or 'is not allowed to be unset'}")
        if null_is_unset and value == "":
            raise _SyntaxError(f"{name}: {word or 'is not allowed to be empty'}")
        return value

    def trim(self, op: str, word: str, value: str) -> str:
        greedy = word[:1] == op
        if greedy:
            word = word[1:]
        try:
            if op == "%":
                return shell_pattern.trim_suffix(word, value, greedy)
            return shell_pattern.trim_prefix(word, value, greedy)
        except shell_pattern.PatternError as exc:
            raise _SyntaxError(
                f"invalid pattern ({word}) in substitution: {exc}"
            ) from None

    def substitute(self, name: str) -> str:
        replace_all = self.src.startswith("/", self.pos)
        if replace_all:
            self.pos += 1
        try:
            found = self.process_until("/", True)[0]
        except _SyntaxError:
            if self.pos >= len(self.src):
                raise _SyntaxError("syntax error: missing '/' in ${}") from None
            raise
        replacement = self.operand("}", True)
        value = self.lookup(name)
        if value is None and self.lexer.skip_unset_env:
            return "${" + name + "/" + found + "/" + replacement + "}"
        try:
            return shell_pattern.replace(found, value or "", replacement, replace_all)
        except shell_pattern.PatternError as exc:
            raise _SyntaxError(
                f"invalid pattern ({found}) in substitution: {exc}"
            ) from None

    def operand(self, stop: str, raw_escapes: bool) -> str:
        """Process the word inside a modifier up to ``stop``."""
        try:
            return self.process_until(stop, raw_escapes)[0]
        except _SyntaxError:
            if self.pos >= len(self.src):
                raise _SyntaxError("syntax error: missing '}'") from None
            raise

    def next_char(self) -> str:
        if self.pos >= len(self.src):
            return ""
        ch = self.src[self.pos]
        self.pos += 1
        return ch

    def name(self) -> str:
        src = self.src
        start = self.pos
        if start < len(src):
            first = src[start]
            if first.isdecimal():
                end = start
                while end < len(src) and src[end].isdecimal():
                    end += 1
                self.pos = end
                return src[start:end]
            if first in _SPECIAL_PARAMETERS:
                self.pos += 1
                return first
        end = start
        while end < len(src) and (
            src[end].isalpha() or src[end].isdecimal() or src[end] == "_"
        ):
            end += 1
        self.pos = end
        return src[start:end]

    def lookup(self, name: str) -> str | None:
        value = self.env.get(name)
        if value is None:
            self.unmatched.add(name)
            return None
        self.matches.add(name)
        return value


class Lexer:
    """A shell-word lexer configured like BuildKit's ``shell.Lex``.

    ``raw_quotes`` keeps quote characters in the output, ``raw_escapes`` keeps
    escape tokens, ``skip_unset_env`` leaves references to unset variables as
    written, and ``skip_process_quotes`` treats quotes as ordinary characters
    (used for heredoc bodies). The lexer is stateless between calls.
    """

    def __init__(
        self,
        escape_token: str = "\\",
        *,
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_unset_env: bool = False,
        skip_process_quotes: bool = False,
    ) -> None:
        if escape_token not in ("\\", "`"):
            raise ValueError(f"invalid escape token {escape_token!r}: use \\ or `")
        self.escape_token = escape_token
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_unset_env = skip_unset_env
        self.skip_process_quotes = skip_process_quotes
        specials = "$" + escape_token + ("" if skip_process_quotes else "'\"")
        self._special = re.compile("[" + re.escape(specials) + "]")

    def process_word(self, word: str, env: Mapping[str, str]) -> str:
        """Expand ``word`` into one string; whitespace from values is kept."""
        return self._process(word, env)[0]

    def process_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """Expand ``word`` and split it into words as the shell would."""
        return self._process(word, env)[1]

    def process_word_with_matches(
        self, word: str, env: Mapping[str, str]
    ) -> tuple[str, set[str], set[str]]:
        """Expand ``word``; also return the names found in ``env`` and those unset."""
        result, _, processor = self._run(word, env)
        if processor is None:
            return result, set(), set()
        return result, processor.matches, processor.unmatched

    def _process(self, word: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
        result, words, _ = self._run(word, env)
        return result, words

    def _run(
        self, word: str, env: Mapping[str, str]
    ) -> tuple[str, list[str], _Processor | None]:
        source = _normalize(word)
        if not self._special.search(source):
            return source, [w for w in _GO_SPACE.split(source) if w], None
        processor = _Processor(self, source, env)
        try:
            result, words = processor.run()
        except _SyntaxError as exc:
            raise ShellExpansionError(
                f"failed to process {quote(word)}: {exc}"
            ) from None
        except RecursionError:
            # Each nested ${...} costs a few Python frames, so the interpreter's
            # recursion limit caps the nesting depth (about 150 levels).
            raise ShellExpansionError(
                f"failed to process {quote(_shorten(word))}: variable "
                "substitutions are nested too deeply",
                hint="nest fewer ${...} expressions inside each other",
            ) from None
        return result, words, processor


def _shorten(word: str) -> str:
    """Return ``word`` cut to a length that fits in an error message."""
    if len(word) <= _SHOWN_WORD_CHARS:
        return word
    return word[:_SHOWN_WORD_CHARS] + "..."


def _normalize(word: str) -> str:
    # Go's text/scanner skips a leading byte order mark and reads each invalid
    # UTF-8 byte as U+FFFD.
    word = word.removeprefix("\ufeff")
    if not word.isascii():
        word = _INVALID_BYTE.sub("\ufffd", word)
    return word
