"""Shell wildcard patterns of ``${v#p}``, ``${v%p}`` and ``${v/p/r}``.

A pattern supports ``*`` (any string), ``?`` (one character) and the escapes
``\\*``, ``\\?`` and ``\\\\``. Bracket expressions are not supported, so ``[``
is literal, and any other escaped character is an error. This follows
BuildKit's ``shell/lex.go`` (``convertShellPatternToRegex``).
"""

from __future__ import annotations

import re

_ESCAPABLE = "*?\\"


class PatternError(ValueError):
    """A pattern with an escape that the shell lexer does not accept."""


def compile_pattern(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """Compile ``pattern`` into an equivalent regex.

    ``greedy`` picks the longest match for ``*``, else the shortest, and
    ``anchored`` makes the regex match only at the start of the value.
    """
    star = ".*" if greedy else ".*?"
    parts = ["^"] if anchored else []
    index = 0
    while index < len(pattern):
        ch = pattern[index]
        index += 1
        if ch == "*":
            parts.append(star)
        elif ch == "?":
            parts.append(".")
        elif ch == "\\":
            following = pattern[index] if index < len(pattern) else ""
            if following in ("}", "/"):
                continue
            if following == "" or following not in _ESCAPABLE:
                raise PatternError(f"invalid escape '\\{following or '�'}'")
            parts.append(re.escape(following))
            index += 1
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts))


def reverse_pattern(pattern: str) -> str:
    """Reverse ``pattern`` while keeping each ``\\x`` escape in order."""
    out = [""] * len(pattern)
    last = len(pattern) - 1
    index = 0
    while index <= last:
        ch = pattern[index]
        target = last - index
        if ch == "\\" and index != last:
            out[target - 1] = ch
            out[target] = pattern[index + 1]
            index += 2
        else:
            out[target] = ch
            index += 1
    return "".join(out)


def trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    """Remove the shortest (or, if ``greedy``, longest) prefix matching ``pattern``."""
    match = compile_pattern(pattern, greedy=greedy, anchored=True).match(value)
    if match is None:
        return value
    return value[match.end() :]


def trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    """Remove the shortest (or longest) suffix matching ``pattern``.

    A regex finds leftmost matches only, so both the value and the pattern
    are reversed and the suffix becomes a prefix.
    """
    reversed_value = value[::-1]
    return trim_prefix(reverse_pattern(pattern), reversed_value, greedy)[::-1]


def replace(pattern: str, value: str, replacement: str, replace_all: bool) -> str:
    """Replace the first (or every) greedy match of ``pattern`` in ``value``."""
    regex = compile_pattern(pattern, greedy=True, anchored=False)
    if not replace_all:
        match = regex.search(value)
        if match is None:
            return value
        return value[: match.start()] + replacement + value[match.end() :]
    return regex.sub(lambda match: expand_template(replacement, match), value)


def expand_template(template: str, match: re.Match[str]) -> str:
    """Expand ``template`` as Go's ``Regexp.ReplaceAllString`` does.

    ``$$`` is a dollar sign, ``$name`` or ``${name}`` is the named or numbered
    group (empty when the group does not exist, and the compiled patterns have
    only group 0), and any other ``$`` is literal.
    """
    out: list[str] = []
    index = 0
    while index < len(template):
        ch = template[index]
        if ch != "$" or index + 1 >= len(template):
            out.append(ch)
            index += 1
            continue
        if template[index + 1] == "$":
            out.append("$")
            index += 2
            continue
        name, end = _template_name(template, index + 1)
        if name is None:
            out.append("$")
            index += 1
            continue
        if name.isdigit() and int(name) == 0:
            out.append(match.group(0))
        index = end
    return "".join(out)


_NAME = re.compile(r"[A-Za-z0-9_]+")


def _template_name(template: str, start: int) -> tuple[str | None, int]:
    if template[start] == "{":
        found = _NAME.match(template, start + 1)
        if (
            found is None
            or found.end() >= len(template)
            or template[found.end()] != "}"
        ):
            return None, start
        return found.group(0), found.end() + 1
    found = _NAME.match(template, start)
    if found is None:
        return None, start
    return found.group(0), found.end()
