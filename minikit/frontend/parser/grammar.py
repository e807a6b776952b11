"""The Lark path of the line parser: load the grammar and turn its tree into a Shape.

Lark is imported on first use only. The compiled LALR tables are cached in
``$XDG_CACHE_HOME/minikit/`` (``~/.cache/minikit/`` by default) through Lark's
own ``cache=`` option. Lark checks the grammar text and the imported files
before it trusts a cache file. When that folder cannot be created or written,
the grammar is compiled in memory in each process.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import minikit
from minikit.frontend.parser import arguments
from minikit.frontend.parser.arguments import LineError, Shape
from minikit.frontend.gotext import (
    from_byte_view,
    go_lower,
    to_byte_view,
    trim_space,
)

if TYPE_CHECKING:
    from lark import Lark, Token, Tree

logger = logging.getLogger(__name__)

# The FLAG terminal of dockerfile.lark without its trailing blanks.
_FLAG_BODY = re.compile(
    r"""--(?:[^\t\n\v\f\r \x85\xa0"'\\]|\\[\s\S]?|"(?:[^"\\]|\\[\s\S]?)*"?"""
    r"""|'(?:[^'\\]|\\[\s\S]?)*'?)*"""
)
_GRAMMAR_FILES = {"\\": "dockerfile.lark", "`": "dockerfile-backtick.lark"}
_parsers: dict[str, Lark] = {}
_lock = threading.Lock()


def grammar_dir() -> Path:
    """Return the folder that contains the ``.lark`` files.

    An installed wheel carries them in ``minikit/grammar``; a source checkout
    keeps them in ``grammar/`` next to the ``minikit`` package.
    """
    package = Path(minikit.__file__).parent
    installed = package / "grammar"
    if installed.is_dir():
        return installed
    return package.parent / "grammar"


def cache_dir() -> Path | None:
    """Return a writable cache folder for compiled grammars, or None."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    folder = Path(base) / "minikit"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        logger.debug("grammar cache disabled: cannot create %s: %s", folder, exc)
        return None
    if not os.access(folder, os.W_OK):
        logger.debug("grammar cache disabled: %s is not writable", folder)
        return None
    return folder


def get_parser(escape_token: str) -> Lark:
    """Return the LALR parser for ``escape_token``, compiling it once per process."""
    parser = _parsers.get(escape_token)
    if parser is not None:
        return parser
    with _lock:
        parser = _parsers.get(escape_token)
        if parser is None:
            parser = _load(_GRAMMAR_FILES[escape_token])
            _parsers[escape_token] = parser
    return parser


def _load(filename: str) -> Lark:
    from lark import Lark

    path = grammar_dir() / filename
    folder = cache_dir()
    cache: str | bool = str(folder / (filename + ".cache")) if folder else False
    logger.debug("loading grammar %s (cache: %s)", path, cache or "off")
    return Lark.open(
        str(path),
        parser="lalr",
        lexer="contextual",
        maybe_placeholders=True,
        cache=cache,
    )


def parse_with_grammar(text: str, escape_token: str) -> Shape:
    """Parse one trimmed instruction line with the grammar.

    Raise :class:`LineError` for what BuildKit rejects; the grammar accepts
    every line, so a Lark error here means the grammar is wrong.
    """
    from lark.exceptions import LarkError

    view, keyword = _prepare(text)
    try:
        tree = get_parser(escape_token).parse(view)
    except LarkError as exc:
        column = getattr(exc, "column", "?")
        logger.debug("grammar rejected %r: %s", text, exc)
        raise LineError(
            f"failed to parse the instruction: minikit's grammar rejected column "
            f"{column} of the joined line",
            hint="please report this as a minikit bug, with the instruction",
        ) from exc
    form = tree.children[0]
    assert not isinstance(form, str), "the start rule always holds one form"
    shape = _ShapeBuilder(view).build(form)
    if keyword is not None:
        shape.keyword = keyword
    return shape


def _prepare(text: str) -> tuple[str, str | None]:
    """Return the byte view to parse, and the keyword to restore if it was replaced.

    A keyword outside ASCII that Go lowercases to a known keyword (a Kelvin
    sign in HEALTHCHECK, a dotted capital I) is given to the grammar in ASCII.
    """
    view = to_byte_view(text)
    if text.isascii():
        return view, None
    first = arguments.BLANKS.split(text, maxsplit=1)[0]
    lowered = go_lower(first)
    if first.isascii() or not lowered.isascii():
        return view, None
    return lowered + view[len(to_byte_view(first)) :], first


class _ShapeBuilder:
    """Turn one parse tree into a :class:`Shape`, reading token text from ``view``."""

    def __init__(self, view: str) -> None:
        self.view = view

    def build(self, tree: Tree[Any]) -> Shape:
        keyword_token = tree.children[0]
        shape = Shape(from_byte_view(str(keyword_token)))
        rest = self._split_flags(tree.children[1:], shape)
        handler = getattr(self, "_" + str(tree.data))
        handler(shape, rest)
        return shape

    def _split_flags(self, items: list[Any], shape: Shape) -> list[Any]:
        """Move FLAG tokens into ``shape.flags`` and return the argument items."""
        rest: list[Any] = []
        for item in items:
            if item is None:
                continue
            kind = getattr(item, "type", None)
            if kind == "FLAG":
                shape.flags.append(unquote_flag(str(item)))
            elif kind != "DASHDASH":
                rest.append(item)
        return rest

    def _text(self, item: Token | None) -> str:
        return trim_space(from_byte_view(str(item))) if item is not None else ""

    def _exec_form(self, shape: Shape, rest: list[Any]) -> None:
        shape.args, shape.json = arguments.maybe_json(self._text(_first(rest)))

    def _list_form(self, shape: Shape, rest: list[Any]) -> None:
        shape.args, shape.json = arguments.maybe_json_list(self._text(_first(rest)))

    def _string_form(self, shape: Shape, rest: list[Any]) -> None:
        text = self._text(_first(rest))
        shape.args = [text] if text else []

    def _unknown_form(self, shape: Shape, rest: list[Any]) -> None:
        shape.args = [""]

    def _words_form(self, shape: Shape, rest: list[Any]) -> None:
        tokens = _children(_first(rest))
        if tokens:
            text = from_byte_view(self.view[tokens[0].start_pos :])
            shape.args = arguments.blank_split(trim_space(text))

    def _nameval_form(self, shape: Shape, rest: list[Any]) -> None:
        words, text = self._quoted_words(_first(rest))
        keyword = go_lower(shape.keyword).upper()
        arguments.set_name_values(shape, words, text, keyword)

    def _arg_form(self, shape: Shape, rest: list[Any]) -> None:
        shape.args = self._quoted_words(_first(rest))[0]

    def _quoted_words(self, node: Tree[Any] | None) -> tuple[list[str], str]:
        tokens = _children(node)
        if not tokens:
            return [], ""
        words = [_rune_word(from_byte_view(str(token))) for token in tokens]
        return words, trim_space(from_byte_view(self.view[tokens[0].start_pos :]))

    def _health_form(self, shape: Shape, rest: list[Any]) -> None:
        tokens = [token for token in _children(_first(rest)) if token is not None]
        if not tokens or tokens[0].type != "HEALTH_TYPE":
            return
        command = ""
        if len(tokens) > 1:
            command = from_byte_view(str(tokens[1]))
        items, shape.json = arguments.maybe_json(command)
        shape.args = [from_byte_view(str(tokens[0])), *items]

    def _onbuild_form(self, shape: Shape, rest: list[Any]) -> None:
        body = _first(rest)
        inner = [child for child in _children(body) if child is not None]
        if not inner:
            return
        sub_tree = inner[0]
        sub = self.build(sub_tree)
        start = sub_tree.children[0].start_pos
        sub.original = trim_space(from_byte_view(self.view[start:]))
        shape.sub = sub


def _first(items: list[Any]) -> Any:
    return items[0] if items else None


def _children(node: Any) -> list[Any]:
    if node is None:
        return []
    return [child for child in node.children if child is not None]


def _rune_word(word: str) -> str:
    # parseWords decodes runes, so an undecodable byte becomes U+FFFD.
    from minikit.frontend.gotext import replace_invalid_bytes

    return replace_invalid_bytes(word)


def unquote_flag(token: str) -> str:
    """Return a flag's value the way ``extractBuilderFlags`` builds it.

    The token is in the byte view and includes its trailing blanks. Quotes
    are removed, and a backslash takes the next byte literally (a backslash
    at the very end is dropped).
    """
    word = _FLAG_BODY.match(token).group()  # type: ignore[union-attr]
    out: list[str] = []
    quote_char = ""
    index = 0
    while index < len(word):
        ch = word[index]
        index += 1
        if quote_char and ch == quote_char:
            quote_char = ""
            continue
        if not quote_char and ch in ("'", '"'):
            quote_char = ch
            continue
        if ch == "\\":
            if index >= len(word):
                continue
            ch = word[index]
            index += 1
        out.append(ch)
    return "".join(out)
