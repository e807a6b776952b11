"""Go text semantics that BuildKit's parser depends on, spelled out for Python.

Dockerfiles are decoded as UTF-8 with ``surrogateescape``, so an invalid byte
``0xNN`` becomes the lone surrogate ``U+DCNN`` and survives a round trip. Go's
``strings`` and ``unicode`` packages differ from Python's ``str`` methods in a
few places (which characters are spaces, how a string is quoted), and BuildKit
reads some parts of a line byte by byte. The helpers here return what Go returns.
"""

from __future__ import annotations

import re
import unicodedata

# unicode.IsSpace: the ASCII blanks, NEL, NBSP and the White_Space property.
GO_SPACES = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

# The same set as a regex class body, for patterns over decoded text.
GO_SPACE_CLASS = (
    "\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f"
    "\\u205f\\u3000"
)

_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
_NON_PRINTABLE_ASCII = re.compile('[\\x00-\\x1f\\x7f"\\\\]')
_SHORT_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}


def decode(data: bytes) -> str:
    """Decode Dockerfile bytes so that every invalid byte round-trips."""
    return data.decode("utf-8", "surrogateescape")


def encode(text: str) -> bytes:
    """Encode text produced by :func:`decode` back into the original bytes."""
    return text.encode("utf-8", "surrogateescape")


def trim_space(text: str) -> str:
    """Return ``strings.TrimSpace(text)``."""
    return text.strip(GO_SPACES)


def to_byte_view(text: str) -> str:
    """Return ``text`` with one character per UTF-8 byte (U+0000..U+00FF).

    BuildKit's flag scanner and HEALTHCHECK splitter index Go strings byte by
    byte and turn each byte into a rune, so a character outside ASCII becomes
    one Latin-1 character per byte. This view reproduces that.
    """
    if text.isascii():
        return text
    return encode(text).decode("latin-1")


def from_byte_view(view: str) -> str:
    """Invert :func:`to_byte_view` for a slice that the scanner kept as bytes."""
    if view.isascii():
        return view
    return decode(view.encode("latin-1"))


def replace_invalid_bytes(text: str) -> str:
    """Replace each undecodable byte by U+FFFD, as Go's rune decoding does."""
    if text.isascii():
        return text
    return _ESCAPED_BYTE.sub("\ufffd", text)


def go_lower(text: str) -> str:
    """Return ``strings.ToLower(text)`` for keyword matching.

    Go maps each rune on its own: U+0130 becomes ``i`` (Python gives two
    characters) and a final sigma stays ``σ`` (Python's ``str.lower`` looks at
    the neighbours).
    """
    if text.isascii():
        return text.lower()
    return "".join("i" if ch == "\u0130" else ch.lower() for ch in text)


def quote(text: str) -> str:
    """Return ``strconv.Quote(text)``: Go's double-quoted string literal."""
    if text.isascii() and not _NON_PRINTABLE_ASCII.search(text):
        return '"' + text + '"'
    return '"' + "".join(_quote_char(ch) for ch in text) + '"'


def _quote_char(ch: str) -> str:
    short = _SHORT_ESCAPES.get(ch)
    if short is not None:
        return short
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    if ch == " " or (code > 0x7F and _is_graphic(ch)) or 0x20 < code < 0x7F:
        return ch
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _is_graphic(ch: str) -> bool:
    # Go's unicode.IsPrint: letters, marks, numbers, punctuation and symbols.
    return unicodedata.category(ch)[0] in "LMNPS"


def quote_list(items: list[str]) -> str:
    """Return ``fmt.Sprintf("%q", items)`` for a ``[]string``."""
    return "[" + " ".join(quote(item) for item in items) + "]"
