"""``.dockerignore`` files and the pattern matching that filters the build context.

This follows moby/patternmatcher, which BuildKit uses. Patterns apply in
order and the last one that matches wins. A leading ``!`` marks an exception
that re-includes a path, even inside an excluded folder. ``*`` and ``?``
stay within one path element and ``**`` crosses any number of them, while
``[...]`` classes and ``\\`` escapes work as in Go's ``filepath.Match``. A
pattern that matches a folder also matches everything inside it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from minikit.errors import ContextError
from minikit.frontend.gotext import decode, trim_space

IGNORE_FILE = ".dockerignore"


def read_ignore_patterns(context_dir: Path, dockerfile: Path | None) -> list[str]:
    """Return the ignore patterns for a build.

    ``<dockerfile>.dockerignore`` next to the Dockerfile replaces
    ``.dockerignore`` in the context root when it exists. No file means no
    patterns. Raise ``ContextError`` for a file that exists but cannot be read.
    """
    candidates = []
    if dockerfile is not None:
        candidates.append(dockerfile.with_name(dockerfile.name + IGNORE_FILE))
    candidates.append(context_dir / IGNORE_FILE)
    for path in candidates:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise ContextError(
                f"failed to read ignore file {path}: {exc.strerror}",
                hint="check the file's permissions, or remove it",
            ) from None
        return parse_ignore_file(data)
    return []


def parse_ignore_file(data: bytes | str) -> list[str]:
    """Return the patterns of an ignore file's content.

    A line starting with ``#`` (at column 0 only) is a comment. Lines are
    trimmed and blank ones skipped. Each pattern is cleaned like Go's
    ``filepath.Clean`` and loses one leading ``/``.
    """
    text = decode(data) if isinstance(data, bytes) else data
    patterns = []
    for number, line in enumerate(text.split("\n")):
        line = line.rstrip("\r")
        if number == 0 and line.startswith("\ufeff"):
            line = line[1:]
        if line.startswith("#"):
            continue
        pattern = trim_space(line)
        if pattern == "":
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = trim_space(pattern[1:])
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append("!" + pattern if invert else pattern)
    return patterns


def go_clean(path: str) -> str:
    """Return Go's ``filepath.Clean(path)`` for slash-separated paths."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for element in path.split("/"):
        if element in ("", "."):
            continue
        if element != "..":
            parts.append(element)
        elif parts and parts[-1] != "..":
            parts.pop()
        elif not rooted:
            parts.append("..")
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


@dataclass
class _Pattern:
    text: str
    exclusion: bool
    regex: re.Pattern[str]
    elements: list[str]


class PatternMatcher:
    """An ordered list of ignore patterns; the last one that matches a path decides."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self._patterns: list[_Pattern] = []
        for raw in patterns:
            text = trim_space(raw)
            if text == "":
                continue
            text = go_clean(text)
            exclusion = text.startswith("!")
            if exclusion:
                if len(text) == 1:
                    raise ContextError(
                        'illegal exclusion pattern: "!"',
                        hint="write the path to re-include after the '!'",
                    )
                text = text[1:]
            regex = re.compile("^" + translate(text) + r"\Z", re.DOTALL)
            self._patterns.append(_Pattern(text, exclusion, regex, text.split("/")))

    @property
    def has_exclusions(self) -> bool:
        """Whether any pattern starts with ``!``."""
        return any(pattern.exclusion for pattern in self._patterns)

    def matches(self, relpath: str) -> bool:
        """Return whether ``relpath`` (slash-separated, relative) is excluded."""
        path = go_clean(relpath.lstrip("/"))
        parent = path.rpartition("/")[0] or "."
        parents = parent.split("/")
        matched = False
        for pattern in self._patterns:
            if pattern.exclusion != matched:
                continue
            match = pattern.regex.match(path) is not None
            if not match and parent != ".":
                match = any(
                    pattern.regex.match("/".join(parents[: index + 1]))
                    for index in range(len(parents))
                )
            if match:
                matched = not pattern.exclusion
        return matched

    def may_include_below(self, reldir: str) -> bool:
        """Return whether an exception could re-include a path inside ``reldir``.

        A walker can skip an excluded folder only when this is False. For
        patterns with ``**`` the result errs on the side of True.
        """
        elements = go_clean(reldir.lstrip("/")).split("/")
        return any(
            pattern.exclusion and _may_match_below(pattern.elements, elements)
            for pattern in self._patterns
        )


def _may_match_below(pattern_elements: list[str], dir_elements: list[str]) -> bool:
    for index, element in enumerate(dir_elements):
        if index >= len(pattern_elements):
            return True
        piece = pattern_elements[index]
        if "**" in piece:
            return True
        if not re.match("^" + translate(piece) + r"\Z", element, re.DOTALL):
            return False
    return True


def translate(pattern: str) -> str:
    """Translate an ignore pattern into a Python regex body.

    Raise ``ContextError`` for a pattern that Go's ``filepath.Match``
    rejects: an unclosed or empty ``[...]`` class, a bad range, or a trailing
    backslash.
    """
    out: list[str] = []
    index = 0
    while index < len(pattern):
        ch = pattern[index]
        index += 1
        if ch == "*":
            if pattern.startswith("*", index):
                index += 1
                if pattern.startswith("/", index):
                    index += 1
                out.append(".*" if index >= len(pattern) else "(?:.*/)?")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            if index >= len(pattern):
                raise _bad_pattern(pattern)
            out.append(re.escape(pattern[index]))
            index += 1
        elif ch == "[":
            body, index = _translate_class(pattern, index)
            out.append(body)
        else:
            out.append(re.escape(ch))
    return "".join(out)


def _translate_class(pattern: str, index: int) -> tuple[str, int]:
    negate = pattern.startswith("^", index)
    if negate:
        index += 1
    items: list[str] = []
    while True:
        if pattern.startswith("]", index) and items:
            return "[" + ("^" if negate else "") + "".join(items) + "]", index + 1
        low, index = _class_char(pattern, index)
        item = re.escape(low)
        if pattern.startswith("-", index):
            high, index = _class_char(pattern, index + 1)
            if high < low:
                raise _bad_pattern(pattern)
            item += "-" + re.escape(high)
        items.append(item)


def _class_char(pattern: str, index: int) -> tuple[str, int]:
    if index >= len(pattern) or pattern[index] in "-]":
        raise _bad_pattern(pattern)
    if pattern[index] == "\\":
        index += 1
        if index >= len(pattern):
            raise _bad_pattern(pattern)
    return pattern[index], index + 1


def _bad_pattern(pattern: str) -> ContextError:
    return ContextError(
        f"invalid ignore pattern {pattern!r}: syntax error in pattern",
        hint="close every '[' with ']' and escape a literal '[' or '\\' with '\\'",
    )
